"""Day boundaries on an EVM chain: the closing block of each UTC day.

The closing block of day D is the last block whose timestamp is before 00:00 UTC of D+1;
every on-chain value dated D is read at it (balances, supply) or summed up to it (flows,
mints). All days of a window are resolved together: each round sends one JSON-RPC batch
with, for every unresolved day, an interpolated guess g and g+1 (so a right guess settles
the day at once), and every header fetched narrows the brackets of every day. Consecutive
days therefore cost a few requests in total, not per day.

The search starts from what is known, not from genesis: the chain's anchor block
(chains.yaml), the final block and stored closing blocks. Genesis is read only for a day
before every known block; mainnet's genesis has timestamp 0, which misleads interpolation,
so a day whose bracket did not halve in a round also gets the bracket's midpoint (the
search is never slower than a bisection). With a handful of days left, each guess comes
with its 16 neighbours on either side: a cold start for yesterday then settles in the round
after the head request.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field

from core.chains import Chain
from core.resources.evm import EvmRpc, NodeLimitError, midnight

# Neighbours fetched around each guess while at most WIDE_DAYS days are unresolved.
WIDE, WIDE_DAYS = 16, 4


class NotFinalError(RuntimeError):
    pass


@dataclass(frozen=True)
class ClosingBlock:
    date: dt.date
    number: int
    timestamp: int
    hash: str


@dataclass(frozen=True)
class Final:
    """The newest block that will not be reorganised, and the headers learnt finding it."""

    number: int
    known: dict[int, tuple[int, str]] = field(default_factory=dict)  # number -> (ts, hash)


def final_block(rpc: EvmRpc, chain: Chain) -> Final:
    """The node's 'finalized' block, or the head minus `confirmations` on nodes without the
    tag; one request, which also checks the chain id and the anchor."""
    rpc.expect_chain(chain.chain_id, chain.rpc_url_env)
    head = rpc.head(chain.anchor.number)
    known = {}
    if head.anchor is not None:
        if head.anchor["timestamp"] != chain.anchor.timestamp:
            raise NodeLimitError(
                f"rpc {chain.name}: block {chain.anchor.number} has timestamp "
                f"{head.anchor['timestamp']} on the node at {chain.rpc_url_env}, but chains.yaml "
                f"{chain.name}.anchor says {chain.anchor.timestamp}: the node serves another "
                f"chain (or the anchor is wrong)."
            )
        known[chain.anchor.number] = (head.anchor["timestamp"], head.anchor["hash"])
    if head.finalized is not None:
        number = head.finalized["number"]
        known[number] = (head.finalized["timestamp"], head.finalized["hash"])
    else:
        number = max(0, head.latest - chain.confirmations)
    return Final(number, {n: v for n, v in known.items() if n <= number})


def resolve_closing_blocks(
    rpc: EvmRpc, days: list[dt.date], final: Final | int, hints: dict[int, int] | None = None
) -> dict[dt.date, ClosingBlock]:
    """Closing block of each day, searching blocks up to the final block.

    `hints` ({block number: timestamp}, e.g. cached closing blocks) seed the brackets.
    A day whose end no block at or below the final block has reached raises NotFinalError.
    """
    final = final if isinstance(final, Final) else Final(final)
    latest = final.number
    known: dict[int, int] = {n: ts for n, ts in (hints or {}).items() if n <= latest}
    hashes: dict[int, str] = {}
    for number, (ts, block_hash) in final.known.items():
        known[number], hashes[number] = ts, block_hash

    def learn(numbers: set[int]) -> None:
        fresh = {n for n in numbers if n not in known or n not in hashes}
        for n, header in rpc.headers(fresh).items():
            known[n], hashes[n] = header["timestamp"], header["hash"]

    first_target = midnight(min(days) + dt.timedelta(days=1))
    learn({latest} | ({0} if all(ts >= first_target for ts in known.values()) else set()))
    if known.get(0, -1) >= first_target:
        raise ValueError(f"rpc {rpc.chain}: {min(days)} ended before the chain's first block")
    if known[latest] < midnight(max(days) + dt.timedelta(days=1)):
        raise NotFinalError(
            f"rpc {rpc.chain}: {max(days)} has not ended on chain yet: newest block "
            f"{latest} is at {dt.datetime.fromtimestamp(known[latest], dt.UTC):%Y-%m-%d %H:%M}Z"
        )

    result: dict[dt.date, int] = {}
    brackets: dict[dt.date, int] = {}  # each day's bracket width in the previous round
    while len(result) < len(days):
        numbers = sorted(known)
        stamps = [known[n] for n in numbers]  # non-decreasing along the chain
        open_days = [d for d in days if d not in result]
        width = WIDE if len(open_days) <= WIDE_DAYS else 0
        guesses: set[int] = set()
        for day in open_days:
            target = midnight(day + dt.timedelta(days=1))
            i = bisect.bisect_left(stamps, target)  # first known block at/after the midnight
            lo, hi = numbers[i - 1], numbers[i]
            if hi == lo + 1:
                result[day] = lo
                continue
            span = known[hi] - known[lo]
            fraction = (target - 1 - known[lo]) / span if span else 0.5
            guess = min(hi - 2, max(lo + 1, lo + int(fraction * (hi - lo))))
            guesses.update(range(max(lo + 1, guess - width), min(hi - 1, guess + 1 + width) + 1))
            if day in brackets and hi - lo > brackets[day] // 2:
                guesses.add((lo + hi) // 2)  # interpolation is not converging: bisect too
            brackets[day] = hi - lo
        if guesses:
            learn(guesses)
    learn(set(result.values()))  # hashes of closing blocks only known from hints
    return {day: ClosingBlock(day, n, known[n], hashes[n]) for day, n in result.items()}
