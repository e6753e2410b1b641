"""`make bench` keeps working between its runs: a small dense chain, one benchmark on it, and
RESULTS.md written from its result. Nothing here is timed (benchmarks are not tests); the
benchmark itself checks every closing block it finds against a scan of every header (and,
on the mainnet-shaped header model, against the model's own truth)."""

from bench import closing_blocks, densechain
from bench.report import Section, earlier, render


def test_closing_block_benchmark_on_a_small_dense_chain(monkeypatch):
    monkeypatch.setattr(densechain, "DAYS", 2)
    monkeypatch.setattr(densechain, "TRANSFERS", 500)
    densechain.shared.cache_clear()
    try:
        section = closing_blocks.run(runs=1)
    finally:
        densechain.shared.cache_clear()  # later users get a chain of the default size
    dense, yesterday, start_2021 = section.lines
    # 2 days of 7,200 blocks: a binary search needs ~14 requests a day, ours a few in all
    assert dense.met and dense.ours <= 3 and dense.baseline >= 10
    # the mainnet-shaped model through geth: a cold start for yesterday in at most 3
    # requests (the search before the anchor took 40), one for 2021-01-01 in a few
    assert yesterday.met and yesterday.ours <= 3 and yesterday.baseline >= 30
    assert start_2021.met is None and start_2021.ours < start_2021.baseline
    section.name = "closing_blocks"
    results = render([section], {}, runs=1, seconds=1.0)
    assert "| closing blocks | requests per day, 2 consecutive days |" in results
    assert (
        "| closing blocks | cold start for yesterday (2 days), mainnet-shaped model via "
        "geth | 3 requests |"
    ) in results
    assert "| met |" in results and "**not met**" not in results
    assert "a model, not recorded data" in results

    # `--only` another benchmark: this section is carried over, its rows and date kept
    [kept] = earlier(results).values()
    assert kept.name == "closing_blocks" and kept.measured and kept.title == section.title
    assert len(kept.summary_rows) == 3 and kept.body == section.body.strip()
    again = render([Section("Other", name="marts"), kept], {}, runs=1, seconds=1.0)
    assert (
        f"*Not re-run by the last `python -m bench`: these results were measured "
        f"{kept.measured}.*" in again
    )
    assert all(row in again for row in kept.summary_rows)
    assert earlier(again)["closing_blocks"].body == kept.body  # carried again unchanged
