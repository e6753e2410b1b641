"""The sandbox chains: real event/selector ABI, and chains that say what the ground truth says.

Each chain is read here with plain JSON-RPC (eth_call, eth_getLogs, eth_getBlockByNumber),
independently of the bookkeeping in sandbox/chain.py that produced the ground truth. Every
configured chain is planted (Ethereum and Arbitrum, whatever STABLEFLOW_CHAINS says), with
the real label files.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import defaultdict

import polars as pl
import pytest
from eth_utils import keccak, to_checksum_address

from assets.ingest.cctp import load_cctp_minters
from assets.ingest.labels import load_labels
from core.chains import CONFIGURED
from sandbox.chain import (
    CLAIMS,
    CONTRACTS,
    CROSSINGS,
    IMPLEMENTATION_SLOT,
    MINTER,
    NEAR_LOW,
    PROXIED,
    TAXONOMIES,
    WALLETS,
    WEIGHTS,
    Anvil,
    GroundTruth,
    Rpc,
    calldata,
    compile_contracts,
    noncirculating_wallets,
    plant_scenario,
    story_problems,
    supply_path,
)
from sandbox.world import planted_chains, sandbox_environment

# Copied from /work/shared/data/abi (event_topics_usdt_usdc.csv and the *.abi.json files):
# the real mainnet topic0s, with which parameters are indexed.
TRANSFER = (
    "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef",
    [True, True, False],
)
REAL_EVENTS = {
    "TetherToken": {
        "Transfer(address,address,uint256)": TRANSFER,
        "Issue(uint256)": (
            "0xcb8241adb0c3fdb35b70c24ce35c5eb0c17af7431c99f827d44a445ca624176a",
            [False],
        ),
        "Redeem(uint256)": (
            "0x702d5967f45f6513a38ffc42d6ba9bf230bd40e8f53b16363c7eb4fd2deb9a44",
            [False],
        ),
        "AddedBlackList(address)": (
            "0x42e160154868087d6bfdc0ca23d96a1c1cfa32f1b72ba9ba27b69b98a0d819dc",
            [False],
        ),
        "DestroyedBlackFunds(address,uint256)": (
            "0x61e6e66b0d6339b2980aecc6ccc0039736791f0ccde9ed512e789a7fbdd698c6",
            [False, False],
        ),
    },
    "FiatToken": {
        "Transfer(address,address,uint256)": TRANSFER,
        "Mint(address,address,uint256)": (
            "0xab8530f87dc9b59234c4623bf917212bb2536d647574c8e7e5da92c2ede0c9f8",
            [True, True, False],
        ),
        "Burn(address,uint256)": (
            "0xcc16f5dbb4873280815c1ee09dbd06736cffcc184412cf7a71a0fdb75d397ca5",
            [True, False],
        ),
        "MinterConfigured(address,uint256)": (
            "0x46980fca912ef9bcdbd36877427b6b90e860769f604e89c0e67720cece530d20",
            [True, False],
        ),
    },
    # A bridged ERC-20 has no event but Transfer: its mints and burns are Transfers from/to 0x0.
    "BridgedToken": {"Transfer(address,address,uint256)": TRANSFER},
}
# Real selectors (from the same ABI files; BridgedToken's bridge functions are those of
# Arbitrum's token-bridge L2 tokens, IArbToken).
ERC20 = {
    "totalSupply()": "0x18160ddd",
    "balanceOf(address)": "0x70a08231",
    "decimals()": "0x313ce567",
    "transfer(address,uint256)": "0xa9059cbb",
}
REAL_SELECTORS = {
    "TetherToken": {
        **ERC20, "issue(uint256)": "0xcc872b66", "redeem(uint256)": "0xdb006a75",
        "addBlackList(address)": "0x0ecb93c0", "destroyBlackFunds(address)": "0xf3bdc228",
        "getBlackListStatus(address)": "0x59bf1abe", "isBlackListed(address)": "0xe47d6060",
        "owner()": "0x8da5cb5b",
    },
    "FiatToken": {
        **ERC20, "mint(address,uint256)": "0x40c10f19", "burn(uint256)": "0x42966c68",
        "configureMinter(address,uint256)": "0x4e44d956", "isMinter(address)": "0xaa271e1a",
        "minterAllowance(address)": "0x8a6db9c3", "owner()": "0x8da5cb5b",
    },
    "BridgedToken": {
        **ERC20, "bridgeMint(address,uint256)": "0x8c2a993e",
        "bridgeBurn(address,uint256)": "0x74f4f547", "l2Gateway()": "0x8fa74a0e",
    },
}  # fmt: skip
# Sets the owner and the decimals after anvil_setCode (no constructor).
SANDBOX_ONLY = {"initialize(address,uint8)"}

START, END = dt.date(2021, 1, 1), dt.date(2021, 1, 10)
CHAIN = {c.name: c for c in CONFIGURED}
ZERO = "0x" + "0" * 64
TOPIC = {name: "0x" + keccak(text=sig).hex() for name, sig in [
    ("Transfer", "Transfer(address,address,uint256)"), ("Issue", "Issue(uint256)"),
    ("Redeem", "Redeem(uint256)"), ("DestroyedBlackFunds", "DestroyedBlackFunds(address,uint256)"),
    ("Mint", "Mint(address,address,uint256)"), ("Burn", "Burn(address,uint256)"),
]}  # fmt: skip
ISSUANCE = {"tether": ["Issue", "Redeem", "DestroyedBlackFunds"], "fiattoken": ["Mint", "Burn"]}


def _signature(entry: dict) -> str:
    def typ(p):
        if p["type"].startswith("tuple"):
            return "(" + ",".join(typ(c) for c in p["components"]) + ")" + p["type"][5:]
        return p["type"]

    return f"{entry['name']}({','.join(typ(p) for p in entry['inputs'])})"


@pytest.mark.parametrize("contract", list(REAL_SELECTORS))
def test_contract_abi_matches_mainnet(contract):
    abi = compile_contracts()[contract]["abi"]
    events = {
        _signature(e): (
            "0x" + keccak(text=_signature(e)).hex(),
            [p["indexed"] for p in e["inputs"]],
        )
        for e in abi
        if e["type"] == "event"
    }
    assert events == REAL_EVENTS[contract]
    functions = {
        _signature(f): "0x" + keccak(text=_signature(f)).hex()[:8]
        for f in abi
        if f["type"] == "function"
    }
    assert set(functions) - SANDBOX_ONLY == set(REAL_SELECTORS[contract])
    for signature, selector in REAL_SELECTORS[contract].items():
        assert functions[signature] == selector, signature


@pytest.fixture(scope="module")
def labels():
    return load_labels()


@pytest.fixture(scope="module", params=list(CHAIN))
def planted(request, labels):
    chain = CHAIN[request.param]
    with Anvil(START, chain_id=chain.chain_id) as node:
        truth = plant_scenario(node.url, labels, START, END, chain)
        yield chain, Rpc(node.url), truth


def _call(rpc: Rpc, to: str, data: str, block: int) -> int:
    return int(rpc("eth_call", {"to": to, "data": data}, hex(block)), 16)


def _logs(rpc: Rpc, address: str, truth: GroundTruth, topics: list | None = None) -> list[dict]:
    first = truth.blocks["closing_block"].min() - 2  # the first day's blocks (at most two)
    last = truth.blocks["closing_block"].max()
    return rpc(
        "eth_getLogs",
        {
            "address": address,
            "topics": topics or [],
            "fromBlock": hex(max(first, 2)),
            "toBlock": hex(last),
        },
    )


def _day_of(truth: GroundTruth):
    closing = truth.blocks.sort("date").select("date", "closing_block").rows()

    def day(block: int) -> dt.date:
        return next(d for d, close in closing if block <= close)

    return day


def test_the_node_is_the_configured_chain(planted):
    chain, rpc, truth = planted
    assert int(rpc("eth_chainId"), 16) == chain.chain_id
    for name in GroundTruth.TABLES:
        assert set(getattr(truth, name)["chain"]) == {chain.name}, name
    for token in chain.tokens:
        assert _call(rpc, token.address, calldata("decimals()"), 1) == token.decimals


def test_blocks_close_each_day(planted):
    _, rpc, truth = planted
    days = (END - START).days + 1
    assert truth.blocks["date"].to_list() == [START + dt.timedelta(days=i) for i in range(days)]
    for day, _, block, _ in truth.blocks.rows():
        next_day = day + dt.timedelta(days=1)
        midnight = int(dt.datetime.combine(next_day, dt.time(), dt.UTC).timestamp())
        closing = int(rpc("eth_getBlockByNumber", hex(block), False)["timestamp"], 16)
        after = int(rpc("eth_getBlockByNumber", hex(block + 1), False)["timestamp"], 16)
        assert closing < midnight <= after
    per_day = truth.blocks["closing_block"].diff().drop_nulls().to_list()
    assert set(per_day) == {1, 2}  # days with one block and days with two


def test_tokens_that_are_proxies_on_mainnet_are_proxies_here(planted):
    """Mainnet's and Arbitrum's USDC and Arbitrum's USDT0 are proxies: the token's address
    holds TokenProxy's code, whose EIP-1967 slot names the implementation, which holds the
    token's; Ethereum's USDT holds its own code. Calls through the proxy answer the same."""
    chain, rpc, truth = planted
    code = compile_contracts()
    last = hex(truth.blocks["closing_block"].max())
    for token in chain.tokens:
        held = rpc("eth_getCode", token.address, last)
        own = code[CONTRACTS[token.standard]]["runtime"]
        if token.standard not in PROXIED:
            assert held == own and token.symbol == "USDT" and chain.name == "ethereum"
            continue
        assert held == code["TokenProxy"]["runtime"]
        slot = rpc("eth_getStorageAt", token.address, IMPLEMENTATION_SLOT, last)
        implementation = to_checksum_address("0x" + slot[-40:])
        assert rpc("eth_getCode", implementation, last) == own
        assert _call(rpc, token.address, calldata("decimals()"), int(last, 16)) == token.decimals


def test_supply_and_reserves_at_closing_blocks(planted, labels):
    chain, rpc, truth = planted
    address = {t.symbol: t.address for t in chain.tokens}
    closing = dict(truth.blocks.select("date", "closing_block").iter_rows())
    for day, token, supply in truth.supply.select("date", "token", "supply_raw").rows():
        assert _call(rpc, address[token], calldata("totalSupply()"), closing[day]) == supply
    for day, _, token, wallet, _, balance, _ in truth.reserves.rows():
        held = _call(rpc, address[token], calldata("balanceOf(address)", wallet), closing[day])
        assert held == balance
    # what circulates follows the supply path, to the base unit (the recorded Ethereum series
    # on these days); the seed's noncirculating wallets hold the rest of totalSupply
    for token in chain.tokens:
        planted = truth.supply.filter(pl.col("token") == token.symbol).sort("date")
        circulating = planted["supply_raw"] - planted["noncirculating_raw"]
        assert circulating.to_list() == [
            supply_path(chain)[token.symbol][d] for d in planted["date"]
        ]
    held_back = noncirculating_wallets(chain.name)
    for day, token, held in truth.supply.select("date", "token", "noncirculating_raw").rows():
        wallets = held_back.get(token, [])
        assert held == sum(
            _call(rpc, address[token], calldata("balanceOf(address)", w), closing[day])
            for w in wallets
        )
        assert (held > 0) == bool(wallets)
    # labelled wallets of the chain that the scenario does not use stay empty
    unused = sorted(set(labels.addresses(chain.name)) - set(truth.reserves["address"]))
    last = hex(truth.blocks["closing_block"].max())
    held = rpc.batch(
        [
            ("eth_call", [{"to": a, "data": calldata("balanceOf(address)", w)}, last])
            for a in address.values()
            for w in unused
        ]
    )
    assert unused and all(int(h, 16) == 0 for h in held)


def test_issuance_and_large_events_from_logs(planted):
    chain, rpc, truth = planted
    day = _day_of(truth)
    rows = []
    for token in chain.tokens:
        if token.standard == "erc20":
            # a bridge's mints and burns are Transfers from and to 0x0, and nothing else
            logs = _logs(rpc, token.address, truth)
            assert logs and {log["topics"][0] for log in logs} == {TOPIC["Transfer"]}
            found = [(log, "Transfer") for log in logs if ZERO in log["topics"][1:3]]
            assert {ZERO == log["topics"][1] for log, _ in found} == {True, False}  # mints, burns
        else:
            found = [
                (log, event)
                for event in ISSUANCE[token.standard]
                for log in _logs(rpc, token.address, truth, [TOPIC[event]])
            ]
        for log, event in found:
            amount = int(log["data"][-64:], 16)  # the last (or only) data word in every one
            block = int(log["blockNumber"], 16)
            mint = event in ("Issue", "Mint") or log["topics"][1:2] == [ZERO]
            # Mint(minter, ...) and Burn(burner, ...) name who did it in topic1
            operator = (
                to_checksum_address("0x" + log["topics"][1][-40:])
                if event in ("Mint", "Burn")
                else None
            )
            rows.append(
                (
                    day(block),
                    chain.name,
                    token.symbol,
                    event,
                    log["transactionHash"],
                    block,
                    amount,
                    operator,
                    mint,
                )
            )
    columns = truth.large_events.columns[:8]
    from_logs = pl.DataFrame(rows, schema=[*columns, "mint"], orient="row")
    key = ["tx_hash", "event", "amount_raw"]
    assert from_logs.drop("mint").sort(key).equals(truth.large_events.select(columns).sort(key))
    # Circle's cross-chain contracts of the seed mint and burn USDC, and the truth says how much
    # by each protocol (CCTP's TokenMinters; Gateway's GatewayMinter and GatewayWallet)
    seed = load_cctp_minters().filter(pl.col("chain") == chain.name)
    crossing = {p: set(seed.filter(pl.col("protocol") == p)["address"]) for p in CROSSINGS}
    minted, burned = defaultdict(int), defaultdict(int)
    for d, _, token, _, _, _, amount, operator, mint in rows:
        (minted if mint else burned)[(d, token)] += amount
        for p, contracts in crossing.items():
            (minted if mint else burned)[(d, token, p)] += amount if operator in contracts else 0
    parts = [f"{side}_{p}_raw" for p in CROSSINGS for side in ("minted", "burned")]
    for d, token, m, b, *split in truth.issuance.select(
        "date", "token", "minted_raw", "burned_raw", *parts
    ).rows():
        assert (minted[(d, token)], burned[(d, token)]) == (m, b)
        assert [
            (minted if side == "minted" else burned)[(d, token, p)]
            for p in CROSSINGS
            for side in ("minted", "burned")
        ] == split
    usdc = truth.issuance.filter(pl.col("token") == "USDC")
    assert all((usdc[part] > 0).any() for part in parts), "every protocol moves USDC both ways"
    issuer = usdc["minted_raw"] - usdc["minted_cctp_raw"] - usdc["minted_gateway_raw"]
    assert (issuer > 0).any()  # and the issuer's
    assert set(truth.large_events["operator"].drop_nulls()) == {
        MINTER,
        *set().union(*crossing.values()),
    }
    gross = truth.issuance.filter((pl.col("minted_raw") > 0) & (pl.col("burned_raw") > 0))
    idle = truth.issuance.filter((pl.col("minted_raw") == 0) & (pl.col("burned_raw") == 0))
    assert gross.height and idle.height
    for token in chain.tokens:
        destroyed = truth.large_events.filter(
            (pl.col("token") == token.symbol) & (pl.col("event") == "DestroyedBlackFunds")
        )
        assert destroyed.height == (token.standard == "tether")  # once, on tether tokens only
        if token.standard == "tether":  # Issue/Redeem emit no Transfer: none touches 0x0
            transfers = _logs(rpc, token.address, truth, [TOPIC["Transfer"]])
            assert all(ZERO not in log["topics"][1:] for log in transfers)


def test_flows_from_transfer_logs(planted, labels):
    chain, rpc, truth = planted
    day = _day_of(truth)
    owner = dict(labels.on_chain(chain.name).frame.select("address", "exchange").iter_rows())
    used = set(truth.flows["exchange"])
    flows: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    kinds_seen = set()
    for token in chain.tokens:
        for log in _logs(rpc, token.address, truth, [TOPIC["Transfer"]]):
            src, dst = (to_checksum_address("0x" + t[-40:]) for t in log["topics"][1:3])
            a, b = owner.get(src), owner.get(dst)
            d, value = day(int(log["blockNumber"], 16)), int(log["data"], 16)
            if a and a == b:
                kinds_seen.add("internal")
                continue
            if a in used:
                flows[(d, token.symbol, a)][1] += value
            if b in used:
                flows[(d, token.symbol, b)][0] += value
            kinds_seen.add(
                "exchange->exchange" if a and b else "inflow" if b else "outflow" if a else "other"
            )
    assert kinds_seen >= {"internal", "exchange->exchange", "inflow", "outflow"}
    for d, _, token, exchange, inflow, outflow, _, _ in truth.flows.rows():
        assert flows.pop((d, token, exchange), [0, 0]) == [inflow, outflow]
    assert not flows


def test_balances_go_to_the_big_venues(planted, labels):
    chain, _, truth = planted
    on_chain = labels.on_chain(chain.name).frame
    venues = set(truth.reserves["exchange"])
    assert venues == set(WEIGHTS[chain.name]) & set(on_chain["exchange"])
    wallets = truth.reserves.group_by("exchange").agg(pl.col("address").n_unique())
    assert wallets["address"].max() <= WALLETS
    first = (
        truth.reserves.filter(pl.col("date") == START)
        .group_by("token", "exchange")
        .agg(pl.col("balance_raw").sum())
        .sort("balance_raw", descending=True)
    )
    for token in chain.tokens:
        shares = WEIGHTS[chain.name]
        biggest = max(venues, key=lambda v: shares[v][token.symbol])
        assert first.filter(pl.col("token") == token.symbol)["exchange"][0] == biggest
        held = first.filter(pl.col("token") == token.symbol)["balance_raw"].sum()
        supply = (  # what circulates: the path the shares are of
            truth.supply.filter((pl.col("date") == START) & (pl.col("token") == token.symbol))
            .select(pl.col("supply_raw") - pl.col("noncirculating_raw"))
            .item()
        )
        # a minority of the supply, as much as the table gives the venues the labels have
        share = sum(shares[v][token.symbol] for v in venues) / 100
        assert held / supply == pytest.approx(share, rel=0.01)
        assert 0.01 < held / supply < 0.5


def test_the_story_holds_under_both_taxonomies(planted, labels):
    chain, _, truth = planted
    assert story_problems(truth.story) == []
    # the story table is the reserves summed per kind, from the labels' two taxonomies
    derivatives = (
        pl.when("offers_derivatives").then(pl.lit("derivatives")).otherwise(pl.lit("spot"))
    )
    kinds = labels.exchanges.select(
        "exchange", "main_business", offers_derivatives=derivatives
    ).unpivot(index="exchange", variable_name="taxonomy", value_name="kind")
    daily = (
        truth.reserves.join(kinds, on="exchange")
        .group_by("token", "taxonomy", "kind", "date")
        .agg(pl.col("balance_tokens").sum())
        .sort("date")
    )
    assert set(truth.story["taxonomy"]) == set(TAXONOMIES)
    summary = ["first_tokens", "last_tokens", "min_tokens", "max_tokens"]
    for token, taxonomy, kind, *told in truth.story.select(
        "token", "taxonomy", "kind", *summary
    ).rows():
        series = daily.filter(
            (pl.col("token") == token) & (pl.col("taxonomy") == taxonomy) & (pl.col("kind") == kind)
        )["balance_tokens"]
        assert [series[0], series[-1], series.min(), series.max()] == pytest.approx(told)
    # the claims, on every chain: its labels have both kinds of venue
    story = {
        (tax, token, kind): last / first
        for tax, token, kind, first, last in truth.story.select(
            "taxonomy", "token", "kind", "first_tokens", "last_tokens"
        ).rows()
    }
    assert {key[1:] for key in story if key[0] == "offers_derivatives"} == {
        (t.symbol, k) for t in chain.tokens for k in ("spot", "derivatives")
    }
    for key, (lowest, highest) in CLAIMS.items():
        assert lowest <= story[key] <= highest, key
    spot = truth.story.filter(
        (pl.col("taxonomy") == "offers_derivatives")
        & (pl.col("token") == "USDT")
        & (pl.col("kind") == "spot")
    )
    assert spot["last_tokens"][0] <= spot["min_tokens"][0] * (1 + NEAR_LOW)


def test_story_problems_names_a_broken_claim(planted):
    _, _, truth = planted
    usdc_spot = (
        (pl.col("taxonomy") == "offers_derivatives")
        & (pl.col("token") == "USDC")
        & (pl.col("kind") == "spot")
    )
    broken = truth.story.with_columns(
        last_tokens=pl.when(usdc_spot).then("first_tokens").otherwise("last_tokens")
    )
    [problem] = story_problems(broken)
    assert "USDC spot (offers_derivatives): last/first 1.000" in problem


def test_deterministic(planted, labels):
    chain, _, truth = planted
    with Anvil(START, chain_id=chain.chain_id) as node:
        again = plant_scenario(node.url, labels, START, END, chain)
    for name in GroundTruth.TABLES:
        assert getattr(again, name).equals(getattr(truth, name)), name


def test_a_third_chain_plants_from_configuration_alone(labels, tmp_path):
    """Base added to chains.yaml (native USDC, bridged USDT): no code change, the sandbox
    plants it from the labels' Base wallets with the default weights and levels, and the
    story holds on it too."""
    import yaml

    from core.chains import CHAINS_FILE, load_chains

    config = yaml.safe_load(CHAINS_FILE.read_text())
    config["base"] = {
        "rpc_url_env": "STABLEFLOW_BASE_RPC_URL",
        "chain_id": 8453,
        "anchor": {"number": 1, "timestamp": 1686789349},
        "confirmations": 64,
        "tokens": {
            "USDT": {
                "address": "0xfde4C96c8593536E31F229EA8f37b2ADa2699bb2",
                "decimals": 6,
                "standard": "erc20",
                "bridged": True,
            },
            "USDC": {
                "address": "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
                "decimals": 6,
                "standard": "fiattoken",
            },
        },
    }
    path = tmp_path / "chains.yaml"
    path.write_text(yaml.safe_dump(config))
    base = next(c for c in load_chains(path) if c.name == "base")
    with Anvil(START, chain_id=base.chain_id) as node:
        truth = plant_scenario(node.url, labels, START, END, base)
    assert set(truth.supply["chain"]) == {"base"} and story_problems(truth.story) == []
    held = truth.reserves.filter(pl.col("balance_raw") > 0)["exchange"].unique().to_list()
    assert held and set(held) <= set(labels.on_chain("base").frame["exchange"])


def test_a_node_of_another_chain_is_refused(labels):
    with (
        Anvil(START, chain_id=CHAIN["arbitrum"].chain_id) as node,
        pytest.raises(RuntimeError, match="chain id 42161, ethereum is 1"),
    ):
        plant_scenario(node.url, labels, START, END, CHAIN["ethereum"])


def test_ground_truth_of_chains_roundtrips_through_parquet(planted, tmp_path):
    _, _, truth = planted
    both = GroundTruth.concat([truth, truth])
    assert all(getattr(both, n).height == 2 * getattr(truth, n).height for n in GroundTruth.TABLES)
    truth.write(tmp_path)
    back = GroundTruth.read(tmp_path)
    for name in GroundTruth.TABLES:
        assert back.__dict__[name].equals(truth.__dict__[name]), name
    assert isinstance(back.supply["supply_raw"][0], int)


def test_sandbox_environment_names_exactly_the_planted_chains():
    env = sandbox_environment("http://replay", {"arbitrum": "http://a", "ethereum": "http://e"})
    assert env["STABLEFLOW_CHAINS"] == "ethereum,arbitrum"  # in chains.yaml's order
    assert env["STABLEFLOW_WORLD"] == "sandbox"
    assert env["STABLEFLOW_ETHEREUM_RPC_URL"] == "http://e"
    assert env["STABLEFLOW_ARBITRUM_RPC_URL"] == "http://a"
    one = sandbox_environment("http://replay", {"arbitrum": "http://a"})
    assert one["STABLEFLOW_CHAINS"] == "arbitrum" and "STABLEFLOW_ETHEREUM_RPC_URL" not in one
    with pytest.raises(ValueError, match="tron"):
        sandbox_environment("http://replay", {"tron": "http://t"})


def test_full_window_on_every_chain_keeps_oldest_state(labels):
    start, end = dt.date(2021, 1, 1), dt.date(2023, 10, 24)
    compile_contracts()
    began = time.monotonic()
    with planted_chains(start, end, labels, CONFIGURED) as (urls, truth):
        elapsed = time.monotonic() - began
        assert story_problems(truth.story) == []
        for chain in CONFIGURED:
            rpc = Rpc(urls[chain.name])
            assert int(rpc("eth_blockNumber"), 16) > 1800
            # the setup block and the first day's closing block, after ~1,900 newer blocks
            token = chain.tokens[0]
            supply = _call(rpc, token.address, calldata("totalSupply()"), 1)
            wallets = noncirculating_wallets(chain.name).get(token.symbol, [])
            held = sum(
                _call(rpc, token.address, calldata("balanceOf(address)", w), 1) for w in wallets
            )
            assert supply - held == supply_path(chain)[token.symbol][start]
            assert rpc("eth_getBlockByNumber", "0x1", False)["number"] == "0x1"
            address = {t.symbol: t.address for t in chain.tokens}
            first = truth.blocks.filter(pl.col("chain") == chain.name)["closing_block"][0]
            for _, _, token, wallet, _, balance, _ in truth.reserves.filter(
                (pl.col("date") == start) & (pl.col("chain") == chain.name)
            ).rows():
                held = _call(rpc, address[token], calldata("balanceOf(address)", wallet), first)
                assert held == balance
    print(f"planted {start}..{end} on {', '.join(urls)} in {elapsed:.1f} s")
    assert elapsed < 60
