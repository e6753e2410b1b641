"""A chain as dense as Ethereum mainnet, for the extraction and closing-block benchmarks.

The sandbox scenario (sandbox/chain.py) has two or three blocks a day: right for testing
values, useless for measuring a block search or a log scan. This chain has a block every 12
seconds (7,200 a day) with about 1 % of slots missed, like mainnet since the merge, and
more than 100,000 ERC-20 Transfer logs at the real USDT and USDC addresses.

Mainnet-shaped labels: on mainnet only some of USDT's and USDC's transfers touch a labelled
exchange wallet. No public source found states that share (by count); the nearest published
figure bounds it: Artemis, "Stablecoin Payments from the Ground Up" (December 2025;
summarised at https://www.techflowpost.com/en-US/newsletter/109223) finds that by count
about half of Ethereum's USDT and USDC transfers are between externally owned accounts,
where exchange wallets sit, and the other half involve smart contracts (mainly DeFi). A
label file of exchange hot and cold wallets touches fewer still: customer deposit addresses
are mostly unlabelled (README, "Exchanges"). So rather than one share, the chain carries a
label set for each share in SHARES, every one as large as the label file (so each makes the
same number of topic filters): every transfer has one side in the label file's own wallets
(the 100 % set: every transfer touches a labelled wallet, as on this chain before) and, with
probability s, its other side in the s set's wallets (synthetic); for the rest of the
transfers (6 % with these shares) the other side is another label-file wallet (exchange to
exchange). For the s set, the other 1 - s of the transfers are unlabelled traffic.
bench/extraction.py sweeps the shares.

The logs come from sandbox/contracts/TransferSpray.sol placed at the token addresses: it
emits Transfer events in bulk, with no balances behind them. Nothing here reads state, so
anvil keeps only the last 64 states (a full history of 50,000 blocks would need tens of GB).
Everything is seeded: the same blocks, transfers and hashes every time.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import datetime as dt
import functools
import random
from collections.abc import Iterator

import polars as pl

from assets.ingest.labels import load_labels
from core.resources.evm import midnight
from sandbox.chain import TOKENS, Anvil, Rpc, _synthetic, compile_contracts, genesis_time

START = dt.date(2024, 3, 1)  # first day with transfers; block 0 is at 00:00 the day before
SLOT_S = 12
MISSED = 0.01  # share of slots without a block
PER_TX = 250  # transfers per spray transaction
FINALITY_DEPTH = 64
SEED = 7
# The chain's size: `python -m bench --set densechain.DAYS=14 densechain.TRANSFERS=250000`.
DAYS = 7
TRANSFERS = 120_000
# Shares of the transfers (percent) touching each label set: the label file's wallets (100),
# and as many synthetic wallets for each other share. 50 is the published upper bound (above).
SHARES = (100, 50, 30, 10, 3, 1)


@dataclasses.dataclass(frozen=True)
class DenseChain:
    url: str
    days: list[dt.date]
    latest: int
    closing: dict[dt.date, int]  # planted truth: last block before each next midnight
    transfers: pl.DataFrame  # planted truth: block_number, token, from/to_address, value
    addresses: list[str]  # the label file's addresses (checksummed): the 100 % set
    label_sets: dict[int, list[str]]  # share of the transfers (percent) -> its addresses


def label_sets(labelled: list[str]) -> dict[int, list[str]]:
    """The label file's addresses for 100 %, and as many synthetic wallets for every other
    share in SHARES (so every set makes the same number of topic filters)."""
    return {
        share: labelled
        if share == 100
        else [_synthetic(f"bench-labelled-{share}-{i}") for i in range(len(labelled))]
        for share in SHARES
    }


def _transfers(
    rng: random.Random, n: int, sets: dict[int, list[str]]
) -> list[tuple[str, str, int]]:
    """n transfers: one side a wallet of the 100 % set, the other a wallet of the s set with
    probability s (for each share below 100), else another wallet of the 100 % set."""
    others = [(share / 100, sets[share]) for share in SHARES if share != 100]
    out = []
    for _ in range(n):
        labelled, pick = rng.choice(sets[100]), rng.random()
        for p, wallets in others:
            if pick < p:
                other = rng.choice(wallets)
                break
            pick -= p
        else:  # exchange to exchange, within the label file
            other = rng.choice(sets[100])
        src, dst = (labelled, other) if rng.random() < 0.5 else (other, labelled)
        # whole dollars to a few million, and now and then a value above 2**64 (USDT's
        # supply in base units is ~10**17; extractors must not assume 64-bit values)
        value = (
            rng.randrange(10**6, 5 * 10**12)
            if rng.random() > 0.001
            else 2**70 + rng.randrange(10**9)
        )
        out.append((src, dst, value))
    return out


def _spray_slots(days: int, transfers: int) -> tuple[set[int], int]:
    """The slots that hold a spray transaction, spread evenly over the window's slots, and
    the last slot mined (the last day's blocks buried under FINALITY_DEPTH and a few)."""
    first_slot = 86400 // SLOT_S  # 00:00 of START
    slots = days * 86400 // SLOT_S
    txs = -(-transfers // PER_TX)
    tx_slots = {first_slot + 1 + i * slots // txs for i in range(txs)}
    return tx_slots, first_slot + slots + FINALITY_DEPTH + 10


def _prepare_spray(rpc: Rpc) -> str:
    """TransferSpray's code at the token addresses, and a funded sender anvil signs for:
    returns the sender."""
    sender = _synthetic("bench-sprayer")
    spray = compile_contracts()["TransferSpray"]["runtime"]
    rpc.batch(
        [
            *(("anvil_setCode", [a, spray]) for a in TOKENS.values()),
            ("anvil_autoImpersonateAccount", [True]),
            ("anvil_setBalance", [sender, hex(10**24)]),
        ]
    )
    return sender


def _spray(rpc: Rpc, sender: str, token: str, batch: list, ts: int, nonce: int) -> None:
    """One block at `ts` holding one transaction that emits `batch`'s Transfer logs (from,
    to, value) at the address `token`."""
    data = "0x" + "".join(s[2:].lower() + d[2:].lower() + f"{v:064x}" for s, d, v in batch)
    rpc("evm_setNextBlockTimestamp", ts)
    rpc(
        "eth_sendTransaction",
        {
            "from": sender,
            "to": token,
            "data": data,
            "gas": hex(30_000_000),
            "gasPrice": "0x1",
            "nonce": hex(nonce),
        },
    )
    rpc("evm_mine")


def _mine(
    rpc: Rpc, rng: random.Random, planned: list, tx_slots: set[int], last_slot: int
) -> tuple[int, list[tuple[int, str, str, str, int]]]:
    """Slots 1..last_slot: a spray transaction of the next PER_TX planned transfers in each
    of `tx_slots` (USDT and USDC in turn), an empty block in every other slot but the missed
    ones. Returns the blocks mined and the transfers (block, token, from, to, value)."""
    sender = _prepare_spray(rpc)
    genesis = genesis_time(START)
    rows: list[tuple[int, str, str, str, int]] = []
    mined, run_start, run_length, sprays = 0, None, 0, 0

    def flush() -> None:  # mine the pending run of empty blocks, 12 s apart
        nonlocal mined, run_start, run_length
        if run_length:
            rpc("evm_setNextBlockTimestamp", run_start)
            rpc("anvil_mine", hex(run_length), hex(SLOT_S))
            mined += run_length
        run_start, run_length = None, 0

    for slot in range(1, last_slot + 1):
        ts = genesis + slot * SLOT_S
        if slot in tx_slots:
            flush()
            token = list(TOKENS)[sprays % 2]
            batch = planned[sprays * PER_TX : (sprays + 1) * PER_TX]
            _spray(rpc, sender, TOKENS[token], batch, ts, nonce=sprays)
            mined += 1
            rows += [(mined, token, s.lower(), d.lower(), v) for s, d, v in batch]
            sprays += 1
        elif rng.random() >= MISSED:
            if run_start is not None and ts != run_start + run_length * SLOT_S:
                flush()
            run_start = ts if run_start is None else run_start
            run_length += 1
        elif run_length:
            flush()
    flush()
    return mined, rows


def _closing_blocks(rpc: Rpc, latest: int, days: list[dt.date]) -> dict[dt.date, int]:
    """Each day's last block before the next midnight, from every header (anvil may shift a
    mined run by a second): a full scan, independent of the search being benchmarked."""
    stamps = [
        int(b["timestamp"], 16)
        for lo in range(1, latest + 1, 2000)
        for b in rpc.batch(
            [
                ("eth_getBlockByNumber", [hex(n), False])
                for n in range(lo, min(lo + 2000, latest + 1))
            ]
        )
    ]
    blocks = list(enumerate(stamps, start=1))
    if any(b >= a for a, b in zip(stamps[1:], stamps)):
        raise RuntimeError("dense chain: block timestamps are not increasing")
    return {
        day: max(n for n, ts in blocks if ts < midnight(day + dt.timedelta(days=1))) for day in days
    }


@functools.cache
def shared() -> DenseChain:
    """One dense chain for every benchmark of a `python -m bench` run (it takes a while to
    plant); its node stops when the process exits."""
    stack = contextlib.ExitStack()
    atexit.register(stack.close)
    return stack.enter_context(dense_chain(DAYS, TRANSFERS))


@contextlib.contextmanager
def dense_chain(days: int = DAYS, transfers: int = TRANSFERS) -> Iterator[DenseChain]:
    # the chain stands in for Ethereum: its labelled wallets, at its token addresses (TOKENS)
    addresses = load_labels().addresses("ethereum")
    sets = label_sets(addresses)
    rng = random.Random(SEED)
    planned = _transfers(rng, transfers, sets)
    window = [START + dt.timedelta(days=i) for i in range(days)]
    tx_slots, last_slot = _spray_slots(days, transfers)

    with Anvil(START, keep_states=FINALITY_DEPTH) as node:
        rpc = Rpc(node.url)
        mined, rows = _mine(rpc, rng, planned, tx_slots, last_slot)
        latest = int(rpc("eth_blockNumber"), 16)
        if latest != mined:
            raise RuntimeError(f"dense chain: expected {mined} blocks, anvil has {latest}")
        closing = _closing_blocks(rpc, latest, [START - dt.timedelta(days=1), *window])
        yield DenseChain(
            url=node.url,
            days=window,
            latest=latest,
            closing=closing,
            transfers=pl.DataFrame(
                rows,
                orient="row",
                schema={
                    "block_number": pl.Int64,
                    "token": pl.String,
                    "from_address": pl.String,
                    "to_address": pl.String,
                    "value": pl.Decimal(38, 0),
                },
            ),
            addresses=addresses,
            label_sets=sets,
        )
