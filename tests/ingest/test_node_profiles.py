"""Every on-chain asset over one window under each node profile of the sandbox RPC proxy
(sandbox/rpc_proxy.py: each modelled on a documented limit of a real client or provider).

Where the profile can serve the data, the tables are identical to those read from the bare
node; where it cannot, the run fails with a message naming the node's limit and the setting
to change, and the failing assets write nothing.
"""

import dataclasses
import datetime as dt

import polars as pl
import pytest

from assets.ingest.evm import evm_assets
from core.resources import Warehouse
from core.resources.evm import EvmRpc, bloom_has
from sandbox.chain import Rpc
from sandbox.rpc_proxy import PROFILES, RpcProxy
from sandbox.world import planted_chain
from tests.conftest import failure_messages, materialize

START, END = dt.date(2021, 6, 1), dt.date(2021, 6, 10)  # ~25 blocks
TABLES = [
    "raw.evm_day_blocks",
    "raw.evm_token_supply",
    "raw.evm_noncirculating_balances",
    "raw.evm_issuance_events",
    "raw.evm_issuance_daily",
    "raw.evm_exchange_balances",
    "raw.evm_exchange_reserves",
    "raw.evm_exchange_flows",
]
STATE_TABLES = [
    "raw.evm_token_supply",
    "raw.evm_noncirculating_balances",
    "raw.evm_exchange_balances",
    "raw.evm_exchange_reserves",
]
LOG_TABLES = ["raw.evm_issuance_events", "raw.evm_issuance_daily", "raw.evm_exchange_flows"]


@pytest.fixture(scope="module")
def chain():
    # 200 blocks after the window: its closing blocks are older than the 128 blocks of state
    # a full node keeps, as yesterday's are at the daily run (~450 blocks back)
    with planted_chain(START, END, buried=200) as (node_url, truth), RpcProxy(node_url) as proxy:
        yield proxy, truth


def run(proxy, tmp_path, name, **rpc):
    warehouse = Warehouse(path=str(tmp_path / f"{name}.duckdb"))
    resources = {
        "warehouse": warehouse,
        "rpc_ethereum": EvmRpc(chain="ethereum", url=proxy.url, backoff_s=0.01, **rpc),
    }
    result = materialize(evm_assets, resources, START, END, raise_on_error=False)
    errors = failure_messages(result)
    return result, warehouse, errors


def tables(warehouse, names=TABLES):
    return {
        t: warehouse.read(f"SELECT * EXCLUDE (ingested_at, source) FROM {t} ORDER BY ALL")
        for t in names
    }


@pytest.fixture(scope="module")
def reference(chain, tmp_path_factory):
    proxy, _ = chain
    proxy.use("anvil")
    result, warehouse, errors = run(proxy, tmp_path_factory.mktemp("ref"), "anvil")
    assert result.success, errors
    return tables(warehouse)


def same(left: dict, right: dict) -> bool:
    return left.keys() == right.keys() and all(left[t].equals(right[t]) for t in left)


@pytest.mark.parametrize(
    "profile", ["geth", "erigon", "reth", "infura", "alchemy-free", "quicknode"]
)
def test_profiles_that_can_serve_the_window_give_identical_tables(
    chain, reference, tmp_path, profile
):
    proxy, _ = chain
    proxy.use(profile)
    result, warehouse, errors = run(proxy, tmp_path, profile)
    assert result.success, errors
    assert same(tables(warehouse), reference)


def test_a_load_balancer_answering_batches_out_of_order_gives_identical_tables(
    chain, reference, tmp_path
):
    """Every batch answered in another order than asked (`dshackle`): the client matches
    answers by id, so no balance, supply or log lands on another call's day."""
    proxy, _ = chain
    proxy.reset_counts()
    proxy.use("dshackle")
    result, warehouse, errors = run(proxy, tmp_path, "dshackle")
    assert result.success, errors
    assert proxy.shuffled > 0
    assert same(tables(warehouse), reference)


def test_a_provider_refusing_ranges_with_http_413_gives_identical_tables(
    chain, reference, tmp_path
):
    proxy, _ = chain
    proxy.reset_counts()
    proxy.use(dataclasses.replace(PROFILES["quicknode"], max_log_blocks=5))  # a trial plan
    result, warehouse, errors = run(proxy, tmp_path, "quicknode")
    assert result.success, errors
    assert proxy.refused["range"] > 0
    assert same(tables(warehouse), reference)


