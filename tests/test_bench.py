"""`make bench` keeps working between its runs: a small dense chain, one benchmark on it, and
RESULTS.md written from its result. Nothing here is timed (benchmarks are not tests); the
benchmark itself checks every closing block it finds against a scan of every header."""

from bench import closing_blocks, densechain
from bench.report import render


def test_closing_block_benchmark_on_a_small_dense_chain(monkeypatch):
    monkeypatch.setattr(densechain, "DAYS", 2)
    monkeypatch.setattr(densechain, "TRANSFERS", 500)
    densechain.shared.cache_clear()
    try:
        section = closing_blocks.run(runs=1)
    finally:
        densechain.shared.cache_clear()  # later users get a chain of the default size
    [line] = section.lines
    # 2 days of 7,200 blocks: a binary search needs ~14 requests a day, ours a few in all
    assert line.met and line.ours <= 3 and line.baseline >= 10
    results = render([section], {}, runs=1, seconds=1.0)
    assert "| closing blocks | requests per day, 2 consecutive days |" in results
    assert "| met |" in results
