"""A JSON-RPC proxy on 127.0.0.1 in front of the sandbox node, behaving like a real node.

anvil accepts anything; real clients and providers do not. The proxy plays a **node profile**
(`PROFILES`), each modelled on a documented limit of a real client or provider, so the
sandbox is never kinder than the world. What each profile refuses (source):

- `anvil`: nothing: the bare sandbox node.
- `geth`: > 1,000 values per topic position or addresses (go-ethereum eth/filters:
  `maxSubTopics = 1000` since v1.14.0, PR #29535; `--rpc.logquerylimit` default 1000 since
  v1.16.4); > 1,000 calls per batch, "batch too large" (`--rpc.batch-request-limit`); a batch
  answer past 25 MB, -32003 "response too large" on the calls after it
  (`--rpc.batch-response-max-size`); request bodies over 5 MiB, HTTP 413 (rpc/http.go
  `defaultBodyLimit`); eth_call and eth_estimateGas run with at most 50M gas, the gas of a
  call that names none (`--rpc.gascap`, eth/ethconfig `RPCGasCap`; internal/ethapi
  `CallDefaults`), and a call burning more answers -32000 "out of gas" (as seen live in
  ethstorage/web3url-gateway#99). The sandbox's anvil runs with no cap of its own.
- `erigon`: geth's topic limit with Erigon's message (`--rpc.logs.querylimit` 1000); > 100
  calls per batch (`--rpc.batch.limit` default 100); eth_call results over 100,000 bytes
  (`--rpc.returndata.limit` default 100000); eth_call gas as geth's, 50M (`--rpc.gascap`).
- `infura`: an eth_getLogs answer of more than 10,000 logs: -32005 "query returned more than
  10000 results" with a suggested range (Infura docs, eth_getLogs); ranges over 10,000 blocks:
  -32602 "range N exceeds limit of 10000" (what the live API answers, INFURA/infura issue #237);
  rate limits as its docs show them ("Avoid rate limiting"): HTTP 429, -32005 "project ID
  request rate exceeded", `data` {see, current_rps, allowed_rps, backoff_seconds: 30.0}.
- `reth`: eth_getLogs over more than 100,000 blocks, -32602 "query exceeds max block range
  100000" (`--rpc.max-blocks-per-filter`), or answering more than 20,000 logs, -32602 "query
  exceeds max results 20000, retry with the range <from>-<to>" in decimal block numbers
  (`--rpc.max-logs-per-response`; reth crates/rpc/rpc-eth-types EthFilterError, seen live as
  "query exceeds max results 20000, retry with the range 22382105-22382515"); eth_call gas
  as geth's, 50M (`--rpc.gascap`).
- `alchemy-free`: eth_getLogs over more than 10 blocks (Alchemy docs, eth_getLogs: Free tier
  block range).
- `alchemy`: Alchemy's paid tiers: an eth_getLogs answer of more than 10,000 logs, -32602 "Log
  response size exceeded. You can make eth_getLogs requests with up to a 2K block range and
  no limit on the response size, or you can request any block range with a cap of 10K logs
  in the response. Based on your parameters and the response size limit, this block range
  should work: [0x.., 0x..]" (as seen live, ethers-io/ethers.js#4703). Only the cap is
  played: a range of 2,000 blocks or fewer is not exempted.
- `nethermind`: a batch answer past 32 MiB, -32005 "MaxBatchResponseBodySize of 32768KB
  exceeded" on the calls after it (`JsonRpc.MaxBatchResponseBodySize`, JsonRpcProcessor
  IterateRequest). Only that limit is played.
- `proxyd`: geth behind OP's proxyd (ethereum-optimism/infra proxyd, server.go): request bodies
  over 256 KiB (`max_body_size_bytes`' default) answer HTTP 413 with -32021 "request body too
  large" (id null); rate limits HTTP 429, -32016 "over rate limit".
- `quicknode`: eth_getLogs over more than 10,000 blocks (5 on trial plans): HTTP 413 with
  -32614 "eth_getLogs is limited to a 10,000 range" (eternalsafe/wallet#57,
  OffchainLabs/arbitrum-sdk#609); rate limits -32012 "credits limited to 6000/sec"
  (foundry-rs/foundry#6712).
- `full-node`: geth, keeping state for the newest 128 blocks only: eth_call at older blocks
  fails "missing trie node" (go-ethereum issue #20874).
- `erigon-latest-state`: Erigon answering state reads at blocks older than its window from
  its latest state, with no error (erigontech/erigon#4149; Erigon 3 full nodes, #12977, an
  error since #13014): a supply or balance of today stored as an old day's.
- `erigon-pruned`: Erigon 2 with pruned history (`--prune=h`, the newest 90,000 blocks kept,
  `--prune.h.older`): state reads at older blocks answer as if the state were empty, with no
  error: eth_call "0x" (erigontech/erigon#5274, closed as is; #3152), so a balance or a
  supply reads as nothing rather than failing.
- `pruned`: geth with `--history.chain postmerge`: blocks and logs below a cutoff answer 4444
  "pruned history unavailable" (go-ethereum core/history PrunedHistoryError).
- `arbitrum-nitro`: an Arbitrum One Nitro node without `--execution.rpc.classic-redirect`
  (earlier releases: `--node.rpc.classic-redirect`): state reads (eth_call, eth_getBalance, ...)
  at a block before its Nitro genesis (22,207,817 by default; set per chain) answer -32000
  "missing trie node 0000000000000000000000000000000000000000000000000000000000000000 (path )
  <nil>" (OffchainLabs/go-ethereum arbitrum/apibackend.go returns `types.ErrUseFallback`
  for a pre-Nitro header, whose text is core/types/arb_types.go `fallbackErrorMsg`; seen
  live in OffchainLabs/nitro#1964 and #2156). Blocks and logs before it are served: the
  Nitro database holds the classic chain's blocks and receipts, it only cannot execute on
  them (nitro docs/node-running/running-a-classic-node.md; nitro#1745, go-ethereum#245).
  eth_call gas as geth's, 50M (`--execution.rpc.gas-cap`).
- `dshackle`: geth's limits behind a load balancer that answers a batch's calls in the order
  its upstream nodes finish them, not in the order asked: emeraldpay/dshackle ("expected
  behavior", dshackle#148), Chainstack's docs (chainstack/dev-portal#158: "not guaranteed to
  match request order", match by id), ArchiveNode.io (NomicFoundation/hardhat#1327) and Erigon
  before erigontech/erigon#2541 (erigon#2540). JSON-RPC 2.0 allows it: batch answers "MAY be
  returned in any order", matched by `id` (jsonrpc.org/specification, "Batch").
- `reth-full`: `reth`'s limits, with receipt pruning (`--full`): blocks and headers are
  served, but an eth_getLogs over blocks below the cutoff answers as if they held no logs,
  with no error, and eth_getBlockReceipts there answers null (paradigmxyz/reth#21122:
  "returns an empty array"; reth#27002 made it an error since; Erigon full nodes do the same
  for address-filtered queries, erigontech/erigon#16042, #23322). The cutoff is set per chain,
  as `pruned`'s. State is kept for the newest 10,064 blocks (the reth book, "Pruning": full
  node), older state answering -32603 "state at block #N is pruned".
- `java-tron`: TRON's java-tron JSON-RPC, played on an Ethereum chain (tronprotocol/java-tron
  framework .../services/jsonrpc): state methods at a numbered block answer -32602 "QUANTITY
  not supported, just support TAG as latest", and at a tag other than latest "TAG [earliest |
  pending | finalized] not supported" (TronJsonRpcImpl); an eth_call with a third parameter (a
  state override) answers -32602 "method parameters invalid" (jsonrpc4j, extra parameters not
  allowed), checked first as jsonrpc4j does; eth_getLogs over more than 5,000 blocks answers
  -32602 "exceed max block range: 5000" (LogFilterWrapper, `node.jsonrpc.maxBlockRange`),
  more than 10,000 logs -32005 "query returned more than 10000 results" with no range
  suggested (LogBlockQuery MAX_RESULT), more than 1,000 values in a topic position "exceed
  max topics: 1000" (`maxSubTopics`); more than 100 calls in a batch, -32005 "Batch size N
  exceeds the limit of 100" (JsonRpcServlet, `maxBatchSize`, java-tron PR #6728); every
  header's logsBloom is 256 zero bytes (BlockResult: "no value"). A log index built late
  (not built while JSON-RPC was off, java-tron#6384, #6958) answers eth_getLogs below a
  cutoff with no logs and no error, while blocks and receipts are served: the cutoff is set
  per chain, as `pruned`'s (0: none). Releases before 2025 also lack eth_getBlockReceipts
  (java-tron#5910): `missing_methods` answers such a method -32601.
- `wrong-chain`: geth, but eth_chainId answers 137 (a Polygon node behind the Ethereum URL).
- `slow-state`: geth, but an eth_call with more than 20,000 bytes of call data (the balance
  reader asking over 1,000 balances) runs past geth's eth_call timeout, answering -32000
  "execution aborted (timeout = 5s)" (`--rpc.evmtimeout`, 5 s by default; internal/ethapi
  DoCall; Erigon the same words). A model, not a measurement: an archive node reading old
  state from disk (**estimated** 1 to 5 ms a cold read, several trie levels each) spends
  seconds on a thousand balances.
- `slow-scans`: geth, but an eth_getLogs over more than 100,000 blocks takes 120 s to answer,
  past any client's timeout, with no error: what geth did with a scan longer than its HTTP
  write timeout before PR #25457 (it closed the connection silently, go-ethereum#20426;
  since then it answers -32002 "request timed out", which the client narrows as well) and
  what public endpoints do (circlefin/arc-node#83: "hang past 60s and never return";
  Nodit's docs: wide ranges "can cause response delays or timeouts"). `slow_status=524`
  plays a Cloudflare-fronted endpoint instead, whose gateway answers 524 after 100 s.

Besides, on demand: answer the next N requests (holding a call of `limit_method`, if set)
with the profile's rate-limit error (-32005 inside HTTP 200; `infura`'s: above); cut the
answer to the next request holding a call of `cut_method` in half (a connection dropped
mid-body); fail every call of the next request holding `fail_method`. It counts HTTP
requests and JSON-RPC calls by method, so tests and benchmarks see what a run cost.
"""

