"""A provider's own word on how long to back off is honoured: Infura's rate limits carry
error.data.backoff_seconds (its docs, "Avoid rate limiting": HTTP 429, -32005, data
{see, current_rps, allowed_rps, backoff_seconds}). The client waits at least that long and
asks again once per hint; a hint longer than it waits at once (max_backoff_s) fails at once,
naming the wait asked. Through the sandbox proxy's `infura` profile; no real sleeping."""

import dataclasses
import json

import pytest

from core.errors import SourceError
from core.resources.evm import EvmRpc
from sandbox.jsonrpc_server import JsonRpcServer
from sandbox.rpc_proxy import PROFILES, RpcProxy

ADDRESS = "0x" + "11" * 20
INFURA = PROFILES["infura"]  # 429, -32005, data.backoff_seconds 30.0
# the same refusal inside HTTP 200, as a batch's calls can get it
INFURA_200 = dataclasses.replace(INFURA, rate_status=200)


class Node(JsonRpcServer):
    """Answers every call: no logs, and 0x1 for anything else."""

    def handle(self, body: bytes) -> tuple[int, bytes]:
        answers = [
            {
                "jsonrpc": "2.0",
                "id": c["id"],
                "result": [] if c["method"] == "eth_getLogs" else "0x1",
            }
            for c in json.loads(body)
        ]
        return 200, json.dumps(answers).encode()


@pytest.fixture(scope="module")
def servers():
    with Node() as node, RpcProxy(node.url) as proxy:
        yield proxy


@pytest.fixture
def proxy(servers):
    servers.use("infura")
    servers.rate_limit_next = 0
    servers.reset_counts()
    return servers


def client(proxy: RpcProxy, **settings) -> EvmRpc:
    rpc = EvmRpc(chain="ethereum", url=proxy.url, **{"backoff_s": 0.01, **settings})
    rpc.http._sleep = lambda seconds: None  # waits are recorded (rpc.http.waits), not slept
    return rpc


READS = {
    "batch": lambda rpc: rpc.batch([("eth_blockNumber", []), ("eth_gasPrice", [])]),
    "get_logs": lambda rpc: rpc.get_logs([(ADDRESS, [])], 0, 9),
}


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize("profile", [INFURA, INFURA_200], ids=["http429", "http200"])
def test_the_client_waits_what_the_provider_asks_and_asks_again_once(proxy, profile, read):
    proxy.use(profile)
    proxy.rate_limit_next = 1
    rpc = client(proxy)
    READS[read](rpc)
    # 30 s as asked, not the 0.01 s of its own back-off; one refused request, one answered
    assert rpc.http.waits == [30.0]
    assert (proxy.rate_limited, proxy.http_requests) == (1, 2)


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize("profile", ["quicknode", "proxyd"])
def test_rate_limits_in_other_codes_are_waited_out_not_failed(proxy, profile, read):
    """QuickNode's -32012 "credits limited to 6000/sec" (HTTP 200) and OP proxyd's -32016
    "over rate limit" (HTTP 429): no backoff hint, so the client's own back-off, then the
    answer; read as anything else, the first burst failed the run."""
    proxy.use(profile)
    proxy.rate_limit_next = 1
    rpc = client(proxy)
    READS[read](rpc)
    assert rpc.http.waits and (proxy.rate_limited, proxy.http_requests) == (1, 2)


@pytest.mark.parametrize("read", READS)
@pytest.mark.parametrize("profile", [INFURA, INFURA_200], ids=["http429", "http200"])
def test_a_wait_longer_than_the_client_waits_fails_at_once_naming_it(proxy, profile, read):
    proxy.use(dataclasses.replace(profile, rate_backoff_s=3600.0))
    proxy.rate_limit_next = 1
    rpc = client(proxy)
    with pytest.raises(SourceError) as failure:
        READS[read](rpc)
    message = str(failure.value)
    assert message.startswith("rpc ethereum: the provider asked to back off 3600 s")
    assert "error.data.backoff_seconds" in message and "max_backoff_s = 60 s" in message
    assert rpc.http.waits == [] and proxy.http_requests == 1  # no request sent too early


@pytest.mark.parametrize(
    "profile,expected",
    [
        (INFURA, "gave up after 3 attempts; last problem: HTTP 429, asked to back off 30 s"),
        (INFURA_200, "(still rate limited after 3 attempts; the provider asked to back off 30 s)"),
    ],
    ids=["http429", "http200"],
)
def test_giving_up_says_how_long_the_provider_asked_to_wait(proxy, profile, expected):
    proxy.use(profile)
    proxy.rate_limit_next = 10
    rpc = client(proxy, max_attempts=3)
    with pytest.raises(SourceError, match="rpc ethereum") as failure:
        rpc.call("eth_blockNumber", [])
    assert expected in str(failure.value)
    assert rpc.http.waits == [30.0, 30.0] and proxy.http_requests == 3


def test_the_wait_is_the_longer_of_the_hint_and_the_clients_own_back_off(proxy):
    proxy.use(dataclasses.replace(INFURA_200, rate_backoff_s=3.0))
    proxy.rate_limit_next = 2
    rpc = client(proxy, backoff_s=2.0)
    rpc.call("eth_blockNumber", [])
    # 3 s asked over its own 2 s; then its own 4 s over the 3 s asked
    assert rpc.http.waits == [3.0, 4.0] and proxy.http_requests == 3


@pytest.mark.parametrize(
    "data,expected",
    [
        # Infura's docs ("Avoid rate limiting")
        (
            {
                "see": "https://infura.io/docs/ethereum/jsonrpc/ratelimits",
                "current_rps": 13.333,
                "allowed_rps": 10.0,
                "backoff_seconds": 30.0,
            },
            30.0,
        ),
        # what the live API sent (ethers-rs#1711, from foundry's CI)
        (
            {
                "rate": {
                    "allowed_rps": 1,
                    "backoff_seconds": 30,
                    "current_rps": 1.0666666666666669,
                },
                "see": "https://infura.io/dashboard",
            },
            30.0,
        ),
        # ... and with 0 (INFURA/infura#201): asks nothing, the client's back-off applies
        ({"rate": {"allowed_rps": 50, "backoff_seconds": 0, "current_rps": 52.3}}, None),
        ("0x08c379a0", None),  # error data of another kind: no hint
        ({"backoff_seconds": "soon"}, None),
        ({"backoff_seconds": True}, None),
        (None, None),
    ],
)
def test_the_hint_is_read_where_infura_puts_it(data, expected):
    from core.resources.evm import _asked_wait

    error = {"code": -32005, "message": "project ID request rate exceeded", "data": data}
    assert _asked_wait({"jsonrpc": "2.0", "id": 1, "error": error}) == expected
    # a batch: the longest wait any answer asks
    assert _asked_wait([{"id": 1, "result": "0x1"}, {"id": 2, "error": error}]) == expected
