"""The offline world: recordings of the real APIs, the replay server, and the demo."""
