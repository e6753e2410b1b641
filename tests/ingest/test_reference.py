"""The second chain's configuration, erc20-standard mints and burns, and raw.data_world."""

import datetime as dt

import polars as pl

from assets.ingest.evm.blocks import ClosingBlock
from assets.ingest.evm.extract import DayOfBlock, issuance_events, issuance_filters
from assets.ingest.reference import world_rows
from core.chains import CONFIGURED, TRANSFER, ZERO_TOPIC, topic
from core.resources.evm import LOG_FIELDS

ARBITRUM = next(c for c in CONFIGURED if c.name == "arbitrum")
ETHEREUM = next(c for c in CONFIGURED if c.name == "ethereum")
HOLDER = "0x" + "ab" * 20


def _word(value: int | str) -> str:
    digits = value.removeprefix("0x") if isinstance(value, str) else f"{value:x}"
    return "0x" + digits.rjust(64, "0")


class FakeLogs:
    """Answers get_logs with the logs of a scripted chain that match each filter."""

    def __init__(self, logs: list[dict]):
        self.logs, self.queries = logs, []

    def get_logs(self, queries, first, last, held=()):  # a scripted chain holds its logs
        self.queries = queries
        rows = []
        for q, (address, topics) in enumerate(queries):
            for log in self.logs:
                if log["address"] != address:
                    continue
                if all(
                    want is None or log["topics"][i] in (want if isinstance(want, list) else [want])
                    for i, want in enumerate(topics)
                ):
                    rows.append({**{k: log[k] for k in LOG_FIELDS}, "query": q})
        return pl.DataFrame(rows, schema={**LOG_FIELDS, "query": pl.Int64})


def _log(address: str, topics: list[str], amount: int, block: int, index: int) -> dict:
    return {
        "address": address,
        "topics": topics,
        "data": _word(amount),
        "blockNumber": hex(block),
        "transactionHash": "0x" + f"{block:02x}{index:02x}" * 16,
        "logIndex": hex(index),
    }


def test_arbitrum_is_configuration_only():
    assert ARBITRUM.chain_id == 42161 and ARBITRUM.defillama_chain == "Arbitrum"
    # Nitro genesis: nodes hold no earlier state, so the search starts there
    assert (ARBITRUM.anchor.number, ARBITRUM.anchor.timestamp) == (22207817, 1661956342)
    usdt, usdc = ARBITRUM.tokens
    assert (usdt.standard, usdt.bridged, usdc.standard, usdc.bridged) == (
        "erc20",
        True,
        "fiattoken",
        False,
    )
    assert not any(t.bridged for t in ETHEREUM.tokens)


def test_erc20_mints_and_burns_are_transfers_from_and_to_zero():
    usdt = ARBITRUM.tokens[0].address
    assert issuance_filters(ARBITRUM)[:2] == [
        (0, [TRANSFER, ZERO_TOPIC]),
        (0, [TRANSFER, None, ZERO_TOPIC]),
    ]
    holder = _word(HOLDER)
    other = _word("0x" + "cd" * 20)
    logs = FakeLogs(
        [
            _log(usdt, [TRANSFER, ZERO_TOPIC, holder], 5_000_000, 11, 0),  # mint 5 USDT
            _log(usdt, [TRANSFER, holder, other], 1_000_000, 11, 1),  # a plain transfer
            _log(usdt, [TRANSFER, holder, ZERO_TOPIC], 2_000_000, 12, 0),  # burn 2 USDT
            _log(usdt, [TRANSFER, ZERO_TOPIC, ZERO_TOPIC], 7, 12, 1),  # 0x0 -> 0x0: none
        ]
    )
    day = dt.date(2023, 1, 1)
    closing = [
        ClosingBlock(day - dt.timedelta(days=1), 10, 0, "0x"),
        ClosingBlock(day, 12, 0, "0x"),
    ]
    events = issuance_events(logs, ARBITRUM, DayOfBlock(closing)).sort("block_number", "log_index")
    assert events.select("token", "event", "direction", "account", "amount_tokens").rows() == [
        ("USDT", "Transfer", "mint", HOLDER, 5.0),
        ("USDT", "Transfer", "burn", HOLDER, 2.0),
    ]
    # USDC on the same chain is read by its own Mint/Burn events, never by Transfer
    assert [t for i, t in issuance_filters(ARBITRUM) if i == 1] == [
        [[topic("Mint(address,address,uint256)"), topic("Burn(address,uint256)")]]
    ]


def test_the_world_table_keeps_the_first_run_of_each_world():
    first = world_rows("sandbox", "run-1", pl.DataFrame())
    assert first.select("world", "latest", "onchain_simulated", "first_run_id").rows() == [
        ("sandbox", True, True, "run-1")
    ]
    assert "SIMULATED" in first["notice"][0]
    # the same world again: unchanged, so re-running leaves the table identical
    again = world_rows("sandbox", "run-2", first)
    assert again.equals(first)
    # a live run into the same warehouse: both worlds recorded, the live one latest
    mixed = world_rows("live", "run-3", again).sort("world")
    assert mixed.select("world", "latest", "onchain_simulated", "first_run_id").rows() == [
        ("live", True, False, "run-3"),
        ("sandbox", False, True, "run-1"),
    ]


def test_a_run_reading_one_chain_keeps_every_configured_tokens_facts(
    resources, warehouse, monkeypatch
):
    """A run of Ethereum alone (STABLEFLOW_CHAINS=ethereum) must not drop Arbitrum's USDT0 from
    raw.evm_tokens: its stored mints would lose `bridged` and count as Tether's issuance."""
    import dagster as dg

    from assets.ingest import reference

    monkeypatch.setattr(reference, "CHAINS", CONFIGURED[:1])  # what STABLEFLOW_CHAINS does
    assert dg.materialize([reference.reference_data], resources=resources).success
    tokens = warehouse.read("SELECT chain, token, bridged FROM raw.evm_tokens ORDER BY ALL")
    assert tokens.rows() == sorted(
        (c.name, t.symbol, t.bridged) for c in CONFIGURED for t in c.tokens
    )
    assert ("arbitrum", "USDT", True) in tokens.rows()
