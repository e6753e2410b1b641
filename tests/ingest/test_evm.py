"""On-chain ingest against the sandbox chain: every planted value recovered exactly.

The chain (anvil, sandbox/chain.py) carries a planted scenario whose ground truth comes
from the scenario's own bookkeeping, never from reading the chain. A JSON-RPC proxy in
front of it counts requests and plays a public node's refusals.
"""

import datetime as dt

import polars as pl
import pytest

import assets.ingest.evm.assets as evm_module
from assets.ingest import ingest_checks
from assets.ingest.evm import evm_assets
from assets.ingest.labels import load_labels
from core.resources.evm import EvmRpc
from sandbox.rpc_proxy import RpcProxy
from sandbox.world import planted_chain
from tests.conftest import failure_messages, materialize

D = dt.date
START, END = D(2021, 3, 1), D(2021, 3, 14)
EVM_TABLES = [
    "raw.evm_day_blocks",
    "raw.evm_token_supply",
    "raw.evm_noncirculating_balances",
    "raw.evm_issuance_events",
    "raw.evm_issuance_daily",
    "raw.evm_exchange_balances",
    "raw.evm_exchange_reserves",
    "raw.evm_exchange_flows",
]


@pytest.fixture(scope="module")
def chain():
    with planted_chain(START, END) as (node_url, truth), RpcProxy(node_url) as proxy:
        yield proxy, truth


@pytest.fixture
def proxy(chain):
    proxy, _ = chain
    proxy.max_log_blocks, proxy.rate_limit_next, proxy.fail_method = None, 0, None
    proxy.rate_limit_every = 0
    proxy.limit_method = proxy.cut_method = None
    proxy.reset_counts()
    return proxy


@pytest.fixture
def truth(chain):
    return chain[1]


def evm_resources(url, warehouse):
    return {
        "warehouse": warehouse,
        "rpc_ethereum": EvmRpc(chain="ethereum", url=url, backoff_s=0.01),
    }