from __future__ import annotations

import dataclasses
import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass

import requests

from core.resources.evm import NITRO_GENESIS
from sandbox.jsonrpc_server import JsonRpcServer

_STATE_METHODS = {
    "eth_call": 1,
    "eth_getBalance": 1,
    "eth_getCode": 1,
    "eth_getStorageAt": 2,
    "eth_getTransactionCount": 1,
}


@dataclass(frozen=True)
class NodeProfile:
    name: str
    topic_values: int | None = None  # values per topic position (and addresses) per filter
    topic_message: str = "exceed max addresses or topics per search position"
    max_batch: int | None = None
    batch_message: str = "batch too large"  # {n}: the calls in the batch
    batch_code: int = -32600
    max_batch_response: int | None = None  # bytes of results in one batch answer
    max_body: int | None = None  # bytes of one request body
    # how a body past it is refused (with HTTP 413): geth's plain text, or a JSON-RPC error
    # (code, message) with id null (OP proxyd)
    body_error: tuple[int, str] | None = None
    # what the calls after a batch answer past max_batch_response get (geth's words)
    response_error: tuple[int, str] = (-32003, "response too large")
    max_log_blocks: int | None = None
    # the refusal of a wider range: code and message ({span} blocks asked, {limit}, {lo}, {hi})
    range_error: tuple[int, str] = (
        -32600,
        "Under the Free tier plan, you can make eth_getLogs requests with up to a "
        "{limit} block range. Based on your parameters, this block range should work: "
        "[{lo}, {hi}]. Upgrade to PAYG for expanded block range.",
    )
    range_status: int = 200  # the HTTP status an answer holding a range refusal goes out with
    max_log_results: int | None = None
    # the refusal of a fuller answer: code and message ({cap}; {lo}..{hi}, the range that
    # would have held the cap, as numbers)
    results_error: tuple[int, str] = (
        -32005,
        "query returned more than {cap} results. Try with this block range [{lo:#x}, {hi:#x}].",
    )
    state_blocks: int | None = None  # state kept for this many newest blocks
    # How a state read older than that is answered: "refused" (an error, as geth and reth
    # do), "empty" (as if the state were empty, Erigon with pruned history: eth_call "0x",
    # eth_getCode "0x", a balance 0), or "latest" (from the latest state, Erigon:
    # erigontech/erigon#4149, #12977)
    old_state: str = "refused"
    max_return_bytes: int | None = None  # bytes of one eth_call result
    pruned_below: int | None = None  # blocks and logs below this are gone
    # ... or only the receipts below it, and eth_getLogs answers as if they held no logs
    silent_pruning: bool = False
    nitro_genesis: int | None = None  # state below this block needs a classic node
    chain_id: int | None = None  # what eth_chainId answers instead of the node's own
    # A request holding an eth_getLogs over more than this many blocks takes `slow_seconds`
    # to answer, with no error (go-ethereum#20426, circlefin/arc-node#83); with `slow_status`
    # a gateway in front gives up first and answers that status at once (Cloudflare: 524).
    slow_log_blocks: int | None = None
    slow_seconds: float = 120.0
    slow_status: int = 200
    # How a rate limit is answered: HTTP status, message (code -32005), and the wait asked in
    # error.data.backoff_seconds (Infura), if any
    rate_status: int = 200
    rate_message: str = "request rate exceeded"
    rate_code: int = -32005
    rate_backoff_s: float | None = None
    # An eth_call with more call data than this runs past the node's eth_call timeout
    slow_call_bytes: int | None = None
    # Gas an eth_call (or eth_estimateGas) may burn: one without `gas` gets this much, one
    # asking more is cut to it, and running out answers -32000 "out of gas"
    gas_cap: int | None = None
    # A batch's answers in another order than its calls (a load balancer: `dshackle`)
    shuffled: bool = False
    # java-tron: state only at "latest" (a numbered block is refused), no eth_call parameter
    # past the second (a state override), and headers whose logsBloom is all zeros
    latest_state_only: bool = False
    call_params: int | None = None
    zero_blooms: bool = False
    # with silent_pruning: the receipts below the cutoff are kept, only the log index is gone
    receipts_kept: bool = False
    # methods the node does not have, answered -32601 (geth before 1.13 and java-tron before
    # 2025, java-tron#5910: eth_getBlockReceipts)
    missing_methods: tuple[str, ...] = ()


