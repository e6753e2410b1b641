"""Day boundaries on an EVM chain: the closing block of each UTC day.

The closing block of day D is the last block whose timestamp is before 00:00 UTC of D+1;
every on-chain value dated D is read at it (balances, supply) or summed up to it (flows,
mints). All days of a window are resolved together: each round sends one JSON-RPC batch
with, for every unresolved day, an interpolated guess g and g+1 (so a right guess settles
the day at once), and every header fetched narrows the brackets of every day. Consecutive
days therefore cost a few requests in total, not per day.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass

from pipelines.resources.evm import EvmRpc, midnight


class NotFinalError(RuntimeError):
    pass


@dataclass(frozen=True)
class ClosingBlock:
    date: dt.date
    number: int
    timestamp: int
    hash: str


def resolve_closing_blocks(
    rpc: EvmRpc, days: list[dt.date], latest: int, hints: dict[int, int] | None = None
) -> dict[dt.date, ClosingBlock]:
    """Closing block of each day, searching blocks 0..latest.

    `hints` ({block number: timestamp}, e.g. cached closing blocks) seed the brackets.
    A day whose end no block at or below `latest` has reached raises NotFinalError.
    """
    known: dict[int, int] = dict(hints or {})  # block number -> timestamp
    hashes: dict[int, str] = {}

    def learn(numbers: set[int]) -> None:
        fresh = {n for n in numbers if n not in known or n not in hashes}
        for n, header in rpc.headers(fresh).items():
            known[n], hashes[n] = header["timestamp"], header["hash"]

    learn({0, latest})
    if known[0] >= midnight(min(days) + dt.timedelta(days=1)):
        raise ValueError(f"rpc {rpc.chain}: {min(days)} ended before the chain's first block")
    if known[latest] < midnight(max(days) + dt.timedelta(days=1)):
        raise NotFinalError(
            f"rpc {rpc.chain}: {max(days)} has not ended on chain yet: newest block "
            f"{latest} is at {dt.datetime.fromtimestamp(known[latest], dt.UTC):%Y-%m-%d %H:%M}Z")

    result: dict[dt.date, int] = {}
    while len(result) < len(days):
        numbers = sorted(known)
        stamps = [known[n] for n in numbers]  # non-decreasing along the chain
        guesses: set[int] = set()
        for day in days:
            if day in result:
                continue
            target = midnight(day + dt.timedelta(days=1))
            i = bisect.bisect_left(stamps, target)  # first known block at/after the midnight
            lo, hi = numbers[i - 1], numbers[i]
            if hi == lo + 1:
                result[day] = lo
                continue
            span = known[hi] - known[lo]
            fraction = (target - 1 - known[lo]) / span if span else 0.5
            guess = min(hi - 2, max(lo + 1, lo + int(fraction * (hi - lo))))
            guesses.update((guess, guess + 1))
        if guesses:
            learn(guesses)
    learn(set(result.values()))  # hashes of closing blocks only known from hints
    return {day: ClosingBlock(day, n, known[n], hashes[n]) for day, n in result.items()}


def final_block(rpc: EvmRpc, confirmations: int) -> int:
    """Newest block that will not be reorganised: the node's 'finalized' block, or the
    head minus `confirmations` on nodes without that tag."""
    latest, finalized = rpc.head()
    return finalized if finalized is not None else max(0, latest - confirmations)