def ints(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    return frame.with_columns(pl.col(c).cast(pl.Int64) for c in columns)


def read(warehouse, sql):
    return warehouse.read(sql)


def test_every_planted_value_is_recovered_exactly(proxy, truth, warehouse):
    result = materialize(
        [*evm_assets, *ingest_checks], evm_resources(proxy.url, warehouse), START, END
    )
    assert result.success

    blocks = read(
        warehouse,
        "SELECT date, block_number AS closing_block FROM raw.evm_day_blocks ORDER BY date",
    )
    assert blocks.rows() == truth.blocks.select("date", "closing_block").sort("date").rows()

    supply = ints(
        read(
            warehouse,
            "SELECT date, token, supply_raw, noncirculating_raw FROM raw.evm_token_supply "
            "ORDER BY ALL",
        ),
        "supply_raw",
        "noncirculating_raw",
    )
    columns = ["date", "token", "supply_raw", "noncirculating_raw"]
    assert supply.rows() == truth.supply.select(columns).sort("date", "token").rows()
    # what the seed's wallets hold, wallet by wallet, adds up to the sum; other tokens of
    # those wallets (read too) are not counted
    held = read(
        warehouse,
        "SELECT date, token, coalesce(sum(balance_raw) FILTER (WHERE counted), 0)::BIGINT "
        "FROM raw.evm_noncirculating_balances GROUP BY ALL ORDER BY ALL",
    )
    assert held.rows() == [(d, t, n) for d, t, _, n in supply.rows()]

    issuance = ints(
        read(
            warehouse,
            "SELECT date, token, minted_raw, burned_raw FROM raw.evm_issuance_daily ORDER BY ALL",
        ),
        "minted_raw",
        "burned_raw",
    )
    assert (
        issuance.rows()
        == truth.issuance.select("date", "token", "minted_raw", "burned_raw")
        .sort("date", "token")
        .rows()
    )
    assert (issuance["minted_raw"] > 0).any() and (issuance["burned_raw"] > 0).any()

    # every event, with who minted or burned (Mint's minter, Burn's burner: the issuer's or
    # CCTP's TokenMinter), NULL where the event names nobody
    events = read(
        warehouse,
        "SELECT tx_hash, event, amount_raw, operator FROM raw.evm_issuance_events ORDER BY ALL",
    )
    assert sorted((h, e, int(a), o) for h, e, a, o in events.rows()) == sorted(
        (h, e, int(a), o and o.lower())
        for h, e, a, o in truth.large_events.select(
            "tx_hash", "event", "amount_raw", "operator"
        ).rows()
    )
    assert events["operator"].null_count() and events["operator"].drop_nulls().n_unique() > 1

    balances = ints(
        read(
            warehouse,
            "SELECT date, token, address, balance_raw FROM raw.evm_exchange_balances ORDER BY ALL",
        ),
        "balance_raw",
    )
    planted = (
        truth.reserves.filter(pl.col("balance_raw") > 0)
        .select("date", "token", pl.col("address").str.to_lowercase(), "balance_raw")
        .sort("date", "token", "address")
    )
    assert balances.rows() == planted.rows()

    by_exchange = ints(
        read(
            warehouse,
            "SELECT date, token, exchange, balance_raw AS b FROM raw.evm_exchange_reserves "
            "WHERE b > 0 ORDER BY ALL",
        ),
        "b",
    )
    planted_exchange = (
        truth.reserves.group_by("date", "token", "exchange")
        .agg(b=pl.col("balance_raw").sum())
        .filter(pl.col("b") > 0)
        .sort("date", "token", "exchange")
    )
    assert by_exchange.rows() == planted_exchange.rows()
    # every exchange labelled on the chain has a row every day, zero included
    labelled = load_labels().on_chain("ethereum").frame["exchange"].n_unique()
    assert read(warehouse, "SELECT count(*) AS n FROM raw.evm_exchange_reserves")["n"][
        0
    ] == labelled * 2 * ((END - START).days + 1)

    flows = ints(
        read(
            warehouse,
            "SELECT date, token, exchange, inflow_raw, outflow_raw FROM raw.evm_exchange_flows "
            "WHERE inflow_raw > 0 OR outflow_raw > 0 ORDER BY ALL",
        ),
        "inflow_raw",
        "outflow_raw",
    )
    planted_flows = (
        truth.flows.filter((pl.col("inflow_raw") > 0) | (pl.col("outflow_raw") > 0))
        .select("date", "token", "exchange", "inflow_raw", "outflow_raw")
        .sort("date", "token", "exchange")
    )
    assert flows.rows() == planted_flows.rows()

    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["supply_change_equals_net_issuance"].passed
    assert evaluations["reserve_change_equals_netflow"].passed
    failed = [name for name, e in evaluations.items() if not e.passed]
    # The DefiLlama comparison cannot run: this test does not ingest DefiLlama.
    assert failed == ["matches_defillama_ethereum"]

    versions = read(warehouse, "SELECT DISTINCT label_version FROM raw.evm_exchange_flows")
    assert versions["label_version"].to_list() == [load_labels().version]


def snapshot(warehouse, tables):
    return {
        t: warehouse.read(f"SELECT * EXCLUDE (ingested_at) FROM {t} ORDER BY ALL") for t in tables
    }


def test_node_refusing_large_log_ranges_yields_the_same_flows(proxy, warehouse, tmp_path):
    from core.resources import Warehouse

    assert materialize(evm_assets, evm_resources(proxy.url, warehouse), START, END).success
    proxy.max_log_blocks = 3  # a few blocks a query: every day's scan is split
    refused = Warehouse(path=str(tmp_path / "refused.duckdb"))
    result = materialize(evm_assets, evm_resources(proxy.url, refused), START, END)
    assert result.success
    splits = [
        m.metadata["ethereum_log_range_splits"].value
        for m in result.get_asset_materialization_events()
        for m in [m.materialization]
        if "ethereum_log_range_splits" in m.metadata
    ]
    assert splits and min(splits) > 0
    assert all(
        a.equals(b)
        for a, b in zip(
            snapshot(warehouse, EVM_TABLES).values(), snapshot(refused, EVM_TABLES).values()
        )
    )


def test_long_windows_are_read_in_parts_with_progress_and_the_same_result(
    proxy, warehouse, tmp_path, monkeypatch
):
    import dagster as dg

    from core.resources import Warehouse

    assert materialize(evm_assets, evm_resources(proxy.url, warehouse), START, END).success
    monkeypatch.setattr(evm_module, "PROGRESS_DAYS", 4)  # 14 days: parts of 4, 4, 4, 2
    parts = Warehouse(path=str(tmp_path / "parts.duckdb"))
    instance = dg.DagsterInstance.ephemeral()
    result = materialize(evm_assets, evm_resources(proxy.url, parts), START, END, instance=instance)
    assert result.success
    assert all(
        a.equals(b)
        for a, b in zip(
            snapshot(warehouse, EVM_TABLES).values(), snapshot(parts, EVM_TABLES).values()
        )
    )
    lines = [
        e.user_message
        for e in instance.all_logs(result.run_id)
        if e.user_message.startswith("evm_exchange_reserves ethereum: ")
    ]
    assert [line.split(": ")[1].split(",")[0] for line in lines] == [
        "4/14 days",
        "8/14 days",
        "12/14 days",
        "14/14 days",
    ]
    assert lines[-1].endswith(" requests") and int(lines[-1].split(", ")[1].split()[0]) > 0


def test_a_scan_of_one_block_that_still_times_out_fails_naming_the_timeout(proxy):
    """The narrowing of scans the node cannot answer in time stops at one block: then the
    read fails at once, naming the client's timeout, instead of asking forever."""
    import dataclasses

    from core.resources.evm import NodeLimitError
    from sandbox.rpc_proxy import PROFILES

    usdt = "0xdAC17F958D2ee523a2206206994597C13D831ec7"  # the sandbox's token addresses are real
    rpc = EvmRpc(chain="ethereum", url=proxy.url, timeout_s=0.3, backoff_s=0.01)
    head = int(rpc.call("eth_blockNumber", []), 16)
    proxy.use(dataclasses.replace(PROFILES["slow-scans"], slow_log_blocks=0, slow_seconds=1.0))
    try:
        with pytest.raises(NodeLimitError, match=r"raise the client's timeout \(0.3 s\)"):
            rpc.get_logs([(usdt, [])], head - 1, head)
    finally:
        proxy.use("anvil")
    # the two blocks at once, then both halves in one batch, then the first half alone: no
    # request was sent again as it was
    assert proxy.refused["slow"] == 3


def test_rate_limited_node_is_retried(proxy, warehouse):
    proxy.rate_limit_next = 3
    result = materialize(evm_assets, evm_resources(proxy.url, warehouse), START, D(2021, 3, 3))
    assert result.success
    assert proxy.rate_limited == 3


def test_a_metered_provider_limiting_every_third_request_gives_the_same_tables(
    proxy, warehouse, tmp_path
):
    """Rate limits spread over a long read (a provider metering calls per second) are each
    cured by a back-off: only limits in a row count towards giving up."""
    from core.resources import Warehouse

    assert materialize(evm_assets, evm_resources(proxy.url, warehouse), START, END).success
    # 3-block log ranges and 2-call batches: dozens of requests, every third refused
    proxy.max_log_blocks, proxy.rate_limit_every = 3, 3
    metered = Warehouse(path=str(tmp_path / "metered.duckdb"))
    resources = {
        "warehouse": metered,
        "rpc_ethereum": EvmRpc(chain="ethereum", url=proxy.url, backoff_s=0.001, batch_size=2),
    }
    assert materialize(evm_assets, resources, START, END).success
    assert proxy.rate_limited > 2 * EvmRpc.model_fields["max_attempts"].default
    assert all(
        a.equals(b)
        for a, b in zip(
            snapshot(warehouse, EVM_TABLES).values(), snapshot(metered, EVM_TABLES).values()
        )
    )


def test_log_scans_survive_rate_limits_and_a_cut_answer(proxy, warehouse, tmp_path):
    """eth_getLogs answers are parsed by polars, not json: a rate-limit error inside a 200
    answer is still retried, and a body cut mid-way is still asked again."""
    from core.resources import Warehouse

    assert materialize(evm_assets, evm_resources(proxy.url, warehouse), START, END).success
    proxy.rate_limit_next, proxy.limit_method, proxy.cut_method = 2, "eth_getLogs", "eth_getLogs"
    faulty = Warehouse(path=str(tmp_path / "faulty.duckdb"))
    assert materialize(evm_assets, evm_resources(proxy.url, faulty), START, END).success
    assert (proxy.rate_limited, proxy.cut) == (2, 1)
    assert all(
        a.equals(b)
        for a, b in zip(
            snapshot(warehouse, EVM_TABLES).values(), snapshot(faulty, EVM_TABLES).values()
        )
    )


def test_a_failed_batch_fails_its_step_clearly_and_writes_nothing_of_it(proxy, warehouse):
    proxy.fail_method = "eth_getLogs"  # mid-run: blocks and supply are read, then logs fail
    result = materialize(
        evm_assets, evm_resources(proxy.url, warehouse), START, D(2021, 3, 3), raise_on_error=False
    )
    assert not result.success
    failed = [e for e in result.all_events if e.is_step_failure]
    assert len(failed) == 1
    errors = str(failed[0].event_specific_data.error.to_string())
    assert "rpc ethereum: eth_getLogs(" in errors and "error -32603: internal error" in errors
    step_tables = {
        "evm_issuance": ["raw.evm_issuance_events", "raw.evm_issuance_daily"],
        "evm_exchange_flows": ["raw.evm_exchange_flows"],
    }[failed[0].step_key]
    assert not any(warehouse.table_exists(t) for t in step_tables)
    assert warehouse.table_exists("raw.evm_day_blocks") and warehouse.table_exists(
        "raw.evm_token_supply"
    )


@pytest.mark.parametrize("n", [10, 100, 1000])
def test_reserve_requests_per_day_do_not_grow_with_addresses(proxy, warehouse, monkeypatch, n):
    labels = load_labels().on_chain("ethereum").subset(n)
    monkeypatch.setattr(evm_module, "load_labels", lambda: labels)
    resources = evm_resources(proxy.url, warehouse)
    blocks = [a for a in evm_assets if a.node_def.name == "evm_day_blocks"]
    assert materialize(blocks, resources, START, END).success  # closing blocks cached
    proxy.reset_counts()
    reserves = [a for a in evm_assets if a.node_def.name == "evm_exchange_reserves"]
    result = materialize(reserves, resources, START, END)
    assert result.success
    # One BalanceReader eth_call per day, whatever the number of addresses; days batched.
    assert proxy.calls["eth_call"] == (END - START).days + 1
    assert proxy.http_requests == 1
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    assert meta["ethereum_labelled_addresses"].value == n


def test_day_not_yet_final_fails_and_writes_nothing(proxy, warehouse):
    result = materialize(
        evm_assets,
        evm_resources(proxy.url, warehouse),
        END,
        END + dt.timedelta(days=2),
        raise_on_error=False,
    )
    assert not result.success
    errors = failure_messages(result)
    assert f"{END + dt.timedelta(days=2)} has not ended on chain yet" in errors
    assert not any(warehouse.table_exists(t) for t in EVM_TABLES)


def test_the_shipped_balance_reader_is_its_source_compiled(tmp_path):
    """The pipeline ships BalanceReader's runtime code (it needs no compiler at run time):
    it must be what its source compiles to with the pinned solc (build.js)."""
    import subprocess
    from pathlib import Path

    from assets.ingest.evm import extract

    contracts = Path(extract.__file__).with_name("contracts")
    out = tmp_path / "reader.hex"
    subprocess.run(["node", str(contracts / "build.js"), str(out)], check=True, timeout=120)
    assert out.read_text().strip() == extract.READER_CODE


def _late_token_chain(node_url: str):
    """Arbitrum's tokens on a fresh anvil: USDT0 from block 1, native USDC deployed at block
    3 and minted at block 4 (as it was, after the chain's other token). Returns the chain,
    the wallet holding everything, closing blocks 1, 2, 4 and 5 and the planted truth:
    (token, block) -> supply, which is also the wallet's balance."""
    from assets.ingest.evm.blocks import ClosingBlock
    from core.chains import CONFIGURED
    from sandbox.chain import (
        BRIDGE,
        CONTRACTS,
        HOLDERS,
        MINTER,
        TX_GAS,
        Rpc,
        calldata,
        compile_contracts,
    )

    chain = next(c for c in CONFIGURED if c.name == "arbitrum")
    usdt, usdc = (next(t for t in chain.tokens if t.symbol == s) for s in ("USDT", "USDC"))
    code = compile_contracts()
    rpc, wallet = Rpc(node_url), HOLDERS[0]

    def block(*calls: tuple[str, str, str, tuple]) -> None:
        for sender, to, signature, args in calls:
            data = calldata(signature, *args)
            tx = {"from": sender, "to": to, "data": data, "gas": TX_GAS, "gasPrice": "0x1"}
            rpc("eth_sendTransaction", tx)
        rpc("evm_mine")

    rpc("anvil_autoImpersonateAccount", True)
    for sender in (BRIDGE, MINTER):
        rpc("anvil_setBalance", sender, hex(10**24))
    rpc("anvil_setCode", usdt.address, code[CONTRACTS[usdt.standard]]["runtime"])
    block(
        (BRIDGE, usdt.address, "initialize(address,uint8)", (BRIDGE, 6)),
        (BRIDGE, usdt.address, "bridgeMint(address,uint256)", (wallet, 7_000_000)),
    )
    block()  # block 2: USDC has no code yet
    block()
    # anvil sets code in the newest block's state: block 3, which no closing block is
    rpc("anvil_setCode", usdc.address, code[CONTRACTS[usdc.standard]]["runtime"])
    block(
        (MINTER, usdc.address, "initialize(address,uint8)", (MINTER, 6)),
        (MINTER, usdc.address, "configureMinter(address,uint256)", (MINTER, 2**255)),
        (MINTER, usdc.address, "mint(address,uint256)", (wallet, 5_000_000)),
    )
    block()
    blocks = (1, 2, 4, 5)
    closing = [ClosingBlock(D(2023, 6, n), n, 0, "0x") for n in blocks]
    truth = {("USDT", n): 7_000_000 for n in blocks}
    truth |= {("USDC", n): 0 if n < 3 else 5_000_000 for n in blocks}
    return chain, wallet, closing, truth


def test_a_token_deployed_inside_the_window_reads_zero_before_its_code():
    """A window starting before a token existed (Arbitrum's native USDC, 2023) reads its
    supply and every wallet's balance as 0 at the closing blocks where it has no code yet,
    and the planted amounts from its deployment on, from archive state as the reads run.
    Only the calls that returned no data cost a getCode each, and one at the latest block."""
    from assets.ingest.evm.extract import balances, token_supply
    from sandbox.chain import Anvil

    with Anvil(D(2023, 6, 1), chain_id=42161) as node, RpcProxy(node.url) as proxy:
        chain, wallet, closing, truth = _late_token_chain(node.url)
        rpc = EvmRpc(chain=chain.name, url=proxy.url)
        supply = token_supply(rpc, chain, closing)
        held = balances(rpc, chain, [wallet], closing)
    rows = supply.iter_rows(named=True)
    assert {(r["token"], r["block_number"]): int(r["supply_raw"]) for r in rows} == truth
    rows = held.iter_rows(named=True)
    assert {(r["token"], r["block_number"]): int(r["balance_raw"]) for r in rows} == truth
    # USDC at blocks 1 and 2, and at the latest: for the supply, and again for the balances
    assert proxy.calls["eth_getCode"] == 3 + 3


def test_a_token_address_without_a_contract_fails_naming_it():
    """No code at a configured token address, then or now, where the chain's other token
    answers: a wrong address in core/chains.yaml, not a token deployed later. The supply
    read fails naming it, and so does the balance read (which would otherwise read zeros)."""
    import dataclasses

    from assets.ingest.evm.extract import balances, token_supply
    from sandbox.chain import HOLDERS, Anvil

    with Anvil(D(2023, 6, 1), chain_id=42161) as node:
        chain, _, closing, _ = _late_token_chain(node.url)
        wrong = "0x000000000000000000000000000000000000dEaD"
        tokens = (dataclasses.replace(chain.tokens[0], address=wrong), chain.tokens[1])
        rpc, bad = EvmRpc(chain=chain.name, url=node.url), dataclasses.replace(chain, tokens=tokens)
        later = closing[2:]  # USDC answers there
        with pytest.raises(ValueError, match="no contract at token address") as err:
            token_supply(rpc, bad, later)
        assert wrong in str(err.value) and "core/chains.yaml" in str(err.value)
        with pytest.raises(ValueError, match="no contract at token address") as err:
            balances(rpc, bad, [HOLDERS[0]], later)
        assert wrong in str(err.value)
        # where no token answers (before USDC existed), nothing is taken for zero
        with pytest.raises(ValueError, match="no token of arbitrum answered at block 1"):
            token_supply(rpc, bad, closing)


class _ScriptedNode:
    """Answers eth_calls from a script, eth_getCode from a dict: what a node (or the backends
    behind a provider) said, without running anything."""

    def __init__(self, answer, code=None):
        self.answer, self.code = answer, code or {}

    def pairs_per_call(self, most):
        return most

    def eth_calls(self, calls, code=None):
        return [self.answer(to, data, block) for to, data, block in calls]

    def batch(self, calls, errors="raise"):
        return [self.code.get((a, b), "0x") for _, (a, b) in calls]


def _closing(*numbers):
    from assets.ingest.evm.blocks import ClosingBlock

    return [
        ClosingBlock(D(2024, 1, 1) + dt.timedelta(days=i), n, 0, "0x")
        for i, n in enumerate(numbers)
    ]


def test_a_token_missing_after_it_answered_fails_within_and_across_parts():
    """A deployed contract does not go away: a token answering no data at a block later than
    one it answered at is a backend without that block's state, not a zero supply, whether
    the two blocks are in one read or in parts read one after the other."""
    from assets.ingest.evm.extract import token_supply
    from core.chains import CONFIGURED

    chain = CONFIGURED[0]
    usdt, usdc = chain.tokens
    word = "0x" + f"{5:064x}"
    gone = {(usdc.address, 300)}
    node = _ScriptedNode(lambda to, data, block: "0x" if (to, block) in gone else word)
    node.code = {(usdc.address, "latest"): "0x60"}
    with pytest.raises(ValueError, match="though it answered at the earlier block 100"):
        token_supply(node, chain, _closing(100, 300))
    first_code: dict[str, int] = {}
    token_supply(node, chain, _closing(100, 200), first_code)
    assert first_code == {usdt.address: 100, usdc.address: 100}
    with pytest.raises(ValueError, match="the earlier block 100"):
        token_supply(node, chain, _closing(300), first_code)
    # before it ever answered: a token older than the chain's anchor (Ethereum's USDC) has no
    # excuse, a backend lost that state; one configured as deployed after it reads 0 there
    node.answer = lambda to, data, block: "0x" if (to, block) == (usdc.address, 50) else word
    with pytest.raises(ValueError, match="existed before the chain's anchor"):
        token_supply(node, chain, _closing(50, 100), {})
    arbitrum = next(c for c in CONFIGURED if c.name == "arbitrum")
    late = next(t for t in arbitrum.tokens if t.deployed_after_anchor)
    node.answer = lambda to, data, block: "0x" if (to, block) == (late.address, 50) else word
    node.code = {(late.address, "latest"): "0x60"}
    rows = token_supply(node, arbitrum, _closing(50, 100), {})
    assert rows.filter(pl.col("token") == late.symbol)["supply_raw"].to_list() == [0, 5]


def test_balance_reader_calls_of_one_block_must_agree_on_code():
    """A block whose addresses need several BalanceReader calls: if one call's backend found
    no code (zero balances) and another's did, the read fails rather than writing zeros."""
    from assets.ingest.evm import extract
    from core.chains import CONFIGURED

    chain = CONFIGURED[0]
    wallets = [f"0x{i:040x}" for i in range(1, 5)]
    calls = []

    def answer(to, data, block):
        calls.append(data)
        holders = (len(data) - 2 - 64 - 40 * len(chain.tokens)) // 40
        pruned = len(calls) == 2  # the second call of the block reached a pruned backend
        flags = "".join(f"{0 if pruned else 1:064x}" for _ in chain.tokens)
        return "0x" + flags + "".join(f"{7:064x}" for _ in range(holders * len(chain.tokens)))

    node = _ScriptedNode(answer)
    with pytest.raises(ValueError, match="found code at different tokens"):
        extract._balances(node, chain, wallets, _closing(100), 2, None)
    calls.clear()
    node.answer = lambda to, data, block: "0x" + "2".rjust(64, "0") * 2 + "0" * 64 * 8
    with pytest.raises(ValueError, match="a code flag that is neither 0 nor 1"):
        extract._balances(node, chain, wallets, _closing(100), 4, None)
