"""The test session cannot reach the internet: the guard in conftest.py refuses it."""

import socket

import pytest
import requests

from tests.conftest import NetworkAccessError


@pytest.mark.parametrize(
    "address", [("93.184.216.34", 80), ("10.0.0.1", 443), ("::ffff:1.1.1.1", 53)]
)
def test_connect_to_non_loopback_address_fails(address):
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        with pytest.raises(NetworkAccessError, match="connection to"):
            sock.connect(address)


def test_http_request_to_public_api_fails_before_leaving_the_machine():
    with pytest.raises(NetworkAccessError, match="api.coingecko.com"):
        requests.get("https://api.coingecko.com/api/v3/ping", timeout=1)


def test_loopback_is_allowed(replay):
    assert requests.get(f"{replay.url}/defillama/stablecoin/1", timeout=5).status_code == 200
