"""HttpSource: retries, Retry-After, rate limit, clear errors without secrets."""

import pytest

from core.errors import SourceError
from core.resources.http import redact_url
from tests.conftest import fast_source

PATH = "/stablecoin/1"


def source(replay, **overrides):
    return fast_source("defillama", f"{replay.url}/defillama", **overrides)


def test_retry_after_is_honoured_then_the_answer_is_returned(replay):
    replay.inject("/defillama/stablecoin/1", "429", times=2, retry_after=0.03)
    client = source(replay)
    body = client.get_json(PATH)
    assert body["symbol"] == "USDT"
    assert client.requests_made == 3
    assert client.waits == [0.03, 0.03]  # Retry-After, not the exponential back-off


def test_server_errors_back_off_exponentially(replay):
    replay.inject("/defillama/stablecoin/1", "500", times=2)
    client = source(replay, backoff_s=0.001, max_backoff_s=1)
    assert client.get_json(PATH)["symbol"] == "USDT"
    assert client.waits == [0.001, 0.002]


def test_truncated_json_is_retried(replay):
    replay.inject("/defillama/stablecoin/1", "truncated", times=1)
    client = source(replay)
    assert client.get_json(PATH)["symbol"] == "USDT"
    assert client.requests_made == 2


def test_connection_cut_mid_body_is_retried(replay):
    replay.inject("/defillama/stablecoin/1", "cut", times=1)
    client = source(replay)
    assert client.get_json(PATH)["symbol"] == "USDT"
    assert client.requests_made == 2


def test_unreadable_retry_after_falls_back_to_backoff(replay, monkeypatch):
    import core.resources.http as http

    assert http._retry_after_seconds("soon, maybe") is None
    assert http._retry_after_seconds("Thu, 01 Jan 1970 00:00:00 -0000") == 0.0


def test_malformed_url_fails_without_showing_the_key():
    client = fast_source("rpc ethereum", "htps://node.example/v2/SECRETKEY123", hide_path=True)
    with pytest.raises(SourceError) as err:
        client.post_json("", {"jsonrpc": "2.0"})
    assert "SECRETKEY123" not in str(err.value) and "cannot be sent" in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_timeout_is_retried(replay):
    replay.inject("/defillama/stablecoin/1", "slow", times=1, delay_s=0.5)
    client = source(replay, timeout_s=0.2)
    assert client.get_json(PATH)["symbol"] == "USDT"
    assert client.requests_made == 2


def test_persistent_failure_names_source_url_and_status(replay):
    replay.inject("/defillama/stablecoin/1", "500", times=-1)
    client = source(replay, max_attempts=3)
    with pytest.raises(SourceError) as err:
        client.get_json(PATH)
    message = str(err.value)
    assert message.startswith("defillama: GET http://127.0.0.1:")
    assert "/defillama/stablecoin/1" in message and "3 attempts" in message
    assert "HTTP 500" in message
    assert client.requests_made == 3


def test_client_errors_are_not_retried(replay):
    client = source(replay)
    with pytest.raises(SourceError, match="HTTP 404"):
        client.get_json("/stablecoin/999")
    assert client.requests_made == 1


def test_unreachable_source_gives_up_with_connection_error():
    # Port 9 on loopback: nothing listens, the connection is refused at once.
    client = fast_source("coingecko", "http://127.0.0.1:9/api/v3", max_attempts=2)
    with pytest.raises(SourceError, match="coingecko: .*ConnectionError"):
        client.get_json("/ping")


def test_api_key_is_sent_as_header_and_never_shown(replay):
    secret = "CG-planted-secret-123"
    client = fast_source(
        "coingecko",
        f"{replay.url}/coingecko/api/v3",
        max_attempts=1,
        api_key=secret,
        api_key_header="x-cg-demo-api-key",
    )
    with pytest.raises(SourceError) as err:
        client.get_json(
            "/coins/nope/market_chart/range",
            {"vs_currency": "usd", "from": 0, "to": 1, "x_cg_demo_api_key": secret},
        )
    assert secret not in str(err.value)


def test_redact_url_removes_userinfo_and_secret_params():
    url = "https://user:pw@rpc.example.org/v2/abc?apikey=XYZ&from=1&token=t"
    shown = redact_url(url, ("abc",))
    assert shown == "https://rpc.example.org/v2/***?apikey=%2A%2A%2A&from=1&token=%2A%2A%2A"


def test_rate_limit_spaces_requests(replay):
    slept = []
    client = source(replay, min_interval_s=10.0)
    client._sleep = slept.append  # record instead of waiting
    client.get_json(PATH)
    client.get_json(PATH)
    assert len(slept) == 1 and 9.0 < slept[0] <= 10.0


@pytest.mark.parametrize(
    "env, spacing_s",
    [
        ({}, 12.0),  # keyless: CoinGecko's public API allows as few as 5 calls a minute
        ({"COINGECKO_API_KEY": "CG-demo-key"}, 2.0),  # a demo key: 30 calls a minute
        ({"STABLEFLOW_COINGECKO_MIN_INTERVAL_S": "0.5"}, 0.5),  # a paid plan's own rate
    ],
    ids=["keyless", "demo-key", "explicit"],
)
def test_coingecko_calls_are_spaced_for_the_tier(monkeypatch, env, spacing_s):
    import importlib

    import pipelines.definitions as module

    for name in ("COINGECKO_API_KEY", "STABLEFLOW_COINGECKO_MIN_INTERVAL_S"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    try:
        assert importlib.reload(module).defs.resources["coingecko"].min_interval_s == spacing_s
    finally:
        monkeypatch.undo()
        importlib.reload(module)


def test_retry_after_longer_than_the_client_waits_fails_at_once(replay):
    """Asking again before the server said only burns a request it refuses again."""
    replay.inject("/defillama/stablecoin/1", "429", times=1, retry_after=120)
    client = source(replay)  # max_backoff_s 0.05
    with pytest.raises(SourceError) as err:
        client.get_json(PATH)
    assert str(err.value).startswith(
        "defillama: the provider asked to back off 120 s (Retry-After in an HTTP 429 to GET http"
    )
    assert "max_backoff_s = 0.05 s" in str(err.value)
    assert client.requests_made == 1 and client.waits == []
