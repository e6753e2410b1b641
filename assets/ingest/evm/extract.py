"""Reading token state and events from an EVM chain for a window of days.

Pure functions of an `EvmRpc` and the window's closing blocks; they return polars frames
with raw integer amounts (token base units) as Decimal(38, 0) and token amounts as floats.
Topics and call data are decoded by hand and column-wise in polars: per-log ABI decoding
in Python is the cost that dominates large scans (bench/extraction.py), and these layouts
are fixed.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl

from assets.ingest.evm.blocks import ClosingBlock
from core.chains import ISSUANCE_EVENTS, MINTS, TRANSFER, ZERO_TOPIC, Chain
from core.errors import SourceDataError
from core.resources.evm import EvmRpc, RpcError

RAW = pl.Decimal(38, 0)
_TOTAL_SUPPLY = "0x18160ddd"
_WORD = 64  # hex characters in a 32-byte ABI word


def _word(value: int) -> str:
    return format(value, "064x")


def _address_word(address: str) -> str:
    return address.lower().removeprefix("0x").rjust(_WORD, "0")


_HEX_WORD = rf"^(0x)?[0-9a-fA-F]{{{_WORD}}}$"
_HEX_QUANTITY = r"^0x[0-9a-fA-F]+$"
_RAW_MAX = 10**38 - 1  # the largest Decimal(38, 0)
_LOG_QUANTITIES = {"block_number": "blockNumber", "log_index": "logIndex"}


_EMPTY = ("0x", "", None)


def _require_deployed_later(
    rpc: EvmRpc,
    chain: Chain,
    missing: list[tuple[str, int]],
    answered: set[int],
    what: str,
    first_code: dict[str, int],
) -> None:
    """Passes when every (token address, block) in `missing`, where the token answered no data
    or had no code, is a token deployed after that block: configured as deployed after the
    chain's anchor (core/chains.yaml), another token of the chain answered there
    (`answered`: those blocks), the token has no code there, and it has code at the latest
    block. Arbitrum's native USDC before 2023 is one. Otherwise fails naming why: no token
    answered at the block, no contract at the address at all (a wrong address in
    core/chains.yaml), a contract that answers no data, or a token older than the anchor.

    No token answering is never taken for zero. The window may start before every token
    existed, or the node may no longer hold the block's state and answer empty instead of
    failing, as Erigon does below its pruned history (erigontech/erigon#5274: eth_call at
    a pruned block answers "0x") and above the blocks it has executed (#7356, #18912).

    Nor is a token missing after a block where it answered (`first_code`: the first block
    each token answered at, in this read and the parts read before it): a deployed contract
    does not go away, a backend without its state does."""
    for address, block in missing:
        if first_code.get(address, block) < block:
            raise ValueError(
                f"rpc {chain.name}: {address} at block {block}: {what}, though it answered at "
                f"the earlier block {first_code[address]}: the node (or one backend behind "
                f"the provider) does not hold that block's state and answers empty"
            )
    unanswered = sorted({block for _, block in missing} - answered)
    if unanswered:
        raise ValueError(
            f"rpc {chain.name}: no token of {chain.name} answered at block {unanswered[0]} "
            f"({what}): either the window starts before its tokens existed (set a later "
            f"STABLEFLOW_START_DATE), or the node does not hold that block's state and "
            f"answers empty instead of failing (Erigon does, below its pruned history: use an "
            f"archive node, or STABLEFLOW_{chain.name.upper()}_BALANCES=logs; and above the "
            f"blocks it has executed while syncing: wait until it has caught up)"
        )
    addresses = sorted({a for a, _ in missing})
    codes = rpc.batch(
        [("eth_getCode", [a, hex(block)]) for a, block in missing]
        + [("eth_getCode", [a, "latest"]) for a in addresses]
    )
    now = dict(zip(addresses, codes[len(missing) :]))
    late = {t.address for t in chain.tokens if t.deployed_after_anchor}
    for (address, block), code in zip(missing, codes):
        if code not in _EMPTY:
            raise ValueError(
                f"rpc {chain.name}: {address} at block {block}: {what}, though a contract is "
                f"there: not the token's contract?"
            )
        if now[address] in _EMPTY:
            raise ValueError(
                f"rpc {chain.name}: no contract at token address {address}, at block {block} "
                f"or the latest block: is the address in core/chains.yaml right for "
                f"{chain.name} (chain id {chain.chain_id})?"
            )
        if address not in late:
            raise ValueError(
                f"rpc {chain.name}: {address} at block {block}: {what}, though the token "
                f"existed before the chain's anchor (core/chains.yaml: not "
                f"deployed_after_anchor): the node (or one backend behind the provider) does "
                f"not hold that block's state and answers empty"
            )


def _first_code(seen: dict[str, int] | None, answered: list[tuple[str, int]]) -> dict[str, int]:
    """The first block each token answered at: `seen` (the parts read before, updated in
    place when given) merged with this read's (address, block) answers."""
    first = seen if seen is not None else {}
    for address, block in answered:
        first[address] = min(first.get(address, block), block)
    return first


def _first_bad(
    frame: pl.DataFrame, bad: pl.Expr, field: pl.Expr, value: str, source: str, reason: str
) -> None:
    """Fail naming the first row where `bad` holds (or is null): its field (an expression
    naming the row) and its value. A node's answer that is empty, cut short or not hex
    fails here rather than as a bare ValueError or, worse, a wrong number."""
    rows = frame.filter(bad.fill_null(True))
    if rows.height:
        name, shown = rows.select(field, pl.col(value)).row(0)
        raise SourceDataError(
            source, name, shown if len(str(shown)) < 200 else str(shown)[:200] + "...", reason
        )


def _quantities(
    frame: pl.DataFrame, columns: dict[str, str], source: str, field: pl.Expr
) -> pl.DataFrame:
    """Hex quantities ("0x1a") -> Int64, all rows at once. `columns` maps each column to the
    JSON-RPC field it holds, for the error message."""
    for column, json_name in columns.items():
        _first_bad(
            frame,
            ~pl.col(column).str.contains(_HEX_QUANTITY),
            field + f" {json_name}",
            column,
            source,
            "not a hex quantity",
        )
    return frame.with_columns(pl.col(c).str.slice(2).str.to_integer(base=16) for c in columns)


def _amounts(frame: pl.DataFrame, name: str, source: str, field: pl.Expr) -> pl.DataFrame:
    """`<name>_hex` ABI words -> `<name>_raw` Decimal(38, 0) and `<name>_tokens` (divided by
    10**decimals), all rows at once. A word that is not exactly 64 hex digits (empty, cut
    short, not hex) or whose value does not fit Decimal(38, 0) fails naming its field,
    rather than becoming a wrong number."""
    word = pl.col(f"{name}_hex")
    digits = word.str.strip_prefix("0x")
    low = digits.str.slice(_WORD // 2).str.to_integer(base=16, dtype=pl.UInt128, strict=False)
    _first_bad(
        frame,
        ~word.str.contains(_HEX_WORD),
        field,
        f"{name}_hex",
        source,
        f"not {_WORD} hex digits",
    )
    _first_bad(
        frame,
        (digits.str.slice(0, _WORD // 2) != "0" * (_WORD // 2))
        | (low > pl.lit(_RAW_MAX, dtype=pl.UInt128)),
        field,
        f"{name}_hex",
        source,
        "larger than Decimal(38, 0) holds",
    )
    raw = low.cast(RAW)
    return frame.with_columns(
        raw.alias(f"{name}_raw"),
        (raw.cast(pl.Float64) / pl.lit(10.0).pow(pl.col("decimals"))).alias(f"{name}_tokens"),
    ).drop(f"{name}_hex", "decimals")


def token_supply(
    rpc: EvmRpc,
    chain: Chain,
    closing: list[ClosingBlock],
    first_code: dict[str, int] | None = None,
) -> pl.DataFrame:
    """totalSupply() of every token at every closing block: one batched eth_call each.

    A token configured as deployed after the chain's anchor, answering no data where another
    token answered, with no code there and code at the latest block, and no answer at an
    earlier block, was deployed after the block: its supply there is 0 (Arbitrum's native
    USDC before 2023). Anything else answering no data fails (`_require_deployed_later`).
    Only calls that returned no data cost more, so a window the tokens span costs nothing
    more."""
    calls = [(t.address, _TOTAL_SUPPLY, c.number) for c in closing for t in chain.tokens]
    results = rpc.eth_calls(calls)
    empty = {i for i, result in enumerate(results) if result in _EMPTY}
    first = _first_code(
        first_code, [(to, b) for i, (to, _, b) in enumerate(calls) if i not in empty]
    )
    if empty:
        answered = {calls[i][2] for i in range(len(calls)) if i not in empty}
        missing = [(calls[i][0], calls[i][2]) for i in sorted(empty)]
        what = "totalSupply() returned no data"
        _require_deployed_later(rpc, chain, missing, answered, what, first)
        results = ["0x" + "0" * _WORD if i in empty else r for i, r in enumerate(results)]
    frame = pl.DataFrame(
        [
            (c.date, chain.name, t.symbol, c.number, t.decimals)
            for c in closing
            for t in chain.tokens
        ],
        orient="row",
        schema={
            "date": pl.Date,
            "chain": pl.Utf8,
            "token": pl.Utf8,
            "block_number": pl.Int64,
            "decimals": pl.Int64,
        },
    ).with_columns(supply_hex=pl.Series(results, dtype=pl.Utf8))
    field = pl.format("totalSupply() of {} at block {}", "token", "block_number")
    return _amounts(frame, "supply", f"rpc {chain.name} eth_call", field)


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

    def of(self, blocks: pl.Series) -> pl.Series:
        """The UTC day of each block: the first closing block at or after it."""
        i = pl.Series(self.numbers).search_sorted(blocks, side="left")
        outside = blocks.filter((i == 0) | (i == len(self.numbers)))
        if len(outside):
            raise ValueError(
                f"block {outside[0]} is outside the window's blocks "
                f"{self.first_block}..{self.last_block}"
            )
        return pl.Series("date", self.dates, dtype=pl.Date).gather(i)


def transfer_filters(chain: Chain, addresses: list[str]) -> list[tuple[list[str], list]]:
    """The (token addresses, topics) filters of `transfers`: per chunk of at most
    chain.max_topic_values addresses (nodes refuse more than 1,000 values in one topic
    position), Transfer from any of the chunk, then Transfer to any of it, each for every
    token of the chain at once (a log's own address tells the tokens apart). A node scans
    its logs once per filter, whatever it returns: one filter for all tokens instead of
    one per token halves that work (bench/extraction.py)."""
    tokens = [t.address for t in chain.tokens]
    padded = ["0x" + _address_word(a) for a in addresses]
    size = chain.max_topic_values
    # no addresses, no filter: an empty topic list would match every Transfer
    chunks = [padded[i : i + size] for i in range(0, len(padded), size)]
    return [
        (tokens, topics)
        for chunk in chunks
        for topics in ([TRANSFER, chunk], [TRANSFER, None, chunk])
    ]


def issuance_filters(chain: Chain) -> list[tuple[int, list]]:
    """(token index, topics) of the get_logs filters that find every mint and burn: the
    token's issuance events, or for an erc20-standard token a Transfer from 0x0 (mints) and
    a Transfer to 0x0 (burns)."""
    filters: list[tuple[int, list]] = []
    for i, token in enumerate(chain.tokens):
        if token.standard == "erc20":
            filters += [(i, [TRANSFER, ZERO_TOPIC]), (i, [TRANSFER, None, ZERO_TOPIC])]
        else:
            filters.append((i, [list(ISSUANCE_EVENTS[token.standard])]))
    return filters


def issuance_events(rpc: EvmRpc, chain: Chain, day_of: DayOfBlock) -> pl.DataFrame:
    """Every mint and burn of every token in the window, one row per event.

    USDT-style tokens emit Issue/Redeem/DestroyedBlackFunds and no Transfer; USDC-style
    tokens emit Mint/Burn and also a Transfer from/to 0x0, which is not read here, so each
    mint or burn counts once. erc20-standard tokens have only the Transfer from/to 0x0.
    """
    filters = issuance_filters(chain)
    logs = rpc.get_logs(
        [(chain.tokens[i].address, topics) for i, topics in filters],
        day_of.first_block,
        day_of.last_block,
        held=[t.address for t in chain.tokens],
    )
    tokens = pl.DataFrame(
        {
            "query": range(len(filters)),
            "token": [chain.tokens[i].symbol for i, _ in filters],
            "decimals": [chain.tokens[i].decimals for i, _ in filters],
        },
        schema_overrides={"query": pl.Int64},
    )
    topic0 = {
        topic: name
        for token in chain.tokens
        if token.standard != "erc20"
        for topic, name in ISSUANCE_EVENTS[token.standard].items()
    }
    topic0[TRANSFER] = "Transfer"
    topic = pl.col("topics").list.get
    event = topic(0, null_on_oob=True).replace_strict(topic0, default=None, return_dtype=pl.Utf8)
    data = pl.col("data").str.strip_prefix("0x")
    # A Transfer from 0x0 to 0x0 (both erc20 filters match it) changes no supply: not an event.
    logs = logs.filter(
        ~(
            (pl.col("topics").list.get(0, null_on_oob=True) == TRANSFER)
            & (pl.col("topics").list.get(1, null_on_oob=True) == ZERO_TOPIC)
            & (pl.col("topics").list.get(2, null_on_oob=True) == ZERO_TOPIC)
        )
    )
    frame = logs.join(tokens, on="query", maintain_order="left").select(
        pl.lit(chain.name).alias("chain"),
        "token",
        pl.col("blockNumber").alias("block_number"),
        pl.col("transactionHash").alias("tx_hash"),
        pl.col("logIndex").alias("log_index"),
        event.alias("event"),
        pl.when(
            event.is_in(list(MINTS))
            | ((event == "Transfer") & (topic(1, null_on_oob=True) == ZERO_TOPIC))
        )
        .then(pl.lit("mint"))
        .otherwise(pl.lit("burn"))
        .alias("direction"),
        # DestroyedBlackFunds(address, uint256): neither indexed. Mint(minter, to, amount):
        # the account is the recipient. Burn(burner, amount). Issue/Redeem(amount) credit
        # or debit the token owner: no account in the event. Transfer(from, to, value): the
        # side that is not 0x0.
        pl.when(event == "DestroyedBlackFunds")
        .then("0x" + data.str.slice(24, 40))
        .when(event == "Mint")
        .then("0x" + topic(2, null_on_oob=True).str.slice(-40))
        .when(event == "Burn")
        .then("0x" + topic(1, null_on_oob=True).str.slice(-40))
        .when(event == "Transfer")
        .then(
            "0x"
            + pl.when(topic(1, null_on_oob=True) == ZERO_TOPIC)
            .then(topic(2, null_on_oob=True))
            .otherwise(topic(1, null_on_oob=True))
            .str.slice(-40)
        )
        .alias("account"),
        # Who minted or burned: Mint's minter and Burn's burner (topic1). Kept because a
        # FiatToken has several minters and not all are the issuer: CCTP's TokenMinter mints
        # and burns USDC moved between chains (sql/seeds/cctp_minters.csv). The other events
        # name no one: NULL.
        pl.when(event.is_in(["Mint", "Burn"]))
        .then("0x" + topic(1, null_on_oob=True).str.slice(-40))
        .alias("operator"),
        pl.when(event == "DestroyedBlackFunds")
        .then(data.str.slice(_WORD, _WORD))
        .otherwise(data.str.slice(0, _WORD))
        .alias("amount_hex"),
        "decimals",
    )
    source = f"rpc {chain.name} eth_getLogs"
    field = pl.format("{} log {}", "event", "tx_hash")
    _first_bad(
        frame,
        pl.col("event").is_null(),
        pl.format("log {} topics", "tx_hash"),
        "tx_hash",
        source,
        "not a mint or burn event of this token",
    )
    frame = _quantities(frame, _LOG_QUANTITIES, source, field)
    frame = frame.select(day_of.of(frame["block_number"]), pl.all())
    return _amounts(frame, "amount", source, field + " data")


def daily_issuance(events: pl.DataFrame, chain: Chain, days: list[dt.date]) -> pl.DataFrame:
    """Minted, burned and net per token and day; days without events are zeros."""
    grid = pl.DataFrame({"date": days}, schema={"date": pl.Date}).join(
        pl.DataFrame(
            {
                "token": [t.symbol for t in chain.tokens],
                "decimals": [t.decimals for t in chain.tokens],
            }
        ),
        how="cross",
    )
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
    return (
        out.with_columns(
            net_raw=(pl.col("minted_raw") - pl.col("burned_raw")).cast(RAW),
            minted_tokens=pl.col("minted_raw").cast(pl.Float64) / scale,
            burned_tokens=pl.col("burned_raw").cast(pl.Float64) / scale,
        )
        .with_columns(net_tokens=pl.col("minted_tokens") - pl.col("burned_tokens"))
        .drop("decimals")
    )


READER_CODE = (
    Path(__file__).with_name("contracts").joinpath("BalanceReader.runtime.hex").read_text().strip()
)
# Any address: the reader's code is supplied with each call, never deployed there.
READER_ADDRESS = "0x00000000000000000000000000000000b41a4ce5"
# Token-address pairs per eth_call: each answers a 32-byte word (plus one per token), and
# Erigon refuses results over 100,000 bytes (--rpc.returndata.limit): 3,000 pairs answer
# 96,064. Gas bounds it too: nodes cap an eth_call at 50M by default (geth and Erigon
# --rpc.gascap, Nitro --execution.rpc.gas-cap), and a pair costs about 3.8k on the sandbox's
# USDT (a cold balance slot, 2,100, the call and 20 bytes of call data) and 4.0k on its USDC,
# behind a proxy as mainnet's (sandbox/contracts/TokenProxy.sol; eth_estimateGas, 2026-12-01):
# 3,000 pairs, about 12M. A node capping lower gets fewer per call (`EvmRpc.out_of_gas`).
MAX_PAIRS_PER_CALL = 3000


def balances(
    rpc: EvmRpc,
    chain: Chain,
    addresses: list[str],
    closing: list[ClosingBlock],
    first_code: dict[str, int] | None = None,
) -> pl.DataFrame:
    """balanceOf(address) of every token for every address at every closing block.

    One eth_call per day (per 3,000 token-address pairs) runs assets/ingest/evm/contracts/
    BalanceReader through a state override; days go out in JSON-RPC batches. So the number
    of requests does not grow with the number of addresses, and the call data is 20 bytes
    per address. A call too heavy for the node (past its eth_call gas cap or timeout) is asked
    again as two.
    """
    tokens = len(chain.tokens)
    while True:
        per_call = addresses_per_call(chain, rpc.pairs_per_call(MAX_PAIRS_PER_CALL))
        try:
            return _balances(rpc, chain, addresses, closing, per_call, first_code)
        except RpcError as exc:
            if exc.kind != "gas":
                raise
            # what was asked of one call: fewer addresses than a call holds ask less
            rpc.out_of_gas(exc, min(per_call, len(addresses)) * tokens, tokens)


def addresses_per_call(chain: Chain, pairs: int = MAX_PAIRS_PER_CALL) -> int:
    """Addresses in one BalanceReader call of at most `pairs` balances (all tokens each)."""
    return max(1, pairs // len(chain.tokens))


def reader_answer_chars(tokens: int, addresses: int) -> int:
    """Hex digits of a BalanceReader answer: a code flag per token, then a balance per token
    and address, 32 bytes each."""
    return _WORD * tokens * (addresses + 1)


def reader_data(chain: Chain, addresses: list[str]) -> str:
    """The BalanceReader's call data: the token count, then the tokens and `addresses`,
    20 bytes each (no selector: the reader has only a fallback)."""
    packed = [t.address for t in chain.tokens] + addresses
    return "0x" + _word(len(chain.tokens)) + "".join(a.lower().removeprefix("0x") for a in packed)


def _balances(
    rpc: EvmRpc,
    chain: Chain,
    addresses: list[str],
    closing: list[ClosingBlock],
    per_call: int,
    first_code: dict[str, int] | None,
) -> pl.DataFrame:
    groups = [addresses[i : i + per_call] for i in range(0, len(addresses), per_call)]
    calls, shape = [], []
    for c in closing:
        for g, group in enumerate(groups):
            calls.append((READER_ADDRESS, reader_data(chain, group), c.number))
            shape.append((c.date, c.number, g, reader_answer_chars(len(chain.tokens), len(group))))
    answers = pl.DataFrame(
        shape,
        orient="row",
        schema={"date": pl.Date, "block_number": pl.Int64, "group": pl.Int64, "expected": pl.Int64},
    ).with_columns(
        answer=pl.Series(
            rpc.eth_calls(calls, code={READER_ADDRESS: READER_CODE}), dtype=pl.Utf8
        ).str.strip_prefix("0x")
    )
    source = f"rpc {chain.name} eth_call"
    field = pl.format("balance reader answer at block {}", "block_number")
    _first_bad(
        answers,
        pl.col("answer").str.len_chars() != pl.col("expected"),
        field,
        "answer",
        source,
        "not one 32-byte word per token, then per token and address",
    )
    _first_bad(
        answers,
        ~pl.col("answer").str.contains("^[0-9a-fA-F]*$"),
        field,
        "answer",
        source,
        "not hex",
    )
    # First one word per token: 1 where it has code at the block, 0 where it has none (a
    # token deployed later, or something wrong: `_require_deployed_later` tells which). The
    # calls of one block must agree: calls answered by backends holding different state
    # would otherwise pass as zero balances.
    n = len(chain.tokens)
    flags = pl.col("answer").str.slice(0, n * _WORD)
    _first_bad(
        answers,
        ~flags.str.contains(f"^(0{{{_WORD - 1}}}[01]){{{n}}}$"),
        pl.format("balance reader code flags at block {}", "block_number"),
        "answer",
        source,
        "a code flag that is neither 0 nor 1",
    )
    per_block = answers.group_by("block_number", maintain_order=True).agg(flags.unique())
    split = [block for block, found in per_block.iter_rows() if len(found) != 1]
    if split:
        raise ValueError(
            f"rpc {chain.name}: the BalanceReader's calls at block {split[0]} found code at "
            f"different tokens: they reached backends holding different state there"
        )
    has_code = [
        (block, [found[0][(t + 1) * _WORD - 1] == "1" for t in range(n)])
        for block, found in per_block.iter_rows()
    ]
    first = _first_code(
        first_code,
        [(chain.tokens[t].address, b) for b, codes in has_code for t in range(n) if codes[t]],
    )
    missing = [
        (chain.tokens[t].address, b) for b, codes in has_code for t in range(n) if not codes[t]
    ]
    if missing:
        answered = {b for b, codes in has_code if any(codes)}
        what = "the BalanceReader found no code"
        _require_deployed_later(rpc, chain, missing, answered, what, first)
    answers = answers.with_columns(pl.col("answer").str.slice(n * _WORD))
    # The reader answers token-major: word k of a group is token k // n, address k % n.
    pairs = pl.DataFrame(
        [
            (g, k, t.symbol, a, t.decimals)
            for g, group in enumerate(groups)
            for k, (t, a) in enumerate((t, a) for t in chain.tokens for a in group)
        ],
        orient="row",
        schema={
            "group": pl.Int64,
            "word": pl.Int64,
            "token": pl.Utf8,
            "address": pl.Utf8,
            "decimals": pl.Int64,
        },
    )
    words = (
        answers.with_columns(balance_hex=pl.col("answer").str.extract_all(f".{{{_WORD}}}"))
        .drop("answer", "expected")
        .explode("balance_hex")
        .with_columns(word=pl.int_range(pl.len()).over("block_number", "group"))
    )
    frame = words.join(pairs, on=["group", "word"], maintain_order="left").select(
        "date",
        pl.lit(chain.name).alias("chain"),
        "token",
        "address",
        "block_number",
        "balance_hex",
        "decimals",
    )
    return _amounts(frame, "balance", source, field)


def transfers(rpc: EvmRpc, chain: Chain, addresses: list[str], day_of: DayOfBlock) -> pl.DataFrame:
    """Transfer logs of every token from or to any of `addresses` in the window.

    Two topic-filtered scans per address chunk (from in the chunk; to in it), each over
    every token at once, so the node returns only the labelled wallets' transfers; each
    log's own address names its token. A transfer matching several filters (between two
    labelled wallets) is kept once.
    """
    logs = rpc.get_logs(
        transfer_filters(chain, addresses),
        day_of.first_block,
        day_of.last_block,
        held=[t.address for t in chain.tokens],
    )
    tokens = pl.DataFrame(
        {
            "address": [t.address.lower() for t in chain.tokens],
            "token": [t.symbol for t in chain.tokens],
            "decimals": [t.decimals for t in chain.tokens],
        }
    )
    frame = (
        logs.with_columns(pl.col("address").str.to_lowercase())
        .join(tokens, on="address", how="left", maintain_order="left")
        .unique(["transactionHash", "logIndex"], keep="first", maintain_order=True)
    )
    source = f"rpc {chain.name} eth_getLogs"
    field = pl.format("Transfer log {}", "tx_hash")
    frame = frame.rename(
        {
            "blockNumber": "block_number",
            "transactionHash": "tx_hash",
            "logIndex": "log_index",
            "data": "value_hex",
        }
    )
    _first_bad(
        frame,
        pl.col("topics").list.len() != 3,
        field + " topics",
        "tx_hash",
        source,
        "a Transfer log has 3 topics",
    )
    frame = _quantities(frame, _LOG_QUANTITIES, source, field)
    frame = _amounts(
        frame.select(
            day_of.of(frame["block_number"]),
            pl.lit(chain.name).alias("chain"),
            "token",
            "block_number",
            "tx_hash",
            "log_index",
            ("0x" + pl.col("topics").list.get(1).str.slice(-40)).alias("from_address"),
            ("0x" + pl.col("topics").list.get(2).str.slice(-40)).alias("to_address"),
            "value_hex",
            "decimals",
            "address",
        ),
        "value",
        source,
        field + " data",
    )
    _first_bad(
        frame,
        pl.col("token").is_null(),
        field + " address",
        "address",
        source,
        "not a token of the filter",
    )
    return frame.drop("address")
