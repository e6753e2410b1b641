"""`make bench` keeps working between its runs: a small dense chain, one benchmark on it, and
RESULTS.md written from its result. Nothing here is timed (benchmarks are not tests); the
benchmark itself checks every closing block it finds against a scan of every header (and,
on the mainnet-shaped header model, against the model's own truth), and every extractor's
rows against the planted transfers and against ours'. The extraction report is tested on a
made-up record: its target is judged at the labelled share bounding mainnet's."""

import random

import pytest

from bench import closing_blocks, densechain, extraction
from bench.report import ROOT, Section, earlier, render


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


def test_the_dense_chain_carries_a_label_set_per_share():
    """Mainnet-shaped labels: every set as large as the label file, each touched by its
    share of the transfers (the 100 % set by all of them, some between two of its wallets)."""
    wallets = [f"0x{i:040x}" for i in range(1, 41)]
    sets = densechain.label_sets(wallets)
    assert sorted(sets, reverse=True) == list(densechain.SHARES) and sets[100] == wallets
    assert all(len(v) == len(wallets) for v in sets.values())
    assert len({a for v in sets.values() for a in v}) == len(wallets) * len(sets)  # disjoint
    planned = densechain._transfers(random.Random(1), 20_000, sets)
    for share, addresses in sets.items():
        members = set(addresses)
        touched = sum(s in members or d in members for s, d, _ in planned) / len(planned)
        assert abs(touched - share / 100) < 0.1 * share / 100 + 0.002, share
    label_file = set(sets[100])
    assert any(s in label_file and d in label_file for s, d, _ in planned)


class _Quiet:
    def note(self) -> str:
        return "Other processes kept 0.0 of the machine's 2 cores busy."


def _runs(seconds: float, n: int, **counts) -> list[dict]:
    run = {"startup_s": 1.0, "extraction_s": seconds, "wall_s": seconds + 1.5, "rss_mib": 300}
    return [{**run, "version": "1.0", "n": n, **counts}]


def test_the_extraction_report_judges_the_target_at_the_mainnet_bound():
    """The sweep through geth: the target is met at the bound (50 %) where ours is at least
    as fast as cryo there, whatever happens at 100 %; the table shows every share."""
    shares = (100, 50, 10)
    geth = {"http": 3, "calls": {"eth_getLogs": 8}, "refused": {}}
    ours_geth = {
        100: _runs(6.0, 1000, http=3, calls={"eth_getLogs": 13}, refused={"response": 5}),
        50: _runs(2.0, 500, **geth),
        10: _runs(1.0, 100, **geth),
    }
    baselines = {
        "ethereum-etl": _runs(20.0, 1000, http=300, calls={"eth_getFilterLogs": 100}, refused={}),
        "cryo": _runs(2.5, 1000, http=3, calls={"eth_getLogs": 2}, refused={}),
        "cryo, defaults": _runs(3.0, 10, http=9, calls={"eth_getLogs": 9}, refused={}),
    }
    m = extraction.Extraction(
        first=1,
        last=1000,
        days=1,
        addresses=40,
        transfers=1000,
        labelled={100: 1000, 50: 500, 10: 100},
        filters=8,
        ours_geth=ours_geth,
        ours_anvil={s: _runs(0.5 * s / 50 + 0.2, s * 10) for s in shares},
        geth=baselines,
        refused_outright={},
        anvil={name: _runs(1.0, 1000) for name in baselines},
        node={
            "ours": {s: (0.9, s * 10**5) for s in shares},
            "cryo": (0.8, 10**7),
            "variants": {"per token": (16, 1.8, 100), "1,000 per position": (4, 0.6, 100)},
        },
    )
    section = extraction.report(m, runs=1, other=_Quiet())
    target = next(line for line in section.lines if line.target == "at least as fast as cryo")
    assert target.met and (target.ours, target.baseline) == (2.0, 2.5) and "50 %" in target.metric
    assert "**At least as fast as cryo at 50 % labelled is met**" in section.body
    assert "slower at 100 %" in section.body and "rpc/handler.go" in section.body
    assert "| 10 % | 100 (10.0%) | 3 | 8 | none | 1.00 | 2.50 | 20.00 | 2.5x | yes |" in (
        section.body
    )
    section.name = "extraction"
    assert "| at least as fast as cryo | met |" in render([section], {}, runs=1, seconds=1.0)


@pytest.mark.slow  # ~40 s: 10 tool processes
@pytest.mark.skipif(
    not all((ROOT / f".bench/{venv}/bin/python").exists() for venv in ("cryo", "etl")),
    reason="the baselines' venvs (.bench/cryo, .bench/etl) are installed by make bench",
)
def test_extraction_benchmark_on_a_small_dense_chain(monkeypatch):
    """Every tool, through geth and straight to anvil, returns the same rows at every share
    (the benchmark checks them and fails otherwise); nothing here is judged on time."""
    monkeypatch.setattr(densechain, "DAYS", 1)
    monkeypatch.setattr(densechain, "TRANSFERS", 300)
    monkeypatch.setattr(densechain, "SHARES", (100, 10))
    densechain.shared.cache_clear()
    try:
        section = extraction.run(runs=1)
    finally:
        densechain.shared.cache_clear()  # later users get a chain of the default size
    assert "| 100 % | 300 (100.0%) |" in section.body and "| 10 % |" in section.body
    requests = next(line for line in section.lines if line.unit == "requests")
    # one batch against one per call, plus the first block's header when that block holds no
    # token log (the receipts check: EvmRpc.check_logs_held)
    assert requests.ours <= 2 and requests.baseline > 10