@pytest.mark.parametrize("status", [200, 524])
def test_scans_too_wide_to_answer_in_time_are_narrowed_to_identical_tables(
    chain, reference, tmp_path, status
):
    """A node that takes longer than the client waits for a wide eth_getLogs (no error at
    all, or a gateway's 524): the batch is cut to find the slow call, the call's range is
    halved, and the tables are the bare node's."""
    proxy, _ = chain
    proxy.reset_counts()
    slow = dict(slow_log_blocks=6, slow_seconds=1.0, slow_status=status)
    proxy.use(dataclasses.replace(PROFILES["slow-scans"], **slow))
    result, warehouse, errors = run(proxy, tmp_path, f"slow{status}", timeout_s=0.4)
    assert result.success, errors
    assert proxy.refused["slow"] > 0
    assert same(tables(warehouse), reference)


def test_a_node_suggesting_ranges_in_decimal_gives_identical_tables(chain, reference, tmp_path):
    """reth's refusal of a fuller answer names the range to ask instead in decimal block
    numbers ("retry with the range 22382105-22382515"); the client cuts there, not in half."""
    proxy, _ = chain
    proxy.use(dataclasses.replace(PROFILES["reth"], max_log_results=20))
    proxy.reset_counts()
    result, warehouse, errors = run(proxy, tmp_path, "reth")
    assert result.success, errors
    assert proxy.refused["results"] > 0
    assert same(tables(warehouse), reference)


def test_a_node_capping_batches_and_results_lower_than_ours_gives_identical_tables(
    chain, reference, tmp_path
):
    proxy, _ = chain
    proxy.reset_counts()
    # geth run with --rpc.batch-request-limit 8 and a 3 kB --rpc.batch-response-max-size,
    # behind a provider capping answers at 20 logs (a block of the planted chain holds up to
    # 16 transfers a filter matches, and one block cannot be split further)
    proxy.use(
        dataclasses.replace(
            PROFILES["geth"], max_batch=8, max_log_results=20, max_batch_response=3_000
        )
    )
    result, warehouse, errors = run(proxy, tmp_path, "tight")
    assert result.success, errors
    assert proxy.refused["batch"] > 0 and proxy.refused["results"] > 0
    assert proxy.refused["response"] > 0
    assert same(tables(warehouse), reference)


# Refusals each node words its own way, each read as the kind that lets the read go on (the
# refusal counted is the proxy's kind):
# - response: Nethermind answers the calls after a batch answer past its cap -32005
#   "MaxBatchResponseBodySize of 32768KB exceeded", asked again as after geth's "response too
#   large", not a permanent refusal (the cap made 3 kB to reach it here);
# - batch: public endpoints refuse a batch of more eth_getLogs than they take with one answer,
#   'Too many ["eth_getLogs"] methods in the batch' (ethers-io/ethers.js#4128): fewer calls per
#   batch, not a range limit (which halved every range down to single blocks and failed);
#   played as geth's limit of 3 calls a batch, in those words;
# - results: Alchemy's refusal of a fuller answer, in -32602 with a suggested range: cut there;
# - body: OP proxyd in front of geth refuses a request body over 256 KiB with HTTP 413 and one
#   error (-32021 "request body too large", id null); the Ethereum transfer filters (2 per 500
#   labelled wallets, 33 kB each) pass it in one batch: fewer calls per batch.
WORDED = {
    "response": dataclasses.replace(PROFILES["nethermind"], max_batch_response=3_000),
    "batch": dataclasses.replace(
        PROFILES["geth"], max_batch=3, batch_message='Too many ["eth_getLogs"] methods in the batch'
    ),
    "body": PROFILES["proxyd"],
    # results: Alchemy's paid tiers cap an answer at 10K logs, naming a range that fits in
    # -32602, the code of an invalid parameter (ethers-io/ethers.js#4703); cut to 20 logs
    "results": dataclasses.replace(PROFILES["alchemy"], max_log_results=20),
}


