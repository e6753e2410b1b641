"""`make doctor`: the preflight (pipelines/doctor.py) against every node profile of the sandbox
RPC proxy, one planted chain shared by all (sandbox/doctor.py: 3 days, 200 blocks after them),
and against a mainnet-shaped header model for what a 2021.. window costs.

Each run must say, per ingest asset, what the pipeline itself would do against that node
(tests/ingest/test_node_profiles.py runs the assets there), with the probe that shows why,
within ~20 HTTP requests.
"""

import datetime as dt
import socket
import time

import pytest

from pipelines import doctor
from sandbox.doctor import END, START, doctor_sandbox, pruned_cutoff
from sandbox.headers import HeaderNode
from sandbox.rpc_proxy import RpcProxy
from sandbox.world import sandbox_environment

BUDGET = 20
ON_CHAIN = set(doctor.ON_CHAIN_ASSETS)
HTTP = set(doctor.HTTP_ASSETS)
# Read by the doctor and set by a developer's shell, perhaps: never from outside a test.
_CLEARED = ["STABLEFLOW_ETHEREUM_BALANCES", "COINGECKO_API_KEY", "COINGECKO_API_KEY_HEADER"]


@pytest.fixture(scope="module")
def world():
    with doctor_sandbox(START, END, "geth") as (env, truth, proxies):
        yield env, truth, proxies["ethereum"]


@pytest.fixture
def run(world, monkeypatch):
    """The doctor against the shared chain through `profile`, with the sandbox environment
    (plus `extra`) as the process environment, the way `make doctor` runs it."""
    env, _, proxy = world

    def run(profile, pruned_below=None, extra=None, nitro_genesis=None, **rpc_options):
        proxy.use(profile, pruned_below=pruned_below, nitro_genesis=nitro_genesis)
        proxy.reset_counts()
        for name in _CLEARED:
            monkeypatch.delenv(name, raising=False)
        for name, value in {**env, **(extra or {})}.items():
            monkeypatch.setenv(name, value)
        report = doctor.diagnose(rpc_options=rpc_options)
        assert report.total_requests <= BUDGET, report.requests
        if report.endpoints[0][1].startswith(f"STABLEFLOW_ETHEREUM_RPC_URL = {proxy.url}"):
            assert report.requests["ethereum rpc"] == proxy.http_requests  # all counted
        return report

    return run


def flow_filters() -> int:
    """eth_getLogs filters of the flows scan: 2 per chunk of labelled addresses, both tokens."""
    from assets.ingest.evm.extract import transfer_filters
    from assets.ingest.labels import load_labels
    from core.chains import CHAINS

    return len(transfer_filters(CHAINS[0], load_labels().addresses(CHAINS[0].name)))


def runs(report) -> set[str]:
    return {v.asset for v in report.verdicts if v.runs}


def status(report, check) -> str:
    return report.row(check).status


def test_the_doctor_judges_every_ingest_asset():
    from assets.ingest import ingest_assets

    # reference_data reads no endpoint (the seeds and chains.yaml): nothing to judge
    assert set(doctor.ASSETS) == {
        a.node_def.name.removeprefix("raw__") for a in ingest_assets if a.partitions_def
    }


@pytest.mark.parametrize("profile", ["anvil", "geth", "erigon", "reth", "infura"])
def test_nodes_that_serve_the_window_run_everything(run, profile):
    report = run(profile)
    assert report.exit_code == 0 and runs(report) == ON_CHAIN | HTTP
    for check in [
        "chain id",
        "batch size",
        "finalized tag",
        "closing blocks",
        "token contracts",
        "archive state",
        "eth_call state override",
        "eth_call size",
        "values per topic position",
        "log range",
        "pruned history",
        "eth_getLogs calls",
    ]:
        assert status(report, f"ethereum {check}") == "ok", report.row(f"ethereum {check}")
    assert "1,000: accepted" in report.row("ethereum values per topic position").result
    assert "learnt while running" in report.row("ethereum result cap").result
    assert (
        "a batch of 100 calls answered in one request" in report.row("ethereum batch size").result
    )