# geth's --rpc.gascap defaults to 50M (eth/ethconfig Defaults.RPCGasCap); Erigon's
# --rpc.gascap and Nitro's --execution.rpc.gas-cap default to the same 50M.
RPC_GAS_CAP = 50_000_000
_GETH = dict(
    topic_values=1000,
    max_batch=1000,
    max_batch_response=25_000_000,
    max_body=5 * 1024 * 1024,
    gas_cap=RPC_GAS_CAP,
)
_ERIGON = dict(
    topic_values=1000,
    max_batch=100,
    topic_message="query exceeds the maximum of 1000 addresses or topics per search position",
    batch_message="batch limit 100 exceeded",
    max_return_bytes=100_000,
    gas_cap=RPC_GAS_CAP,
)
_RETH = dict(
    max_log_blocks=100_000,
    range_error=(-32602, "query exceeds max block range {limit}"),
    max_log_results=20_000,
    results_error=(-32602, "query exceeds max results {cap}, retry with the range {lo}-{hi}"),
    gas_cap=RPC_GAS_CAP,
)
PROFILES = {
    p.name: p
    for p in [
        NodeProfile("anvil"),
        NodeProfile("geth", **_GETH),
        NodeProfile("erigon", **_ERIGON),
        # Erigon 2 with pruned history (`--prune=h`, 90,000 blocks kept: --prune.h.older):
        # eth_call at an older block answers "0x", no error (erigontech/erigon#5274, closed
        # unchanged; #3152). Tests set a nearer window with dataclasses.replace.
        NodeProfile("erigon-pruned", **_ERIGON, state_blocks=90_000, old_state="empty"),
        # Erigon answering older blocks' state reads from its latest state, no error: seen
        # with pruned history (erigontech/erigon#4149, 2022; Erigon 3 full nodes #12977, an
        # error since #13014). Tests set a nearer window with dataclasses.replace.
        NodeProfile("erigon-latest-state", **_ERIGON, state_blocks=90_000, old_state="latest"),
        NodeProfile(
            "infura",
            max_log_results=10_000,
            max_log_blocks=10_000,
            range_error=(-32602, "range {span} exceeds limit of {limit}"),
            rate_status=429,
            rate_message="project ID request rate exceeded",
            rate_backoff_s=30.0,
        ),
        NodeProfile("reth", **_RETH),
        NodeProfile("alchemy-free", max_log_blocks=10),
        NodeProfile(
            "alchemy",
            max_log_results=10_000,
            results_error=(
                -32602,
                "Log response size exceeded. You can make eth_getLogs requests with up to a 2K "
                "block range and no limit on the response size, or you can request any block "
                "range with a cap of 10K logs in the response. Based on your parameters and the "
                "response size limit, this block range should work: [{lo:#x}, {hi:#x}]",
            ),
        ),
        NodeProfile(
            "quicknode",
            max_log_blocks=10_000,
            range_status=413,
            range_error=(-32614, "eth_getLogs is limited to a {limit:,} range"),
            rate_code=-32012,
            rate_message="credits limited to 6000/sec",
        ),
        NodeProfile(
            "nethermind",
            max_batch_response=32 * 1024 * 1024,
            response_error=(-32005, "MaxBatchResponseBodySize of 32768KB exceeded"),
        ),
        NodeProfile(
            "proxyd",
            **{**_GETH, "max_body": 256 * 1024},
            body_error=(-32021, "request body too large"),
            rate_status=429,
            rate_code=-32016,
            rate_message="over rate limit",
        ),
        NodeProfile("full-node", **_GETH, state_blocks=128),
        # the cutoff is set per chain: RpcProxy(..., pruned_below=N)
        NodeProfile("pruned", **_GETH, pruned_below=0),
        # the cutoff is set per chain, as for `pruned`
        NodeProfile("reth-full", **_RETH, pruned_below=0, silent_pruning=True, state_blocks=10_064),
        # Arbitrum One's Nitro genesis; a sandbox chain sets its own: RpcProxy(...,
        # nitro_genesis=N). Only the floor is played: Nitro's other limits are not modelled.
        NodeProfile("arbitrum-nitro", nitro_genesis=NITRO_GENESIS, gas_cap=RPC_GAS_CAP),
        NodeProfile("dshackle", **_GETH, shuffled=True),
        # TRON's java-tron JSON-RPC with its defaults (tronprotocol/java-tron: TronJsonRpcImpl,
        # LogFilterWrapper node.jsonrpc.maxBlockRange 5000 and maxSubTopics 1000, LogBlockQuery
        # MAX_RESULT 10000, JsonRpcServlet maxBatchSize 100, BlockResult's zero logsBloom),
        # played on an Ethereum chain: its logs are served, its state nowhere but at "latest".
        # A log index built late (java-tron#6384, #6958) answers the blocks before it with no
        # logs and no error: the cutoff is set per chain, as for `pruned` (0: none).
        NodeProfile(
            "java-tron",
            topic_values=1000,
            topic_message="exceed max topics: 1000",
            max_batch=100,
            batch_message="Batch size {n} exceeds the limit of 100",
            batch_code=-32005,
            max_log_blocks=5000,
            range_error=(-32602, "exceed max block range: {limit}"),
            max_log_results=10_000,
            results_error=(-32005, "query returned more than {cap} results"),
            latest_state_only=True,
            call_params=2,
            zero_blooms=True,
            pruned_below=0,
            silent_pruning=True,
            receipts_kept=True,
        ),
        NodeProfile("wrong-chain", **_GETH, chain_id=137),
        NodeProfile("slow-scans", **_GETH, slow_log_blocks=100_000),
        NodeProfile("slow-state", **_GETH, slow_call_bytes=20_000),
    ]
}