@pytest.mark.parametrize("refusal", WORDED)
def test_a_node_refusing_in_its_own_words_gives_identical_tables(
    chain, reference, tmp_path, refusal
):
    proxy, _ = chain
    proxy.reset_counts()
    proxy.use(WORDED[refusal])
    result, warehouse, errors = run(proxy, tmp_path, refusal)
    assert result.success, errors
    assert proxy.refused[refusal] > 0
    assert same(tables(warehouse), reference)


# Nodes a call of 3,000 balances is too heavy for (about 12M gas here, and seconds on an
# archive node's old state): one allowing an eth_call 2M gas (geth, Erigon and Nitro allow
# 50M by default), and slow-state, whose calls of over 1,000 balances pass geth's 5 s
# eth_call timeout. The reader asks again with half as many per call, until the calls fit.
HEAVY = {
    "gas": dataclasses.replace(PROFILES["geth"], gas_cap=2_000_000),
    "evm_timeout": PROFILES["slow-state"],
}


@pytest.mark.parametrize("refusal", HEAVY)
def test_a_node_refusing_our_heaviest_calls_gives_identical_tables(
    chain, reference, tmp_path, refusal
):
    proxy, _ = chain
    proxy.use(HEAVY[refusal])
    proxy.reset_counts()
    result, warehouse, errors = run(proxy, tmp_path, refusal)
    assert result.success, errors
    assert proxy.refused[refusal] > 0
    assert same(tables(warehouse), reference)


@pytest.mark.parametrize(
    ("limit", "named"),
    [
        ({"gas_cap": 120_000}, ["out of gas", "--rpc.gascap", "--execution.rpc.gas-cap"]),
        ({"slow_call_bytes": 50}, ["execution aborted (timeout = 5s)", "--rpc.evmtimeout"]),
    ],
)
def test_a_node_refusing_one_address_balances_fails_naming_its_setting(
    chain, tmp_path, limit, named
):
    proxy, _ = chain
    proxy.use(dataclasses.replace(PROFILES["geth"], **limit))
    result, warehouse, errors = run(proxy, tmp_path, "too-heavy")
    assert not result.success
    assert all(text in errors for text in named), errors
    assert not warehouse.table_exists("raw.evm_exchange_reserves")


def test_alchemy_free_fails_a_long_backfill_at_once_naming_its_range_limit(chain, tmp_path):
    proxy, _ = chain
    proxy.use("alchemy-free")
    proxy.reset_counts()
    # The sandbox has ~2 blocks a day, mainnet 7,200: this budget stands for the default
    # 20,000 calls on a mainnet window of months (10-block ranges: 720 calls per filter-day).
    result, warehouse, errors = run(proxy, tmp_path, "alchemy", max_log_requests=5)
    assert not result.success
    assert "serves eth_getLogs over at most 10 blocks a call" in errors
    assert "max_log_requests is 5" in errors and "wider log ranges" in errors
    assert not warehouse.table_exists("raw.evm_exchange_flows")
    # it stopped as soon as the limit was known, not after reading the window 10 blocks at a time
    assert proxy.calls["eth_getLogs"] < 60


def test_a_full_node_fails_state_reads_naming_the_logs_setting(chain, tmp_path):
    proxy, _ = chain
    proxy.use("full-node")
    result, warehouse, errors = run(proxy, tmp_path, "full")
    assert not result.success
    assert "missing trie node" in errors and "not an archive node" in errors
    assert "STABLEFLOW_ETHEREUM_BALANCES=logs" in errors
    assert not any(warehouse.table_exists(t) for t in STATE_TABLES)
    # what needs no old state still runs
    assert all(warehouse.table_exists(t) for t in ["raw.evm_day_blocks", *LOG_TABLES])


