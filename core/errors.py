"""The errors a source's answer can raise, shared by the transports and the parsers.

They live here, not in a transport, because the parsers of every source raise them too: a
parser names the source, the field and the value it cannot accept, whatever carried it.
"""

from typing import Any


class SourceError(RuntimeError):
    """A source could not be reached or kept answering with an error."""


class SourceTimeout(SourceError):
    """A source gave no answer to one request in time: the client's read timeout, or HTTP
    408, 504 or 524 from the server or a gateway in front of it. The same request again
    would most likely time out again; a smaller one may not."""


class SourceDataError(ValueError):
    """A source answered, but a field holds a value the pipeline cannot accept."""

    def __init__(self, source: str, field: str, value: Any, reason: str):
        self.source, self.field, self.value = source, field, value
        super().__init__(f"{source}: field {field!r} = {value!r}: {reason}")
