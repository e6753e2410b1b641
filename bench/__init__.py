"""Benchmarks (`make bench`, `python -m bench`): what a backfill costs in requests, time and
memory, each against a baseline measured in the same run; results in bench/RESULTS.md."""