def test_a_node_answering_pruned_state_as_empty_fails_instead_of_writing_zeros(
    chain, reference, tmp_path
):
    """Erigon with pruned history answers eth_call at a pruned block with "0x", no error
    (erigontech/erigon#5274). No token answering there is never read as a token deployed
    later: the state reads fail naming both causes, write nothing, and logs mode, which reads
    state at the final block only, gives the archive node's tables."""
    import dataclasses

    from sandbox.rpc_proxy import PROFILES

    proxy, _ = chain
    proxy.use(dataclasses.replace(PROFILES["erigon-pruned"], state_blocks=128))
    result, warehouse, errors = run(proxy, tmp_path, "erigon")
    assert not result.success
    assert "no token of ethereum answered at block" in errors
    assert "totalSupply() returned no data" in errors  # evm_token_supply
    assert "the BalanceReader found no code" in errors  # evm_exchange_reserves
    assert "below its pruned history" in errors and "BALANCES=logs" in errors
    assert proxy.refused["empty_state"] > 0
    assert not any(warehouse.table_exists(t) for t in STATE_TABLES)
    assert all(warehouse.table_exists(t) for t in ["raw.evm_day_blocks", *LOG_TABLES])

    result, warehouse, errors = run(proxy, tmp_path, "erigon-logs", balances="logs")
    assert result.success, errors
    assert same(tables(warehouse), reference)


def test_a_node_answering_old_state_from_its_latest_fails_the_blocking_checks(chain, tmp_path):
    """Erigon has answered state reads at pruned blocks from its latest state, no error
    (erigontech/erigon#4149, #12977): every day then gets today's supply and balances, which
    look right on their own. The logs say the supply and the reserves moved: the blocking
    reconciliations of supply with issuance and of reserves with flows fail."""
    import dataclasses

    from assets.ingest import ingest_checks
    from sandbox.rpc_proxy import PROFILES

    proxy, _ = chain
    proxy.use(dataclasses.replace(PROFILES["erigon-latest-state"], state_blocks=128))
    warehouse = Warehouse(path=str(tmp_path / "latest.duckdb"))
    resources = {
        "warehouse": warehouse,
        "rpc_ethereum": EvmRpc(chain="ethereum", url=proxy.url, backoff_s=0.01),
    }
    checks = [
        c
        for c in ingest_checks
        if {k.asset_key.path[-1] for k in c.check_keys}
        & {"evm_issuance_daily", "evm_exchange_reserves"}
    ]
    result = materialize([*evm_assets, *checks], resources, START, END, raise_on_error=False)
    assert proxy.refused["latest_state"] > 0
    failed = {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}
    assert {"supply_change_equals_net_issuance", "reserve_change_equals_netflow"} <= failed
    supply = warehouse.read(
        "SELECT DISTINCT supply_raw FROM raw.evm_token_supply WHERE token = 'USDT'"
    )
    assert supply.height == 1  # every day the same: today's


def test_a_full_node_reading_balances_from_logs_gives_identical_tables(
    chain, reference, truth_of, tmp_path
):
    proxy, _ = chain
    proxy.use("full-node")
    result, warehouse, errors = run(proxy, tmp_path, "logs", balances="logs")
    assert result.success, errors
    assert same(tables(warehouse), reference)
    supply = warehouse.read(
        "SELECT date, token, supply_raw::BIGINT AS supply_raw, "
        "noncirculating_raw::BIGINT AS noncirculating_raw "
        "FROM raw.evm_token_supply ORDER BY ALL"
    )
    columns = ["date", "token", "supply_raw", "noncirculating_raw"]
    assert supply.rows() == truth_of.supply.select(columns).sort("date", "token").rows()
    assert supply["noncirculating_raw"].min() > 0  # the seed's Ethereum USDT and USDC wallets


@pytest.fixture
def truth_of(chain):
    return chain[1]


def _scanned(monkeypatch) -> list[tuple[int, int]]:
    """The block ranges every eth_getLogs scan asks for, as the client is told them."""
    ranges = []
    get_logs = EvmRpc.get_logs

    def recorded(self, queries, first, last, held=()):
        ranges.append((first, last))
        return get_logs(self, queries, first, last, held)

    monkeypatch.setattr(EvmRpc, "get_logs", recorded)
    return ranges


def _closing_block(warehouse, day):
    return warehouse.read(
        "SELECT block_number FROM raw.evm_day_blocks WHERE date = ?", [day]
    ).item()