def test_a_node_timing_out_the_largest_balance_call_is_a_warning_naming_its_timeout(run):
    """slow-state times out eth_calls of over 1,000 balances: the reads halve their calls
    until they fit (tests/ingest/test_node_profiles.py), so it warns and blocks nothing."""
    from assets.ingest.evm.extract import MAX_PAIRS_PER_CALL
    from assets.ingest.labels import load_labels

    report = run("slow-state")
    size = report.row("ethereum eth_call size")
    labelled = len(load_labels().addresses("ethereum"))
    balances = 2 * min(labelled, MAX_PAIRS_PER_CALL // 2)
    assert size.status == "warn" and f"{balances:,} balances in one call" in size.result
    assert "execution aborted (timeout = 5s)" in size.result
    assert "--rpc.evmtimeout" in size.change and "--rpc.gascap" in size.change
    assert status(report, "ethereum eth_call state override") == "ok"
    assert report.exit_code == 0 and runs(report) == ON_CHAIN | HTTP


def test_a_full_node_has_no_archive_state_and_names_the_logs_setting(run):
    report = run("full-node")
    archive = report.row("ethereum archive state")
    assert archive.status == "fail"
    assert "not an archive node" in archive.result and "missing trie node" in archive.result
    assert "STABLEFLOW_ETHEREUM_BALANCES=logs" in archive.change
    # state at a recent block is there: the reader's state override works
    assert status(report, "ethereum eth_call state override") == "ok"
    assert runs(report) == ON_CHAIN - {"evm_token_supply", "evm_exchange_reserves"} | HTTP
    for asset in ["evm_token_supply", "evm_exchange_reserves"]:
        verdict = report.verdict(asset)
        assert "not an archive node" in verdict.why
        assert "STABLEFLOW_ETHEREUM_BALANCES=logs" in verdict.change
    assert report.exit_code == 1


def test_a_nitro_node_asked_for_state_before_its_genesis_names_the_classic_node(run):
    # every block of the sandbox chain below the floor, as 2021 is on Arbitrum One
    report = run("arbitrum-nitro", nitro_genesis=10**9)
    archive = report.row("ethereum archive state")
    assert archive.status == "fail"
    assert "Nitro genesis" in archive.result and "not an archive node" not in archive.result
    assert "--execution.rpc.classic-redirect" in archive.change
    assert "STABLEFLOW_ETHEREUM_BALANCES=logs" in archive.change
    assert "archive node (or" not in archive.change  # an archive Nitro node would not help
    for asset in ["evm_token_supply", "evm_exchange_reserves"]:
        assert not report.verdict(asset).runs


def test_a_full_node_reading_balances_from_logs_runs_everything(run):
    report = run("full-node", extra={"STABLEFLOW_ETHEREUM_BALANCES": "logs"})
    assert report.exit_code == 0, [v for v in report.verdicts if not v.runs]
    assert status(report, "ethereum archive state") == "warn"
    assert "rewind from the final block" in report.row("ethereum eth_getLogs calls").result
    assert (
        "ethereum balances",
        "supply and balances from logs (STABLEFLOW_ETHEREUM_BALANCES)",
    ) in report.endpoints


def test_pruned_history_inside_the_window_fails_every_on_chain_asset(run, world):
    _, truth, _ = world
    report = run("pruned", pruned_below=pruned_cutoff(truth, "ethereum"))
    pruned = report.row("ethereum pruned history")
    assert pruned.status == "fail" and "4444" in pruned.result
    assert "--history.chain all" in pruned.change and "STABLEFLOW_START_DATE" in pruned.change
    # the closing blocks of the window are gone too, so even the state reads cannot start
    assert status(report, "ethereum closing blocks") == "fail"
    assert runs(report) == HTTP
    for asset in ON_CHAIN:
        assert "pruned history" in report.verdict(asset).why
        assert "STABLEFLOW_START_DATE" in report.verdict(asset).change


def test_pruned_receipts_answered_as_no_logs_stop_the_log_scans_only(run, world):
    """reth with receipt pruning serves the window's headers but answers its logs with []
    (reth#21122): the first block's logsBloom names a token, its logs are empty. The log
    scans cannot run; the state reads, which the node answers, can."""
    _, truth, _ = world
    report = run("reth-full", pruned_below=pruned_cutoff(truth, "ethereum"))
    pruned = report.row("ethereum pruned history")
    assert pruned.status == "fail" and "receipts are pruned" in pruned.result
    assert "archive node" in pruned.change and "STABLEFLOW_START_DATE" in pruned.change
    for asset in ("evm_issuance", "evm_exchange_flows"):
        assert "no receipts" in report.verdict(asset).why
    for asset in ("evm_day_blocks", "evm_token_supply", "evm_exchange_reserves"):
        assert report.verdict(asset).runs


def test_alchemy_free_states_its_10_block_range_and_the_calls_it_implies(run):
    report = run("alchemy-free")
    log_range = report.row("ethereum log range")
    assert "at most 10 blocks a call" in log_range.result and log_range.status == "warn"
    assert report.exit_code == 0  # a handful of calls, well within max_log_requests
    calls = report.row("ethereum eth_getLogs calls")
    # 3 days of ~2 blocks fit one 10-block range: one call per filter
    assert calls.status == "ok" and f"exchange_flows ~{flow_filters()} over" in calls.result
    # the same node with a budget standing for mainnet's 20,000 calls over months
    report = run("alchemy-free", max_log_requests=5)
    assert runs(report) == ON_CHAIN - {"evm_exchange_flows"} | HTTP
    flows = report.verdict("evm_exchange_flows")
    assert f"at most 10 blocks a call: ~{flow_filters()} calls" in flows.why
    assert "max_log_requests 5" in flows.why and "wider log ranges" in flows.change


def test_a_node_of_another_chain_fails_everything_on_chain_at_once(run):
    report = run("wrong-chain")
    chain_id = report.row("ethereum chain id")
    assert chain_id.status == "fail" and "137, but chains.yaml says 1" in chain_id.result
    assert runs(report) == HTTP
    for asset in ON_CHAIN:
        assert "serves chain id 137" in report.verdict(asset).why
        assert "STABLEFLOW_ETHEREUM_RPC_URL" in report.verdict(asset).change
    assert report.requests["ethereum rpc"] == 1  # nothing else is asked of another network


def test_a_dead_or_missing_endpoint_fails_fast(run, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    began = time.monotonic()
    report = run("geth", extra={"STABLEFLOW_ETHEREUM_RPC_URL": dead})
    assert time.monotonic() - began < 15
    assert status(report, "ethereum endpoint") == "fail" and runs(report) == HTTP
    assert report.requests["ethereum rpc"] <= 4
    monkeypatch.delenv("STABLEFLOW_ETHEREUM_RPC_URL")
    doctor_env = doctor.diagnose()
    assert "STABLEFLOW_ETHEREUM_RPC_URL is not set" in doctor_env.row("ethereum endpoint").result
    assert {v.asset for v in doctor_env.verdicts if v.runs} == HTTP


def test_a_keyless_coingecko_window_older_than_a_year_will_not_run(run, monkeypatch):
    from assets.ingest import coingecko

    # as on the public host today: closes from the window's second day on
    monkeypatch.setattr(coingecko, "earliest_day", lambda url, today: START + dt.timedelta(1))
    report = run("geth")
    assert runs(report) == ON_CHAIN | HTTP - {"coingecko_market_daily"}
    verdict = report.verdict("coingecko_market_daily")
    assert f"serves closes from {START + dt.timedelta(1)} on" in verdict.why
    assert f"STABLEFLOW_START_DATE={START + dt.timedelta(1)}" in verdict.change
    assert "x-cg-pro-api-key" in verdict.change
    assert "no key: public API" in report.row("coingecko key tier").result
    assert status(report, "coingecko reach") == "ok"  # what the tier does serve


def test_the_table_shows_checks_verdicts_and_cost_but_no_secret(run, world, capsys):
    _, _, proxy = world
    key, cg_key = "0123456789abcdef0123456789abcdef", "cg-demo-secret-4242"
    report = run(
        "full-node",
        extra={"STABLEFLOW_ETHEREUM_RPC_URL": f"{proxy.url}/v3/{key}", "COINGECKO_API_KEY": cg_key},
    )
    assert "demo key" in report.row("coingecko key tier").result
    text = doctor.render(report)
    assert key not in text and cg_key not in text
    assert f"STABLEFLOW_ETHEREUM_RPC_URL = {proxy.url}/***" in text
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("check "))
    assert lines[header].split() == ["check", "result", "status", "what", "to", "change"]
    assert any(line.startswith("ethereum archive state") and " fail " in line for line in lines)
    assert any(
        line.startswith("evm_exchange_reserves") and "will not run" in line for line in lines
    )
    assert any(line.startswith("fred_series_daily") and "will run" in line for line in lines)
    assert f"requests: {report.total_requests} HTTP requests in all" in text
    assert lines[-1] == (
        "verdict: 2 of 10 assets will not run: evm_token_supply, evm_exchange_reserves"
    )
    assert max(len(line) for line in lines if not line.startswith(("requests", "verdict"))) <= 130
    # the command line prints the same and exits 1 when an asset will not run
    assert doctor.main([]) == 1
    printed = capsys.readouterr().out
    assert "will not run" in printed and key not in printed and cg_key not in printed


@pytest.mark.parametrize("profile, span", [("alchemy-free", 10), ("infura", 10_000)])
def test_a_mainnet_shaped_chain_from_2021_stays_within_the_budget(
    replay_server, monkeypatch, profile, span
):
    """26 million headers (sandbox/headers.py, a node of headers only) behind a provider's
    profile: the closing blocks of 2021-01-01 come from the anchor in a few requests; 10-block
    log ranges over six years need millions of calls, which the doctor says before any run
    tries, and Infura's 10,000 blocks fit max_log_requests."""
    now = dt.datetime(2026, 11, 30, 1, 30, tzinfo=dt.UTC)
    with (
        HeaderNode(int(now.timestamp())) as headers,
        RpcProxy(headers.url, profile=profile) as proxy,
    ):
        env = sandbox_environment(replay_server.url, {"ethereum": proxy.url})
        env |= {"STABLEFLOW_START_DATE": "2021-01-01", "STABLEFLOW_END_DATE": "2026-11-28"}
        for name in _CLEARED:
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        report = doctor.diagnose()
    assert report.total_requests <= BUDGET and report.requests["ethereum rpc"] <= 10
    closing = report.row("ethereum closing blocks")
    assert closing.status == "ok" and "2021-01-01: block 11,6" in closing.result
    assert f"at most {span:,} blocks a call" in report.row("ethereum log range").result
    assert report.verdict("evm_day_blocks").runs  # headers are all it needs
    calls = report.row("ethereum eth_getLogs calls")
    assert (calls.status == "fail") == (span == 10)
    if span == 10:
        for asset in ["evm_issuance", "evm_exchange_flows"]:
            verdict = report.verdict(asset)
            assert not verdict.runs
            assert "at most 10 blocks a call" in verdict.why
            assert "max_log_requests 20,000" in verdict.why


def test_a_balances_setting_the_pipeline_rejects_stops_every_asset(run):
    report = run("geth", extra={"STABLEFLOW_ETHEREUM_BALANCES": "archive"})
    assert status(report, "ethereum balances setting") == "fail"
    assert runs(report) == set()  # pipelines/definitions.py fails on it when it loads
    assert "STABLEFLOW_ETHEREUM_BALANCES='archive'" in report.verdict("fred_series_daily").why


def test_a_token_address_without_code_fails_every_on_chain_asset(run, monkeypatch):
    """A configured token address with no contract at the latest block (a typo in
    core/chains.yaml) is no token deployed later: nothing on chain can read it."""
    import dataclasses

    from core import chains

    ethereum = chains.CHAINS[0]
    wrong = "0x000000000000000000000000000000000000dEaD"
    tokens = (dataclasses.replace(ethereum.tokens[0], address=wrong), *ethereum.tokens[1:])
    monkeypatch.setattr(
        chains, "CHAINS", (dataclasses.replace(ethereum, tokens=tokens), *chains.CHAINS[1:])
    )
    report = run("geth")
    row = report.row("ethereum token contracts")
    assert row.status == "fail" and wrong in row.result and "core/chains.yaml" in row.change
    assert runs(report) == HTTP and report.exit_code == 1


def test_a_token_deployed_after_the_window_start_reads_as_zero_there(run, monkeypatch):
    """totalSupply() answering no data at the first closing block, from a token configured as
    deployed after the chain's anchor (Arbitrum's native USDC in 2023), is a token deployed
    later: the reads take it as 0 there (tests/ingest/test_evm.py), so it is no failure. The
    same from a token older than the anchor, or from every token, is never taken for zero:
    the state reads would fail."""
    import dataclasses

    from core import chains

    probe = doctor._probe_batch

    def deployed_later(symbols):
        def answers(p, b):
            return probe(p, b) | {f"supply {s}": "0x" for s in symbols}

        return answers

    monkeypatch.setattr(doctor, "_probe_batch", deployed_later(["USDC"]))
    report = run("geth")  # Ethereum's USDC is older than the anchor
    assert status(report, "ethereum archive state") == "fail"
    ethereum = chains.CHAINS[0]
    tokens = tuple(
        dataclasses.replace(t, deployed_after_anchor=t.symbol == "USDC") for t in ethereum.tokens
    )
    monkeypatch.setattr(
        chains, "CHAINS", (dataclasses.replace(ethereum, tokens=tokens), *chains.CHAINS[1:])
    )
    report = run("geth")
    row = report.row("ethereum archive state")
    assert row.status == "ok" and "USDC not deployed yet, read as 0" in row.result
    assert runs(report) == ON_CHAIN | HTTP

    monkeypatch.setattr(doctor, "_probe_batch", deployed_later(["USDT", "USDC"]))
    report = run("geth")
    row = report.row("ethereum archive state")
    assert row.status == "fail" and "returned no data" in row.result
    assert "STABLEFLOW_START_DATE" in row.change and "archive node" in row.change
    assert runs(report) == ON_CHAIN - set(doctor.STATE_ASSETS) | HTTP


def test_a_node_answering_old_blocks_from_its_latest_state_is_a_warning(run):
    """Erigon has answered old blocks' state from its latest state, no error
    (erigontech/erigon#4149, #12977): every token's totalSupply() at the window's first
    closing block equals today's. The doctor warns (a quiet chain could do the same); the
    reads' reconciliation checks fail such days (tests/ingest/test_node_profiles.py)."""
    import dataclasses

    from sandbox.rpc_proxy import PROFILES

    assert status(run("geth"), "ethereum archive state") == "ok"  # the planted supply moves
    report = run(dataclasses.replace(PROFILES["erigon-latest-state"], state_blocks=128))
    row = report.row("ethereum archive state")
    assert row.status == "warn" and "from its latest state" in row.result
    assert "archive node" in row.change and report.exit_code == 0


def test_a_node_ignoring_state_overrides_stops_the_supply_read_too(run, monkeypatch):
    """evm_token_supply runs the BalanceReader for the chain's noncirculating wallets
    (sql/seeds/noncirculating_wallets.csv), so a node that ignores the override (answering
    the empty code's "0x") stops it as it stops the reserves, in state mode as well."""
    probe = doctor._probe_batch
    monkeypatch.setattr(doctor, "_probe_batch", lambda p, b: probe(p, b) | {"override": "0x"})
    report = run("geth")
    assert status(report, "ethereum eth_call state override") == "fail"
    assert runs(report) == ON_CHAIN - set(doctor.STATE_ASSETS) | HTTP
    assert "state override" in report.verdict("evm_token_supply").why


def test_a_node_answering_pruned_state_as_empty_fails_the_state_reads(run):
    """Erigon with pruned history answers eth_call at a pruned block with "0x"
    (erigontech/erigon#5274): the doctor fails the state reads, as they would fail, naming
    the archive node and the logs setting."""
    import dataclasses

    from sandbox.rpc_proxy import PROFILES

    report = run(dataclasses.replace(PROFILES["erigon-pruned"], state_blocks=128))
    row = report.row("ethereum archive state")
    assert row.status == "fail" and "Erigon with pruned history" in row.result
    assert "STABLEFLOW_ETHEREUM_BALANCES=logs" in row.change
    assert runs(report) == ON_CHAIN - set(doctor.STATE_ASSETS) | HTTP


def test_a_node_serving_state_at_latest_only_runs_the_log_assets_and_names_why_not_the_rest(run):
    """java-tron serves state at "latest" only and takes no state override: no balances mode
    helps, so the doctor says so instead of advising an archive node or BALANCES=logs, and
    passes what reads logs (tests/ingest/test_node_profiles.py runs them there)."""
    report = run("java-tron")
    archive = report.row("ethereum archive state")
    assert archive.status == "fail" and "'latest' only" in archive.result
    assert "QUANTITY not supported" in archive.result and "logs" not in archive.change
    assert status(report, "ethereum eth_call state override") == "fail"
    assert runs(report) == ON_CHAIN - {"evm_token_supply", "evm_exchange_reserves"} | HTTP
    assert "'latest' only" in report.verdict("evm_token_supply").why
    assert report.exit_code == 1


def test_a_log_index_built_late_fails_the_log_assets_though_blooms_tell_nothing(run, world):
    """java-tron answers scans of blocks before its log index with [] and sends all-zero
    blooms: the doctor reads the first block's receipts, which hold the tokens' logs."""
    _, truth, _ = world
    report = run("java-tron", pruned_below=pruned_cutoff(truth, "ethereum"))
    pruned = report.row("ethereum pruned history")
    assert pruned.status == "fail" and "all-zero logsBloom" in pruned.result
    assert "log index lacks the block" in pruned.result and "java-tron" in pruned.change
    assert not runs(report) & {"evm_exchange_flows", "evm_issuance"}