def test_the_floor_location_is_the_real_graph_with_no_op_steps():
    """bench/backfill.py's floor is Dagster alone only if the no-op location plans the same
    steps, events and partitions as the real one, and runs no pipeline code."""
    import dagster as dg

    from bench import null_location
    from pipelines.definitions import defs

    def graph(definitions: dg.Definitions) -> dict:
        repository = definitions.get_repository_def()
        job = repository.get_job("daily_refresh")
        return {
            "assets": {
                key: (a.op.name, a.partitions_def, a.op.pool, a.can_subset)
                for key, a in repository.assets_defs_by_key.items()
            },
            "checks": {
                key: (c.op.name, c.op.pool, spec.blocking)
                for key, c in repository.asset_checks_defs_by_key.items()
                for spec in [c.get_spec_for_check_key(key)]
            },
            "steps": sorted(job.graph.node_names()),
            "executor": job.executor_def.name,
            "partitions": job.partitions_def,
        }

    real, floor = graph(defs), graph(null_location.defs)
    assert floor == real
    assert len(real["steps"]) > 90 and len(real["checks"]) > 300

    result = dg.materialize(
        [*null_location.defs.assets, *null_location.defs.asset_checks],
        partition_key="2024-01-02",
        instance=dg.DagsterInstance.ephemeral(),
        selection=dg.AssetSelection.groups("ingest"),
    )
    # No resource, no warehouse, no network: nothing of ours ran, and every check passed.
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert evaluations and all(e.passed for e in evaluations)


def test_the_redesigned_floor_graphs_keep_every_asset_and_check():
    """bench/backfill.py measures what two redesigns would save Dagster: each is only a
    measure of that redesign if it keeps every asset (and, folding checks into steps, every
    check) and runs to the end."""
    import dagster as dg

    from bench import null_location
    from pipelines.definitions import defs

    def graph(definitions: dg.Definitions):
        repository = definitions.get_repository_def()
        checks = repository.asset_graph.asset_check_keys
        return repository, set(repository.assets_defs_by_key), checks

    real, real_assets, real_checks = graph(defs)
    steps, steps_assets, steps_checks = graph(null_location.fewer_steps())
    assert steps_assets == real_assets and steps_checks == real_checks
    n_steps = len(steps.get_job("daily_refresh").graph.node_names())
    assert n_steps < len(real.get_job("daily_refresh").graph.node_names()) / 3
    # Every model in one step, and a table's checks with it.
    marts = dg.AssetKey(["marts", "exchange_reserves_daily"])
    step = steps.assets_defs_by_key[marts]
    assert (
        step.op.name == "models"
        and dg.AssetKey(["staging", "stg_evm__exchange_reserves"]) in step.keys
    )
    assert {k.asset_key for k in step.check_keys} >= {marts}

    fewer, fewer_assets, fewer_checks = graph(null_location.fewer_checks())
    assert fewer_assets == real_assets
    blocking = {
        (key.asset_key, spec.blocking)
        for key, c in real.asset_checks_defs_by_key.items()
        for spec in [c.get_spec_for_check_key(key)]
    }
    assert {(key.asset_key, key.name == "blocking") for key in fewer_checks} == blocking and len(
        fewer_checks
    ) < len(real_checks) / 3

    # Each runs to the end, materialising every asset and evaluating every check it has.
    for redesigned, checks in [
        (null_location.fewer_steps, real_checks),
        (null_location.fewer_steps_and_checks, fewer_checks),
    ]:
        result = (
            redesigned()
            .get_job_def("daily_refresh")
            .execute_in_process(partition_key="2024-01-02", instance=dg.DagsterInstance.ephemeral())
        )
        assert result.success
        assert {e.asset_key for e in result.get_asset_materialization_events()} == real_assets
        evaluations = result.get_asset_check_evaluations()
        assert len(evaluations) == len(checks) and all(e.passed for e in evaluations)


def test_the_backfill_report_states_what_each_redesign_saves():
    from bench import backfill
    from bench.report import ProcessCost

    def cost(seconds: float, mib: float = 200.0) -> ProcessCost:
        return ProcessCost(0, seconds, mib)

    costs = backfill.BackfillCosts(
        days=730,
        sample=backfill.sample_days(730),
        single=cost(50.0, 860.0),
        per_day=[cost(14.0)] * backfill.SAMPLE_DAYS,
        rest=cost(27.0),
        daily=cost(27.5, 850.0),
        floor=cost(7.5, 197.0),
        redesigns={backfill.STEPS: cost(6.9), backfill.CHECKS: cost(5.3), backfill.BOTH: cost(4.4)},
        imports={backfill.DEFS: cost(1.2, 144.0), backfill.GX: cost(4.0, 359.0)},
    )
    section = backfill.report(costs)
    lines = {line.key: line for line in section.lines}
    assert lines["backfill.daily_redesigned_floor_s"].ours == 4.4
    assert lines["backfill.daily_redesigned_floor_s"].baseline == 7.5
    assert lines["backfill.gx_import_mib"].ours == 359.0
    body = " ".join(section.body.split())
    assert "yet 6.9 s against 7.5 s" in body and "Both: 4.4 s, leaving 3.6 s" in body
    # 197 MiB of the no-op run + (359 - 144) MiB that GX adds to a loaded process.
    assert "holds about 412 MiB before it reads a row" in body


def test_a_location_names_its_definitions_for_the_cli():
    from sandbox.dagster_cli import job_day_command

    command = job_day_command("daily_refresh", "2022-12-31", "bench.null_location:fewer_steps")
    assert command[command.index("-m", 3) :][:4] == [
        "-m",
        "bench.null_location",
        "-a",
        "fewer_steps",
    ]
    assert "-a" not in job_day_command("daily_refresh", "2022-12-31")