def test_an_old_day_read_again_from_logs_rewinds_from_the_next_stored_day(
    chain, reference, tmp_path, monkeypatch
):
    """Re-reading a day with balances from logs starts from the next day the warehouse holds
    (its closing block still the chain's), so it scans that day's blocks, not every block
    since; the tables are the bare node's. A day with nothing stored after it, or whose
    next stored day is no longer on the chain, starts from the final block as before."""
    proxy, _ = chain
    proxy.use("full-node")
    result, warehouse, errors = run(proxy, tmp_path, "again", balances="logs")
    assert result.success, errors
    day, stored_after = START + dt.timedelta(days=3), START + dt.timedelta(days=4)
    first, next_stored = _closing_block(warehouse, day), _closing_block(warehouse, stored_after)
    resources = {
        "warehouse": warehouse,
        "rpc_ethereum": EvmRpc(chain="ethereum", url=proxy.url, backoff_s=0.01, balances="logs"),
    }
    state_assets = [
        a
        for a in evm_assets
        if {"evm_token_supply", "evm_exchange_reserves"} & {k.path[-1] for k in a.keys}
    ]

    scanned = _scanned(monkeypatch)
    result = materialize(state_assets, resources, day, day)
    assert result.success, failure_messages(result)
    assert same(tables(warehouse), reference)
    assert scanned and all(first < lo <= hi <= next_stored for lo, hi in scanned)

    # The last day has no later stored day: from the final block, well over 100 blocks on.
    scanned.clear()
    result = materialize(state_assets, resources, END, END)
    assert result.success, failure_messages(result)
    assert same(tables(warehouse), reference)
    final = max(hi for _, hi in scanned)
    assert final > _closing_block(warehouse, END) + 100

    # The next stored day's block hash no longer the chain's (a reorg since): not trusted.
    with warehouse.transaction("raw.evm_day_blocks") as con:
        con.execute(
            "UPDATE raw.evm_day_blocks SET block_hash = '0x' || repeat('0', 64) WHERE date = ?",
            [stored_after],
        )
    scanned.clear()
    result = materialize(state_assets, resources, day, day)
    assert result.success, failure_messages(result)
    assert max(hi for _, hi in scanned) == final
    kept = ["raw.evm_token_supply", "raw.evm_noncirculating_balances", "raw.evm_exchange_reserves"]
    assert same(tables(warehouse, kept), {t: reference[t] for t in kept})


def test_pruned_history_fails_at_once_naming_the_cutoff_remedy(chain, tmp_path):
    proxy, _ = chain
    proxy.use("pruned", pruned_below=4)  # the window's blocks are gone
    proxy.reset_counts()
    result, warehouse, errors = run(proxy, tmp_path, "pruned")
    assert not result.success
    assert "error 4444: pruned history unavailable" in errors
    assert "--history.chain all" in errors and "STABLEFLOW_START_DATE" in errors
    assert not any(warehouse.table_exists(t) for t in TABLES)
    # a permanent refusal is not retried
    assert proxy.refused["pruned"] <= 5


def test_a_node_answering_pruned_receipts_as_no_logs_fails_instead_of_writing_zeros(
    chain, reference, tmp_path
):
    """reth with receipt pruning answers eth_getLogs over pruned blocks with [] and no error
    (reth#21122), as Erigon full nodes do for filtered queries (erigon#16042). Read as is, the
    window's mints, burns and flows would be zeros. The first block's header says the tokens
    emitted logs there, so the log scans fail naming pruned receipts and write nothing; the
    state reads, which the node answers, are identical to the bare node's."""
    proxy, _ = chain
    proxy.use("reth-full", pruned_below=12)  # receipts of the window's first half are gone
    proxy.reset_counts()
    result, warehouse, errors = run(proxy, tmp_path, "reth-full")
    assert not result.success
    assert "receipts are pruned" in errors and "archive node" in errors
    assert proxy.refused["receipts"] > 0  # the node did drop logs, silently
    assert not any(warehouse.table_exists(t) for t in LOG_TABLES)
    assert same(tables(warehouse, STATE_TABLES), {t: reference[t] for t in STATE_TABLES})

    # Receipts pruned only before the window: nothing is missing, every table is identical.
    proxy.use("reth-full", pruned_below=1)
    result, warehouse, errors = run(proxy, tmp_path / "kept", "reth-full")
    assert result.success, errors
    assert same(tables(warehouse), reference)


