"""The sandbox chain: real event/selector ABI, and a chain that says what the ground truth says.

The chain is read here with plain JSON-RPC (eth_call, eth_getLogs, eth_getBlockByNumber),
independently of the bookkeeping in sandbox/chain.py that produced the ground truth.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict

import polars as pl
import pytest
from eth_utils import keccak, to_checksum_address

from sandbox.chain import (
    USDC,
    USDT,
    Anvil,
    GroundTruth,
    Rpc,
    calldata,
    compile_contracts,
    plant_scenario,
    supply_path,
)

# Copied from /work/shared/data/abi (event_topics_usdt_usdc.csv and the *.abi.json files):
# the real mainnet topic0s, with which parameters are indexed.
REAL_EVENTS = {
    "TetherToken": {
        "Transfer(address,address,uint256)": ("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef", [True, True, False]),
        "Issue(uint256)": ("0xcb8241adb0c3fdb35b70c24ce35c5eb0c17af7431c99f827d44a445ca624176a", [False]),
        "Redeem(uint256)": ("0x702d5967f45f6513a38ffc42d6ba9bf230bd40e8f53b16363c7eb4fd2deb9a44", [False]),
        "AddedBlackList(address)": ("0x42e160154868087d6bfdc0ca23d96a1c1cfa32f1b72ba9ba27b69b98a0d819dc", [False]),
        "DestroyedBlackFunds(address,uint256)": ("0x61e6e66b0d6339b2980aecc6ccc0039736791f0ccde9ed512e789a7fbdd698c6", [False, False]),
    },
    "FiatToken": {
        "Transfer(address,address,uint256)": ("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef", [True, True, False]),
        "Mint(address,address,uint256)": ("0xab8530f87dc9b59234c4623bf917212bb2536d647574c8e7e5da92c2ede0c9f8", [True, True, False]),
        "Burn(address,uint256)": ("0xcc16f5dbb4873280815c1ee09dbd06736cffcc184412cf7a71a0fdb75d397ca5", [True, False]),
        "MinterConfigured(address,uint256)": ("0x46980fca912ef9bcdbd36877427b6b90e860769f604e89c0e67720cece530d20", [True, False]),
    },
}
# Real selectors (from the same ABI files).
REAL_SELECTORS = {
    "TetherToken": {
        "totalSupply()": "0x18160ddd", "balanceOf(address)": "0x70a08231", "decimals()": "0x313ce567",
        "transfer(address,uint256)": "0xa9059cbb", "issue(uint256)": "0xcc872b66", "redeem(uint256)": "0xdb006a75",
        "addBlackList(address)": "0x0ecb93c0", "destroyBlackFunds(address)": "0xf3bdc228",
        "getBlackListStatus(address)": "0x59bf1abe", "isBlackListed(address)": "0xe47d6060", "owner()": "0x8da5cb5b",
    },
    "FiatToken": {
        "totalSupply()": "0x18160ddd", "balanceOf(address)": "0x70a08231", "decimals()": "0x313ce567",
        "transfer(address,uint256)": "0xa9059cbb", "mint(address,uint256)": "0x40c10f19", "burn(uint256)": "0x42966c68",
        "configureMinter(address,uint256)": "0x4e44d956", "isMinter(address)": "0xaa271e1a",
        "minterAllowance(address)": "0x8a6db9c3", "owner()": "0x8da5cb5b",
    },
}  # fmt: skip
SANDBOX_ONLY = {"initialize(address)"}  # sets the owner after anvil_setCode (no constructor)

# Real exchange addresses (Etherscan labels); the kinds are this test's own assignment.
# Huobi has one address only, so the scenario (top three exchanges per kind) leaves it unused.
LABELS = pl.DataFrame(
    [
        ("0x71660c4005ba85c37ccec55d0c4493e66fe775d3", "Coinbase", "spot"),
        ("0xa9d1e08c7793af67e9d92fe308d5697fb81d3e43", "Coinbase", "spot"),
        ("0x77696bb39917c91a0c3908d577d5e322095425ca", "Coinbase", "spot"),
        ("0x2910543af39aba0cd09dbb2d50200b3e800a63d2", "Kraken", "spot"),
        ("0xae2d4617c862309a3d75a0ffb358c7a5009c673f", "Kraken", "spot"),
        ("0x1151314c646ce4e0efd76d1af4760ae66a9fe30f", "Bitfinex", "spot"),
        ("0x36a85757645e8e8aec062a1dee289c7d615901ca", "Bitfinex", "spot"),
        ("0xab5c66752a9e8167967685f1450532fb96d5d24f", "Huobi", "spot"),
        ("0xeea81c4416d71cef071224611359f6f99a4c4294", "BitMEX", "derivatives"),
        ("0xfb8131c260749c7835a08ccbdb64728de432858e", "BitMEX", "derivatives"),
        ("0x904cc2b2694ffa78f04708d6f7de205108213126", "Deribit", "derivatives"),
        ("0x63f41034871535cee49996cc47719891fe03dff9", "Deribit", "derivatives"),
        ("0xa0f6121319a34f24653fb82addc8dd268af5b9e1", "Deribit", "derivatives"),
        ("0x6cc5f688a315f3dc28a7781717a9a798a59fda7b", "OKX", "derivatives"),
    ],
    schema=["address", "exchange", "kind"],
    orient="row",
).with_columns(pl.col("address").map_elements(to_checksum_address, return_dtype=pl.String))

START, END = dt.date(2021, 1, 1), dt.date(2021, 1, 10)
TOKENS = {"USDT": USDT, "USDC": USDC}
TOPIC = {name: "0x" + keccak(text=sig).hex() for name, sig in [
    ("Transfer", "Transfer(address,address,uint256)"), ("Issue", "Issue(uint256)"), ("Redeem", "Redeem(uint256)"),
    ("DestroyedBlackFunds", "DestroyedBlackFunds(address,uint256)"), ("Mint", "Mint(address,address,uint256)"),
    ("Burn", "Burn(address,uint256)"),
]}  # fmt: skip


def _signature(entry: dict) -> str:
    def typ(p):
        if p["type"].startswith("tuple"):
            return "(" + ",".join(typ(c) for c in p["components"]) + ")" + p["type"][5:]
        return p["type"]

    return f"{entry['name']}({','.join(typ(p) for p in entry['inputs'])})"


@pytest.mark.parametrize("contract", list(REAL_SELECTORS))
def test_contract_abi_matches_mainnet(contract):
    abi = compile_contracts()[contract]["abi"]
    events = {_signature(e): ("0x" + keccak(text=_signature(e)).hex(), [p["indexed"] for p in e["inputs"]])
              for e in abi if e["type"] == "event"}  # fmt: skip
    assert events == REAL_EVENTS[contract]
    functions = {_signature(f): "0x" + keccak(text=_signature(f)).hex()[:8] for f in abi if f["type"] == "function"}
    assert set(functions) - SANDBOX_ONLY == set(REAL_SELECTORS[contract])
    for signature, selector in REAL_SELECTORS[contract].items():
        assert functions[signature] == selector, signature


@pytest.fixture(scope="module")
def planted():
    with Anvil(START) as node:
        truth = plant_scenario(node.url, LABELS, START, END)
        yield Rpc(node.url), truth


def _call(rpc: Rpc, to: str, data: str, block: int) -> int:
    return int(rpc("eth_call", {"to": to, "data": data}, hex(block)), 16)


def _logs(rpc: Rpc, token: str, event: str, truth: GroundTruth) -> list[dict]:
    first = truth.blocks["closing_block"].min() - 2  # the first day's blocks (at most two)
    return rpc("eth_getLogs", {"address": TOKENS[token], "topics": [TOPIC[event]],
                               "fromBlock": hex(max(first, 2)), "toBlock": hex(truth.blocks["closing_block"].max())})  # fmt: skip


def _day_of(truth: GroundTruth):
    closing = truth.blocks.sort("date").rows()

    def day(block: int) -> dt.date:
        return next(d for d, close, _ in closing if block <= close)

    return day


def test_blocks_close_each_day(planted):
    rpc, truth = planted
    assert truth.blocks["date"].to_list() == [START + dt.timedelta(days=i) for i in range((END - START).days + 1)]
    for day, block, _ in truth.blocks.rows():
        midnight = int(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC).timestamp())
        closing = int(rpc("eth_getBlockByNumber", hex(block), False)["timestamp"], 16)
        after = int(rpc("eth_getBlockByNumber", hex(block + 1), False)["timestamp"], 16)
        assert closing < midnight <= after
    per_day = truth.blocks["closing_block"].diff().drop_nulls().to_list()
    assert set(per_day) == {1, 2}  # days with one block and days with two


def test_supply_and_reserves_at_closing_blocks(planted):
    rpc, truth = planted
    closing = dict(truth.blocks.select("date", "closing_block").iter_rows())
    for day, token, supply, _ in truth.supply.rows():
        assert _call(rpc, TOKENS[token], calldata("totalSupply()"), closing[day]) == supply
    for day, token, address, _, _, balance, _ in truth.reserves.rows():
        assert _call(rpc, TOKENS[token], calldata("balanceOf(address)", address), closing[day]) == balance
    # the recorded Ethereum supply, to the token
    assert truth.supply.filter(pl.col("token") == "USDT")["supply_raw"].to_list() == [
        supply_path()["USDT"][d] for d in truth.supply["date"].unique().sort()
    ]
    # labelled addresses the scenario does not use stay empty
    unused = set(LABELS["address"]) - set(truth.reserves["address"])
    assert "Huobi" not in set(truth.reserves["exchange"]) and unused
    for address in unused:
        assert _call(rpc, USDT, calldata("balanceOf(address)", address), truth.blocks["closing_block"].max()) == 0


def test_issuance_and_large_events_from_logs(planted):
    rpc, truth = planted
    day = _day_of(truth)
    rows = []
    for token, event in [("USDT", "Issue"), ("USDT", "Redeem"), ("USDT", "DestroyedBlackFunds"), ("USDC", "Mint"), ("USDC", "Burn")]:
        for log in _logs(rpc, token, event, truth):
            amount = int(log["data"][-64:], 16)  # the last (or only) data word in every one
            block = int(log["blockNumber"], 16)
            rows.append((day(block), token, event, log["transactionHash"], block, amount))
    from_logs = pl.DataFrame(rows, schema=truth.large_events.columns[:6], orient="row")
    key = ["tx_hash", "event"]
    assert from_logs.sort(key).equals(truth.large_events.select(from_logs.columns).sort(key))
    assert "DestroyedBlackFunds" in set(from_logs["event"])
    minted, burned = defaultdict(int), defaultdict(int)
    for d, token, event, _, _, amount in rows:
        (minted if event in ("Issue", "Mint") else burned)[(d, token)] += amount
    for d, token, m, b, _, _ in truth.issuance.rows():
        assert (minted[(d, token)], burned[(d, token)]) == (m, b)
    gross = truth.issuance.filter((pl.col("minted_raw") > 0) & (pl.col("burned_raw") > 0))
    idle = truth.issuance.filter((pl.col("minted_raw") == 0) & (pl.col("burned_raw") == 0))
    assert gross.height and idle.height
    # USDT issue/redeem emit no Transfer: no USDT Transfer touches the zero address
    zero = "0x" + "0" * 64
    assert all(zero not in log["topics"][1:] for log in _logs(rpc, "USDT", "Transfer", truth))


def test_flows_from_transfer_logs(planted):
    rpc, truth = planted
    day = _day_of(truth)
    owner = dict(LABELS.select("address", "exchange").iter_rows())
    used = set(truth.flows["exchange"])
    flows: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    kinds_seen = set()
    for token in TOKENS:
        for log in _logs(rpc, token, "Transfer", truth):
            src, dst = (to_checksum_address("0x" + t[-40:]) for t in log["topics"][1:3])
            a, b = owner.get(src), owner.get(dst)
            d, value = day(int(log["blockNumber"], 16)), int(log["data"], 16)
            if a and a == b:
                kinds_seen.add("internal")
                continue
            if a in used:
                flows[(d, token, a)][1] += value
            if b in used:
                flows[(d, token, b)][0] += value
            kinds_seen.add("exchange->exchange" if a and b else "inflow" if b else "outflow" if a else "other")
    assert kinds_seen >= {"internal", "exchange->exchange", "inflow", "outflow"}
    for d, token, exchange, _, inflow, outflow, _, _ in truth.flows.rows():
        assert flows.pop((d, token, exchange), [0, 0]) == [inflow, outflow]
    assert not flows


def test_planted_story(planted):
    _, truth = planted
    by = truth.reserves.group_by("date", "token", "kind").agg(pl.col("balance_raw").sum())

    def total(day, token, kind):
        return by.filter((pl.col("date") == day) & (pl.col("token") == token) & (pl.col("kind") == kind))["balance_raw"][0]

    assert total(END, "USDT", "derivatives") > total(START, "USDT", "derivatives")
    assert total(END, "USDT", "spot") < total(START, "USDT", "spot")
    assert total(END, "USDC", "spot") < total(START, "USDC", "spot")
    assert truth.reserves["balance_raw"].min() >= 0


def test_deterministic(planted):
    _, truth = planted
    with Anvil(START) as node:
        again = plant_scenario(node.url, LABELS, START, END)
    for name in GroundTruth.TABLES:
        assert getattr(again, name).equals(getattr(truth, name)), name


def test_ground_truth_roundtrips_through_parquet(planted, tmp_path):
    _, truth = planted
    truth.write(tmp_path)
    back = GroundTruth.read(tmp_path)
    for name in GroundTruth.TABLES:
        assert back.__dict__[name].equals(truth.__dict__[name]), name
    assert isinstance(back.supply["supply_raw"][0], int)


def test_full_window_keeps_oldest_state():
    start, end = dt.date(2021, 1, 1), dt.date(2023, 10, 24)
    with Anvil(start) as node:
        began = time.monotonic()
        truth = plant_scenario(node.url, LABELS, start, end)
        elapsed = time.monotonic() - began
        rpc = Rpc(node.url)
        assert int(rpc("eth_blockNumber"), 16) > 1800
        # the setup block and the first day's closing block, after ~1,900 newer blocks
        assert _call(rpc, USDT, calldata("totalSupply()"), 1) == supply_path()["USDT"][start]
        assert rpc("eth_getBlockByNumber", "0x1", False)["number"] == "0x1"
        first = truth.blocks["closing_block"][0]
        for _, token, address, _, _, balance, _ in truth.reserves.filter(pl.col("date") == start).rows():
            assert _call(rpc, TOKENS[token], calldata("balanceOf(address)", address), first) == balance
    print(f"planted {start}..{end} in {elapsed:.1f} s")
    assert elapsed < 120