# Profiles that stop serving something below a cutoff block (history, receipts, the log
# index): a sandbox sets the cutoff inside the window, so that the limit bites.
CUT_PROFILES = ("pruned", "reth-full", "java-tron")


# Calls sent to the node at once under a cap on the batch's answer: small enough that little
# runs past the cap, large enough that a batch of thousands stays a handful of requests.
_CAPPED_CHUNK = 16


def _error(call: dict, code: int, message: str, data: dict | None = None) -> dict:
    error = {"code": code, "message": message, **({"data": data} if data else {})}
    return {"jsonrpc": "2.0", "id": call.get("id"), "error": error}


def _empty_state(call: dict) -> dict:
    """What a node holding no state at the block answers instead of an error (old_state
    "empty"):
    "0x" for a call or code, 0 for a balance or nonce, a zero word for storage. A call that
    places stableflow's BalanceReader by state override runs it over the empty state: every
    token without code, so its code flags and balances all zero (extract.reader_answer_chars)."""
    method = call.get("method")
    result = {"eth_getBalance": "0x0", "eth_getTransactionCount": "0x0"}.get(method, "0x")
    if method == "eth_getStorageAt":
        result = "0x" + "0" * 64
    params = call.get("params") or []
    if method == "eth_call" and len(params) > 2 and params[2]:
        from assets.ingest.evm.extract import reader_answer_chars

        data = _call_data(call)
        tokens = int.from_bytes(data[:32], "big")
        result = "0x" + "0" * reader_answer_chars(tokens, (len(data) - 32 - 20 * tokens) // 20)
    return {"jsonrpc": "2.0", "id": call.get("id"), "result": result}


def _profile(profile: str | NodeProfile, **floors: int | None) -> NodeProfile:
    """`profile` with the floors given (pruned_below, nitro_genesis) set: where a node's
    history or state begins is a block of one chain, so it is set per proxy."""
    base = PROFILES[profile] if isinstance(profile, str) else profile
    return dataclasses.replace(base, **{k: v for k, v in floors.items() if v is not None})


# What a Nitro node without a classic node behind it answers for state before its Nitro
# genesis (OffchainLabs/go-ethereum core/types/arb_types.go fallbackErrorMsg, -32000).
NITRO_FALLBACK = (-32000, f"missing trie node {'0' * 64} (path ) <nil>")


# How anvil says a call ran out of the gas it was given (the reader's own revert is the same
# on every node); the proxy answers them as geth does.
_GAS_ERRORS = ("OutOfGas", "out of gas", "CallGasCostMoreThanGasLimit")


def _call_data(call: dict) -> bytes:
    args = (call.get("params") or [{}])[0]
    return bytes.fromhex((args.get("input") or args.get("data") or "0x")[2:])


def _intrinsic_gas(call: dict) -> int:
    """A call's gas before it runs: 21,000 and its call data (16 a non-zero byte, 4 a zero
    one: geth core.IntrinsicGas)."""
    data = _call_data(call)
    zeros = data.count(0)
    return 21_000 + 16 * (len(data) - zeros) + 4 * zeros


def _gas_capped(call: dict, cap: int | None) -> dict:
    """`call` with the gas a node capping eth_call gas at `cap` runs it with: the cap when
    none is given, and no more than the cap when more is (geth internal/ethapi
    TransactionArgs.CallDefaults)."""
    if cap is None or call.get("method") not in ("eth_call", "eth_estimateGas"):
        return call
    params = list(call.get("params") or [{}])
    given = params[0].get("gas")
    gas = min(int(given, 16), cap) if isinstance(given, str) else cap
    params[0] = {**params[0], "gas": hex(gas)}
    return {**call, "params": params}


class RpcProxy(JsonRpcServer):
    def __init__(
        self,
        upstream: str,
        max_log_blocks: int | None = None,
        profile: str | NodeProfile = "anvil",
        pruned_below: int | None = None,
        latency_s: float = 0.0,
        nitro_genesis: int | None = None,
    ):
        super().__init__()
        self.upstream = upstream
        # Each answer waits this long first: a node across a network rather than on this
        # machine (benchmarks of parallel extraction; requests in flight at once overlap).
        self.latency_s = latency_s
        self.profile = _profile(profile, pruned_below=pruned_below, nitro_genesis=nitro_genesis)
        # kept for tests that tighten log ranges on any profile
        self.max_log_blocks = max_log_blocks
        self.rate_limit_next = 0
        self.rate_limit_every = 0  # every k-th request rate limited (a metered provider)
        self.limit_method: str | None = None
        self.rate_limited = 0  # requests answered with a rate-limit error
        self.cut_method: str | None = None
        self.cut = 0  # answers cut
        self.shuffled = 0  # batch answers sent in another order than asked
        # The next request holding a call of this method has every call answered
        # "internal error" (a node failing mid-run).
        self.fail_method: str | None = None
        self.http_requests = 0
        self.refused: Counter[str] = Counter()  # refusals by kind
        # calls naming a block below the profile's Nitro genesis, served or not, by method
        self.below_floor: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.paths: Counter[str] = Counter()  # URL paths asked (providers put keys there)
        self._lock = threading.Lock()
        self._session = requests.Session()

    def seen(self, path: str) -> None:
        with self._lock:
            self.paths[path] += 1

    def use(
        self,
        profile: str | NodeProfile,
        pruned_below: int | None = None,
        nitro_genesis: int | None = None,
    ) -> None:
        """Play another profile from the next request on."""
        self.profile = _profile(profile, pruned_below=pruned_below, nitro_genesis=nitro_genesis)

    def reset_counts(self) -> None:
        with self._lock:
            self.http_requests = 0
            self.rate_limited = 0
            self.cut = 0
            self.shuffled = 0
            self.calls.clear()
            self.paths.clear()
            self.refused.clear()
            self.below_floor.clear()

    # --- refusals ---------------------------------------------------------------------

    def _upstream(self, calls: list[dict]) -> dict:
        if not calls:
            return {}
        answers = self._session.post(self.upstream, json=calls, timeout=300).json()
        return {a["id"]: a for a in answers}

    def _head(self) -> int:
        return int(
            self._upstream(
                [{"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber", "params": []}]
            )[0]["result"],
            16,
        )

    @staticmethod
    def _block_param(call: dict) -> int | None:
        method, params = call.get("method"), call.get("params") or []
        if method == "eth_getBlockByNumber":
            position = 0
        elif method in _STATE_METHODS:
            position = _STATE_METHODS[method]
        else:
            return None
        value = params[position] if len(params) > position else "latest"
        return int(value, 16) if isinstance(value, str) and value.startswith("0x") else None

    def _old_state(self, call: dict, head: int | None) -> bool:
        """Is `call` a state read at a block older than the state the profile keeps?"""
        p, block = self.profile, self._block_param(call)
        return (
            p.state_blocks is not None
            and call.get("method") in _STATE_METHODS
            and block is not None
            and head is not None
            and block < head - p.state_blocks
        )

    def _latest_for_old(self, call: dict, head: int | None) -> dict:
        """`call` as a node serving old state from its latest state runs it (old_state
        "latest"): a state read at a block older than its window asks "latest" instead."""
        if self.profile.old_state != "latest" or not self._old_state(call, head):
            return call
        params = list(call.get("params") or [])
        params[_STATE_METHODS[call["method"]]] = "latest"
        with self._lock:
            self.refused["latest_state"] += 1  # not refused: answered with other state
        return {**call, "params": params}

    @staticmethod
    def _log_range(call: dict) -> tuple[int, int]:
        """The blocks an eth_getLogs call scans: (fromBlock, toBlock)."""
        flt = (call.get("params") or [{}])[0]
        return int(flt["fromBlock"], 16), int(flt["toBlock"], 16)

    def _lowest(self, call: dict) -> int | None:
        """The lowest block a call names (a log scan's first), None if it names none."""
        if call.get("method") == "eth_getLogs":
            return self._log_range(call)[0]
        return self._block_param(call)

    def _refusal(self, call: dict, head: int | None) -> tuple[str, dict] | None:
        """(kind, error answer) when the profile refuses this call before the node sees it."""
        p, method = self.profile, call.get("method")
        block = self._block_param(call)
        if method in p.missing_methods:
            return "method", _error(
                call, -32601, f"the method {method} does not exist/is not available"
            )
        if (
            p.call_params is not None
            and method == "eth_call"
            and len(call.get("params") or []) > p.call_params  # jsonrpc4j: no extra params
        ):
            return "override", _error(call, -32602, "method parameters invalid")
        if p.latest_state_only and method in _STATE_METHODS:
            params = call.get("params") or []
            tag = params[_STATE_METHODS[method]] if len(params) > _STATE_METHODS[method] else None
            if block is not None:
                return "state", _error(
                    call, -32602, "QUANTITY not supported, just support TAG as latest"
                )
            if tag not in (None, "latest"):
                return "state", _error(
                    call, -32602, "TAG [earliest | pending | finalized] not supported"
                )
        if (
            p.pruned_below
            and not p.silent_pruning
            and method == "eth_getBlockByNumber"
            and block is not None
            and block < p.pruned_below
        ):
            return "pruned", _error(call, 4444, "pruned history unavailable")
        if (
            p.nitro_genesis
            and method in _STATE_METHODS
            and block is not None
            and block < p.nitro_genesis
        ):
            return "nitro", _error(call, *NITRO_FALLBACK)
        # old_state "latest" is answered, from other state: _latest_for_old
        if p.old_state != "latest" and self._old_state(call, head):
            if p.old_state == "empty":
                return "empty_state", _empty_state(call)
            if p.silent_pruning:  # reth's words (paradigmxyz/reth#21122)
                return "state", _error(call, -32603, f"state at block #{block} is pruned")
            root = "0x" + format(block, "064x")
            return "state", _error(
                call, -32000, f"missing trie node {root[2:]} (path ) state {root} is not available"
            )
        if (
            p.slow_call_bytes is not None
            and method == "eth_call"
            and len(_call_data(call)) > p.slow_call_bytes
        ):
            return "evm_timeout", _error(call, -32000, "execution aborted (timeout = 5s)")
        if method != "eth_getLogs":
            return None
        flt = (call.get("params") or [{}])[0]
        lo, hi = self._log_range(call)
        if p.pruned_below and not p.silent_pruning and lo < p.pruned_below:
            return "pruned", _error(call, 4444, "pruned history unavailable")
        positions = [flt.get("address")] + list(flt.get("topics") or [])
        if p.topic_values is not None and any(
            isinstance(v, list) and len(v) > p.topic_values for v in positions
        ):
            return "topics", _error(call, -32602, p.topic_message)
        span = min(self.max_log_blocks or 2**62, p.max_log_blocks or 2**62)
        if hi - lo + 1 > span:
            if p.max_log_blocks == span:
                code, message = p.range_error
                return "range", _error(
                    call,
                    code,
                    message.format(span=hi - lo + 1, limit=span, lo=hex(lo), hi=hex(lo + span - 1)),
                )
            return "range", _error(
                call,
                -32005,
                "query returned more than 10000 results. Try "
                f"with this block range [{hex(lo)}, {hex(lo + span - 1)}].",
            )
        return None

    def _answer(self, calls: list[dict]) -> tuple[list[dict], int]:
        """The answers, and the HTTP status they go out with."""
        p = self.profile
        if p.max_batch is not None and len(calls) > p.max_batch:
            # geth answers one error carrying the first call's id (rpc/handler.go
            # respondWithBatchTooLarge)
            self.refused["batch"] += 1
            return [_error(calls[0], p.batch_code, p.batch_message.format(n=len(calls)))], 200
        needs_head = p.state_blocks is not None and any(
            c.get("method") in _STATE_METHODS for c in calls
        )
        head = self._head() if needs_head else None
        refusals = {i: r for i, c in enumerate(calls) if (r := self._refusal(c, head))}
        for kind, _ in refusals.values():
            self.refused[kind] += 1
        if p.nitro_genesis:
            low = [c for c in calls if (b := self._lowest(c)) is not None and b < p.nitro_genesis]
            with self._lock:
                self.below_floor.update(c.get("method") for c in low)
        sent = [i for i in range(len(calls)) if i not in refusals]
        forward = [self._latest_for_old(_gas_capped(calls[i], p.gas_cap), head) for i in sent]
        capped = p.max_batch_response is not None
        # Under a cap on the batch's answer, calls go to the node a few at a time, so the
        # calls after the one that passes the cap are never run: geth answers them "response
        # too large" without executing them (rpc/handler.go handleBatch).
        by_id = {} if capped else self._upstream(forward)
        position = {i: k for k, i in enumerate(sent)}
        answers, size = [], 0
        for i, call in enumerate(calls):
            if i in refusals:
                answers.append(refusals[i][1])
                continue
            if capped and size > p.max_batch_response:
                self.refused["response"] += 1
                answers.append(_error(call, *p.response_error))
                continue
            if call.get("id") not in by_id:
                k = position[i]
                # a log scan alone: geth runs none after the one passing the cap, and a
                # scan is the costly call the cap is there for
                size_of_chunk = 1 if call.get("method") == "eth_getLogs" else _CAPPED_CHUNK
                by_id.update(self._upstream(forward[k : k + size_of_chunk]))
            answer = dict(by_id[call.get("id")])
            if call.get("method") == "eth_chainId" and p.chain_id is not None:
                answer["result"] = hex(p.chain_id)
            if (
                p.zero_blooms
                and call.get("method") == "eth_getBlockByNumber"
                and isinstance(answer.get("result"), dict)
            ):
                answer["result"] = {**answer["result"], "logsBloom": "0x" + "0" * 512}
            result = answer.get("result")
            error = str(answer.get("error") or "")
            if p.gas_cap is not None and any(m in error for m in _GAS_ERRORS):
                self.refused["gas"] += 1
                # anvil's words in geth's (code -32000): the call's vm.ErrOutOfGas, and
                # core.ErrIntrinsicGas when its call data alone costs more than the cap
                if "OutOfGas" in error:
                    answer = _error(call, -32000, "out of gas")
                elif "CallGasCostMoreThanGasLimit" in error:
                    have = int(forward[position[i]]["params"][0]["gas"], 16)
                    want = _intrinsic_gas(call)
                    # DoCall wraps it: "err: %w (supplied gas %d)"
                    answer = _error(
                        call,
                        -32000,
                        f"err: intrinsic gas too low: have {have}, want {want} "
                        f"(supplied gas {have})",
                    )
            if (
                call.get("method") == "eth_call"
                and p.max_return_bytes is not None
                and isinstance(result, str)
                and (len(result) - 2) // 2 > p.max_return_bytes
            ):
                self.refused["return"] += 1
                answer = _error(
                    call,
                    -32000,
                    f"call returned result on length "
                    f"{(len(result) - 2) // 2} exceeding --rpc.returndata.limit "
                    f"{p.max_return_bytes}",
                )
            if (
                p.silent_pruning
                and p.pruned_below
                and call.get("method") == "eth_getLogs"
                and isinstance(result, list)
            ):
                # reth before #27002: the pruned blocks' logs are missing, with no error
                kept = [log for log in result if int(log["blockNumber"], 16) >= p.pruned_below]
                self.refused["receipts"] += len(result) - len(kept)
                result = kept
                answer = {**answer, "result": kept}
            if (
                p.silent_pruning
                and p.pruned_below
                and call.get("method") == "eth_getBlockReceipts"
                and not p.receipts_kept
                and int((call.get("params") or ["0x0"])[0], 16) < p.pruned_below
            ):
                self.refused["receipts"] += 1
                result, answer = None, {**answer, "result": None}  # no receipts kept: null
            if (
                call.get("method") == "eth_getLogs"
                and p.max_log_results is not None
                and isinstance(result, list)
                and len(result) > p.max_log_results
            ):
                lo, _ = self._log_range(call)
                # Infura and reth suggest a range that would have held the cap
                last = int(result[p.max_log_results - 1]["blockNumber"], 16) - 1
                self.refused["results"] += 1
                code, message = p.results_error
                answer = _error(
                    call, code, message.format(cap=p.max_log_results, lo=lo, hi=max(lo, last))
                )
            size += len(json.dumps(result)) if result is not None else 0
            answers.append(answer)
        ranged = any(kind == "range" for kind, _ in refusals.values())
        if p.shuffled and len(answers) > 1:
            # the order upstream nodes finish in: seeded by the request, so a run repeats
            random.Random(self.http_requests).shuffle(answers)
            if [a.get("id") for a in answers] == [c.get("id") for c in calls]:
                answers.reverse()  # never by luck in the order asked
            with self._lock:
                self.shuffled += 1
        return answers, p.range_status if ranged else 200

    def _slow(self, calls: list[dict]) -> bool:
        """Whether a call of this request is a log scan too wide for the profile's time."""
        widest = self.profile.slow_log_blocks
        return widest is not None and any(
            hi - lo + 1 > widest
            for lo, hi in (self._log_range(c) for c in calls if c.get("method") == "eth_getLogs")
        )

    def handle(self, body: bytes) -> tuple[int, bytes]:
        if self.latency_s:
            time.sleep(self.latency_s)
        if self.profile.max_body is not None and len(body) > self.profile.max_body:
            with self._lock:
                self.http_requests += 1
                self.refused["body"] += 1
            if self.profile.body_error is None:
                return 413, b"content length too large"
            return 413, json.dumps(_error({"id": None}, *self.profile.body_error)).encode()
        payload = json.loads(body)
        calls = payload if isinstance(payload, list) else [payload]
        methods = {c.get("method") for c in calls}
        with self._lock:
            self.http_requests += 1
            self.calls.update(c.get("method") for c in calls)
            metered = (
                bool(self.rate_limit_every) and self.http_requests % self.rate_limit_every == 0
            )
            limited = metered or self.rate_limit_next > 0 and self.limit_method in (None, *methods)
            self.rate_limit_next -= 1 if limited and not metered else 0
            self.rate_limited += 1 if limited else 0
            failed = not limited and self.fail_method in methods
            self.fail_method = None if failed else self.fail_method
            cut = not limited and not failed and self.cut_method in methods
            self.cut_method = None if cut else self.cut_method
            self.cut += 1 if cut else 0
        if self._slow(calls):
            with self._lock:
                self.refused["slow"] += 1
            if self.profile.slow_status != 200:
                return self.profile.slow_status, b"error code: %d" % self.profile.slow_status
            time.sleep(self.profile.slow_seconds)
        p = self.profile
        if limited:
            data = None
            if p.rate_backoff_s is not None:  # Infura's documented shape
                data = {
                    "see": "https://infura.io/docs/ethereum/jsonrpc/ratelimits",
                    "current_rps": 13.333,
                    "allowed_rps": 10.0,
                    "backoff_seconds": p.rate_backoff_s,
                }
            answers = [_error(c, p.rate_code, p.rate_message, data) for c in calls]
            status = p.rate_status
        elif failed:
            answers, status = [_error(c, -32603, "internal error") for c in calls], 200
        else:
            answers, status = self._answer(calls)
        single = not isinstance(payload, list) and len(answers) == 1
        body = json.dumps(answers[0] if single else answers).encode()
        return status, body[: len(body) // 2] if cut else body