def test_a_node_serving_state_only_at_latest_serves_the_logs_and_fails_the_state_reads(
    chain, reference, tmp_path
):
    """java-tron's JSON-RPC (TRON) serves logs with its own limits (5,000 blocks and 10,000
    results a scan, 100 calls a batch) and headers with an all-zero logsBloom, but state only
    at "latest" and eth_call with two parameters: the log tables are identical to the bare
    node's, the state reads fail naming why, and write nothing, in either balances mode."""
    proxy, _ = chain
    proxy.use("java-tron")
    proxy.reset_counts()
    result, warehouse, errors = run(proxy, tmp_path, "java-tron")
    assert not result.success
    assert "method parameters invalid" in errors and "state override" in errors
    assert "only ('latest')" in errors  # totalSupply(), asked with no override
    assert not any(warehouse.table_exists(t) for t in STATE_TABLES)
    assert same(tables(warehouse, LOG_TABLES), {t: reference[t] for t in LOG_TABLES})

    # The sandbox chain is too short for java-tron's own caps to bite: the same limits,
    # smaller, show the log tables survive them (and the refusals in java-tron's words).
    proxy.use(dataclasses.replace(PROFILES["java-tron"], max_batch=3, max_log_results=30))
    proxy.reset_counts()
    result, warehouse, errors = run(proxy, tmp_path / "capped", "java-tron")
    assert not result.success
    assert proxy.refused["batch"] > 0 and proxy.refused["results"] > 0
    assert same(tables(warehouse, LOG_TABLES), {t: reference[t] for t in LOG_TABLES})

    result, warehouse, errors = run(proxy, tmp_path / "logs", "java-tron", balances="logs")
    assert not result.success
    assert "state override" in errors or "only ('latest')" in errors
    assert not any(warehouse.table_exists(t) for t in STATE_TABLES)


def test_a_log_index_built_late_fails_the_scans_instead_of_writing_zeros(
    chain, reference, tmp_path
):
    """java-tron answers eth_getLogs over blocks from before its log index was built with []
    and no error (java-tron#6384, #6958), and its headers' blooms are zeros, so they cannot
    tell: the first block's receipts, which it keeps, show the logs the scan left out."""
    proxy, _ = chain
    proxy.use("java-tron", pruned_below=12)
    proxy.reset_counts()
    result, warehouse, errors = run(proxy, tmp_path, "java-tron-index")
    assert not result.success
    assert "all-zero logsBloom" in errors and "log index lacks the block" in errors
    assert proxy.refused["receipts"] > 0  # logs were dropped, silently
    assert not any(warehouse.table_exists(t) for t in LOG_TABLES)

    # An older java-tron has no eth_getBlockReceipts: each transaction's receipt tells instead.
    older = dataclasses.replace(PROFILES["java-tron"], missing_methods=("eth_getBlockReceipts",))
    proxy.use(older, pruned_below=12)
    proxy.reset_counts()
    result, warehouse, errors = run(proxy, tmp_path / "older", "java-tron-older")
    assert not result.success and "log index lacks the block" in errors
    assert proxy.refused["method"] > 0 and proxy.calls["eth_getTransactionReceipt"] > 0
    assert not any(warehouse.table_exists(t) for t in LOG_TABLES)


def test_the_bloom_test_agrees_with_the_nodes_own_blooms(chain):
    """bloom_has against blooms anvil computed itself: every address that logged in a block
    is in its header's logsBloom (no false negatives), and an address that never logs is in
    few of them."""
    proxy, _ = chain
    node = Rpc(proxy.upstream)
    head = int(node("eth_blockNumber"), 16)
    headers = node.batch([("eth_getBlockByNumber", [hex(b), False]) for b in range(head + 1)])
    logs = node("eth_getLogs", {"fromBlock": "0x0", "toBlock": hex(head)})
    logged = {(int(log["blockNumber"], 16), log["address"]) for log in logs}
    assert len({address for _, address in logged}) >= 2  # both tokens logged
    assert all(bloom_has(headers[b]["logsBloom"], address) for b, address in logged)
    never = "0x" + "5a" * 20
    assert sum(bloom_has(h["logsBloom"], never) for h in headers) < len(headers) / 2


def test_a_node_of_another_chain_fails_before_anything_is_read(chain, tmp_path):
    proxy, _ = chain
    proxy.use("wrong-chain")
    proxy.reset_counts()
    result, warehouse, errors = run(proxy, tmp_path, "polygon")
    assert not result.success
    assert "serves chain id 137, but chains.yaml says ethereum.chain_id = 1" in errors
    assert not any(warehouse.table_exists(t) for t in TABLES)
    assert set(proxy.calls) <= {"eth_chainId", "eth_blockNumber", "eth_getBlockByNumber"}


