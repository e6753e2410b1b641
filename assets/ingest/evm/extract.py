"""Reading token state and events from an EVM chain for a window of days.

Pure functions of an `EvmRpc` and the window's closing blocks; they return polars frames
with raw integer amounts (token base units) as Decimal(38, 0) and token amounts as floats.
Topics and call data are decoded by hand: per-log ABI decoding in Python is the cost that
dominates large scans, and these layouts are fixed.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import polars as pl

from assets.ingest.evm.blocks import ClosingBlock
from pipelines.chains import ISSUANCE_EVENTS, MINTS, TRANSFER, Chain
from pipelines.resources.evm import EvmRpc
from pipelines.resources.http import SourceDataError

RAW = pl.Decimal(38, 0)
_TOTAL_SUPPLY = "0x18160ddd"
_WORD = 64  # hex characters in a 32-byte ABI word
_HEX = re.compile(r"[0-9a-fA-F]*")


def _word(value: int) -> str:
    return format(value, "064x")


def _address_word(address: str) -> str:
    return address.lower().removeprefix("0x").rjust(_WORD, "0")


def _uint(hex_data: object, source: str, field: str, width: int | None = None) -> int:
    """An unsigned integer from a node's hex answer: a quantity ("0x1a"), or with `width` an
    ABI word of exactly that many hex digits. Anything else (empty, cut short, not hex) fails
    naming the field, rather than as a bare ValueError or, worse, a wrong number."""
    digits = hex_data.removeprefix("0x") if isinstance(hex_data, str) else None
    if (digits is None or not digits or not _HEX.fullmatch(digits)
            or (width is not None and len(digits) != width)):
        raise SourceDataError(source, field, hex_data,
                              f"not {width} hex digits" if width else "not a hex quantity")
    return int(digits, 16)


def token_supply(rpc: EvmRpc, chain: Chain, closing: list[ClosingBlock]) -> pl.DataFrame:
    """totalSupply() of every token at every closing block: one batched eth_call each."""
    calls = [(t.address, _TOTAL_SUPPLY, c.number) for c in closing for t in chain.tokens]
    results = rpc.eth_calls(calls)
    for (address, _, block), result in zip(calls, results):
        if result in ("0x", "", None):  # no contract there (wrong address, or not yet deployed)
            raise ValueError(f"rpc {chain.name}: totalSupply() of {address} at block {block} "
                             f"returned no data: is a token contract there?")
    answers = iter(results)
    rows = [
        {"date": c.date, "chain": chain.name, "token": t.symbol, "block_number": c.number,
         "supply_raw": _uint(next(answers), f"rpc {chain.name} eth_call",
                             f"totalSupply() of {t.symbol} at block {c.number}", _WORD),
         "decimals": t.decimals}
        for c in closing for t in chain.tokens
    ]
    return _with_tokens(pl.DataFrame(rows, schema_overrides={"supply_raw": pl.Object}),
                        "supply")


def _with_tokens(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    """`<name>_raw` (Python ints) -> Decimal(38,0) plus `<name>_tokens` float."""
    raw = [Decimal(v) for v in frame[f"{name}_raw"].to_list()]
    tokens = [int(v) / 10 ** d for v, d in zip(frame[f"{name}_raw"].to_list(), frame["decimals"])]
    return frame.with_columns(
        pl.Series(f"{name}_raw", raw, dtype=RAW),
        pl.Series(f"{name}_tokens", tokens, dtype=pl.Float64),
    ).drop("decimals")


class DayOfBlock:
    """Maps a block number to the UTC day it belongs to, given consecutive closing blocks
    (the first one is the day before the window and only bounds it)."""

    def __init__(self, closing: list[ClosingBlock]):
        self.numbers = [c.number for c in closing]
        self.dates = [c.date for c in closing]

    @property
    def first_block(self) -> int:
        return self.numbers[0] + 1

    @property
    def last_block(self) -> int:
        return self.numbers[-1]

    def __call__(self, block: int) -> dt.date:
        i = bisect.bisect_left(self.numbers, block)
        if i == 0 or i == len(self.numbers):
            raise ValueError(f"block {block} is outside the window's blocks "
                             f"{self.first_block}..{self.last_block}")
        return self.dates[i]


def issuance_events(rpc: EvmRpc, chain: Chain, day_of: DayOfBlock) -> pl.DataFrame:
    """Every mint and burn of every token in the window, one row per event.

    USDT-style tokens emit Issue/Redeem/DestroyedBlackFunds and no Transfer; USDC-style
    tokens emit Mint/Burn and also a Transfer from/to 0x0, which is not read here, so each
    mint or burn counts once.
    """
    rows = []
    for token in chain.tokens:
        events = ISSUANCE_EVENTS[token.standard]
        for log in rpc.get_logs(token.address, [list(events)], day_of.first_block,
                                day_of.last_block):
            name = events[log["topics"][0]]
            source = f"rpc {chain.name} eth_getLogs"
            field = f"{name} log {log.get('transactionHash')}"
            data = log["data"].removeprefix("0x")
            if name == "DestroyedBlackFunds":  # (address, uint256), neither indexed
                account = "0x" + data[24:_WORD]
                amount = _uint(data[_WORD:2 * _WORD], source, f"{field} data", _WORD)
            elif name == "Mint":  # minter and to indexed: the account is the recipient
                account = "0x" + log["topics"][2][-40:]
                amount = _uint(data[:_WORD], source, f"{field} data", _WORD)
            elif name == "Burn":
                account = "0x" + log["topics"][1][-40:]
                amount = _uint(data[:_WORD], source, f"{field} data", _WORD)
            else:  # Issue / Redeem credit or debit the token owner; no account in the event
                account, amount = None, _uint(data[:_WORD], source, f"{field} data", _WORD)
            block = _uint(log["blockNumber"], source, f"{field} blockNumber")
            rows.append({
                "date": day_of(block), "chain": chain.name, "token": token.symbol,
                "block_number": block, "tx_hash": log["transactionHash"],
                "log_index": _uint(log["logIndex"], source, f"{field} logIndex"), "event": name,
                "direction": "mint" if name in MINTS else "burn",
                "account": account, "amount_raw": amount, "decimals": token.decimals,
            })
    schema = {"date": pl.Date, "chain": pl.Utf8, "token": pl.Utf8, "block_number": pl.Int64,
              "tx_hash": pl.Utf8, "log_index": pl.Int64, "event": pl.Utf8,
              "direction": pl.Utf8, "account": pl.Utf8, "amount_raw": pl.Object,
              "decimals": pl.Int64}
    return _with_tokens(pl.DataFrame(rows, schema=schema), "amount")


def daily_issuance(events: pl.DataFrame, chain: Chain, days: list[dt.date]) -> pl.DataFrame:
    """Minted, burned and net per token and day; days without events are zeros."""
    grid = pl.DataFrame({"date": days}, schema={"date": pl.Date}).join(
        pl.DataFrame({"token": [t.symbol for t in chain.tokens],
                      "decimals": [t.decimals for t in chain.tokens]}), how="cross")
    sums = events.group_by("date", "token").agg(
        minted_raw=pl.col("amount_raw").filter(pl.col("direction") == "mint").sum(),
        burned_raw=pl.col("amount_raw").filter(pl.col("direction") == "burn").sum(),
        events=pl.len().cast(pl.Int64),
    )
    out = grid.join(sums, on=["date", "token"], how="left").with_columns(
        pl.col("minted_raw", "burned_raw").fill_null(Decimal(0)).cast(RAW),
        pl.col("events").fill_null(0),
        chain=pl.lit(chain.name),
    )
    scale = pl.lit(10.0) ** pl.col("decimals")
    return out.with_columns(
        net_raw=(pl.col("minted_raw") - pl.col("burned_raw")).cast(RAW),
        minted_tokens=pl.col("minted_raw").cast(pl.Float64) / scale,
        burned_tokens=pl.col("burned_raw").cast(pl.Float64) / scale,
    ).with_columns(net_tokens=pl.col("minted_tokens") - pl.col("burned_tokens")).drop("decimals")


READER_CODE = (Path(__file__).resolve().parents[3] / "pipelines/contracts/BalanceReader.runtime.hex"
               ).read_text().strip()
# Any address: the reader's code is supplied with each call, never deployed there.
READER_ADDRESS = "0x00000000000000000000000000000000b41a4ce5"
# Gas bounds one eth_call (geth's default RPC gas cap is 50M; a balanceOf costs ~5-7k).
MAX_PAIRS_PER_CALL = 4000


def balances(rpc: EvmRpc, chain: Chain, addresses: list[str], closing: list[ClosingBlock]
             ) -> pl.DataFrame:
    """balanceOf(address) of every token for every address at every closing block.

    One eth_call per day (per 4,000 token-address pairs) runs pipelines/contracts/
    BalanceReader through a state override; days go out in JSON-RPC batches. So the number
    of requests does not grow with the number of addresses, and the call data is 20 bytes
    per address.
    """
    per_call = max(1, MAX_PAIRS_PER_CALL // len(chain.tokens))
    groups = [addresses[i:i + per_call] for i in range(0, len(addresses), per_call)]
    calls, shape = [], []
    for c in closing:
        for group in groups:
            data = "0x" + _word(len(chain.tokens)) + "".join(
                a.lower().removeprefix("0x") for a in [t.address for t in chain.tokens] + group)
            calls.append((READER_ADDRESS, data, c.number))
            shape.append((c, group))
    answers = rpc.eth_calls(calls, code={READER_ADDRESS: READER_CODE})
    rows = []
    for (c, group), answer in zip(shape, answers):
        data = answer.removeprefix("0x")
        if len(data) != _WORD * len(chain.tokens) * len(group):
            raise ValueError(f"rpc {chain.name}: balance reader returned {len(data) // 2} "
                             f"bytes at block {c.number} for {len(group)} addresses")
        words = iter(_uint(data[i:i + _WORD], f"rpc {chain.name} eth_call",
                           f"balance reader answer at block {c.number}", _WORD)
                     for i in range(0, len(data), _WORD))
        for token in chain.tokens:
            for address in group:
                rows.append((c.date, chain.name, token.symbol, address, c.number, next(words),
                             token.decimals))
    frame = pl.DataFrame(rows, orient="row", schema={
        "date": pl.Date, "chain": pl.Utf8, "token": pl.Utf8, "address": pl.Utf8,
        "block_number": pl.Int64, "balance_raw": pl.Object, "decimals": pl.Int64})
    return _with_tokens(frame, "balance")


def transfers(rpc: EvmRpc, chain: Chain, addresses: list[str], day_of: DayOfBlock
              ) -> pl.DataFrame:
    """Transfer logs of every token from or to any of `addresses` in the window.

    Two topic-filtered scans per token (from in the set; to in the set), so the node
    returns only the labelled wallets' transfers; a transfer between two labelled wallets
    matches both and is kept once.
    """
    padded = ["0x" + _address_word(a) for a in addresses]
    rows, seen = [], set()
    for token in chain.tokens:
        for topics in ([TRANSFER, padded], [TRANSFER, None, padded]):
            for log in rpc.get_logs(token.address, topics, day_of.first_block,
                                    day_of.last_block):
                key = (log["transactionHash"], log["logIndex"])
                if key in seen:
                    continue
                seen.add(key)
                source = f"rpc {chain.name} eth_getLogs"
                field = f"Transfer log {log['transactionHash']}"
                block = _uint(log["blockNumber"], source, f"{field} blockNumber")
                rows.append((day_of(block), chain.name, token.symbol, block,
                             log["transactionHash"],
                             _uint(log["logIndex"], source, f"{field} logIndex"),
                             "0x" + log["topics"][1][-40:], "0x" + log["topics"][2][-40:],
                             _uint(log["data"], source, f"{field} data", _WORD),
                             token.decimals))
    frame = pl.DataFrame(rows, orient="row", schema={
        "date": pl.Date, "chain": pl.Utf8, "token": pl.Utf8, "block_number": pl.Int64,
        "tx_hash": pl.Utf8, "log_index": pl.Int64, "from_address": pl.Utf8,
        "to_address": pl.Utf8, "value_raw": pl.Object, "decimals": pl.Int64})
    return _with_tokens(frame, "value")