def test_another_chain_is_found_even_when_every_closing_block_is_stored(chain, tmp_path):
    proxy, _ = chain
    proxy.use("anvil")
    warehouse = Warehouse(path=str(tmp_path / "cached.duckdb"))
    day_blocks = [a for a in evm_assets if a.node_def.name == "evm_day_blocks"]
    resources = {"warehouse": warehouse, "rpc_ethereum": EvmRpc(chain="ethereum", url=proxy.url)}
    assert materialize(day_blocks, resources, START, END).success
    # the URL now points at a full node of another network: state reads would be refused too,
    # but the chain id is what the failure must name
    proxy.use(dataclasses.replace(PROFILES["full-node"], chain_id=137))
    proxy.reset_counts()
    supply = [a for a in evm_assets if a.node_def.name == "evm_token_supply"]
    resources["rpc_ethereum"] = EvmRpc(chain="ethereum", url=proxy.url)
    result = materialize(supply, resources, START, END, raise_on_error=False)
    errors = failure_messages(result)
    assert "serves chain id 137, but chains.yaml says ethereum.chain_id = 1" in errors
    assert "missing trie node" not in errors
    assert proxy.http_requests == 1 and not warehouse.table_exists("raw.evm_token_supply")


def test_too_many_topic_values_fail_at_once_naming_the_setting(chain, tmp_path):
    proxy, _ = chain
    proxy.use(dataclasses.replace(PROFILES["geth"], topic_values=100))  # a stricter provider
    proxy.reset_counts()
    result, warehouse, errors = run(proxy, tmp_path, "topics")
    assert not result.success
    assert "exceed max addresses or topics per search position" in errors
    assert "lower chains.yaml ethereum.max_topic_values" in errors
    assert not warehouse.table_exists("raw.evm_exchange_flows")
    assert proxy.refused["topics"] <= 16  # the first batch of Transfer filters, no halving loop


def test_a_stored_day_counts_only_if_whole_for_the_tokens_configured(
    chain, reference, tmp_path, monkeypatch
):
    """The next stored day is a starting point only with the supply of exactly the chain's
    tokens (a symbol renamed since leaves it out: the day after is taken), and the supply
    alone rewinds from stored supply even where reserves were never stored."""
    proxy, _ = chain
    proxy.use("full-node")
    result, warehouse, errors = run(proxy, tmp_path, "whole", balances="logs")
    assert result.success, errors
    day = START + dt.timedelta(days=3)
    renamed, taken = day + dt.timedelta(days=1), day + dt.timedelta(days=2)
    rpc = EvmRpc(chain="ethereum", url=proxy.url, backoff_s=0.01, balances="logs")
    resources = {"warehouse": warehouse, "rpc_ethereum": rpc}
    supply_asset = [a for a in evm_assets if "evm_token_supply" in {k.path[-1] for k in a.keys}]
    scanned = _scanned(monkeypatch)

    with warehouse.transaction("raw.evm_token_supply") as con:
        con.execute(
            "UPDATE raw.evm_token_supply SET token = 'USDT0' WHERE token = 'USDT' AND date = ?",
            [renamed],
        )
    result = materialize(supply_asset, resources, day, day)
    assert result.success, failure_messages(result)
    assert _closing_block(warehouse, renamed) < max(hi for _, hi in scanned)
    assert max(hi for _, hi in scanned) <= _closing_block(warehouse, taken)

    # Reserves and balances never stored: the supply still starts from the stored supply.
    with warehouse.transaction() as con:
        con.execute("DROP TABLE raw.evm_exchange_reserves")
        con.execute("DROP TABLE raw.evm_exchange_balances")
    scanned.clear()
    result = materialize(supply_asset, resources, day, day)
    assert result.success, failure_messages(result)
    assert max(hi for _, hi in scanned) <= _closing_block(warehouse, taken)
    supply = tables(warehouse, ["raw.evm_token_supply"])["raw.evm_token_supply"]
    assert supply.filter(pl.col("date") != renamed).equals(
        reference["raw.evm_token_supply"].filter(pl.col("date") != renamed)
    )
