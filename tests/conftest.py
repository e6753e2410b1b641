"""Shared fixtures, and the guard that keeps every test off the internet.

The guard replaces socket connect and name resolution for the whole test session: a test
that tries to reach anything but a loopback address fails with NetworkAccessError, naming
the address. (Subprocesses a test starts are configured with loopback URLs only.)
"""

from __future__ import annotations

import os

# Tests plant and read Ethereum only unless they say otherwise (before anything imports
# core.chains, which reads it): the two-chain demo and its end-to-end test set their own.
os.environ.setdefault("STABLEFLOW_CHAINS", "ethereum")

import datetime as dt  # noqa: E402
import ipaddress
import socket
import subprocess
import time

import dagster as dg
import pytest
import requests

from core.resources import HttpSource, Warehouse
from sandbox.replay import ReplayServer


class NetworkAccessError(RuntimeError):
    pass


_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _check(sock: socket.socket, address: object) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0] if isinstance(address, tuple) else address
        if not _is_loopback(host):
            raise NetworkAccessError(f"test tried to open a connection to {address!r}")


def _guarded_connect(self, address):
    _check(self, address)
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    _check(self, address)
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if host is not None and not _is_loopback(host):
        raise NetworkAccessError(f"test tried to resolve {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


def pytest_configure(config):
    socket.socket.connect = _guarded_connect
    socket.socket.connect_ex = _guarded_connect_ex
    socket.getaddrinfo = _guarded_getaddrinfo


@pytest.fixture(scope="session")
def replay_server():
    with ReplayServer() as server:
        yield server


@pytest.fixture
def replay(replay_server: ReplayServer) -> ReplayServer:
    """The session's replay server, with no faults, counters at zero, default capture."""
    replay_server.clear()
    yield replay_server
    replay_server.clear()


@pytest.fixture
def warehouse(tmp_path) -> Warehouse:
    return Warehouse(path=str(tmp_path / "warehouse.duckdb"))


def fast_source(name: str, base_url: str, **overrides) -> HttpSource:
    """A source with the production retry policy but millisecond back-offs."""
    settings = dict(backoff_s=0.01, max_backoff_s=0.05, max_attempts=4, timeout_s=5)
    return HttpSource(name=name, base_url=base_url, **{**settings, **overrides})


@pytest.fixture
def resources(replay: ReplayServer, warehouse: Warehouse) -> dict:
    return {
        "warehouse": warehouse,
        "defillama": fast_source("defillama", f"{replay.url}/defillama"),
        "coingecko": fast_source("coingecko", f"{replay.url}/coingecko/api/v3"),
        "alternative_me": fast_source("alternative.me", f"{replay.url}/alternative_me"),
        "fred": fast_source("fred", f"{replay.url}/fred"),
    }


def materialize(
    assets,
    resources: dict,
    start: dt.date,
    end: dt.date,
    instance: dg.DagsterInstance | None = None,
    **kwargs,
):
    """Materialise a window of days as one run, as a single-run backfill does."""
    return dg.materialize(
        assets,
        resources=resources,
        instance=instance or dg.DagsterInstance.ephemeral(),
        tags={
            "dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": end.isoformat(),
        },
        **kwargs,
    )


def failure_messages(result) -> str:
    """The error texts of a run's failed steps, one after another."""
    return "\n".join(
        str(e.event_specific_data.error.to_string()) for e in result.all_events if e.is_step_failure
    )


@pytest.fixture(scope="session")
def backfill_reference(tmp_path_factory):
    """The sandbox of the backfill tests (tests/test_parallel_backfill.py, tests/test_kill.py),
    planted once for their window START..END, and the uninterrupted backfill of that window
    they compare against (tests.test_parallel_backfill.Reference): it runs in the background,
    in its own DAGSTER_HOME and files, while the first test using it does its own runs."""
    from sandbox.world import running_sandbox
    from tests.test_parallel_backfill import END, START, Reference

    with running_sandbox(START, END) as (sandbox_env, _, _):
        reference = Reference(tmp_path_factory.mktemp("backfill_reference"), sandbox_env)
        try:
            yield reference
        finally:
            reference.stop()


# The process-level tests (whole demos, kills, parallel runs, the browser, subprocess runs of
# the Dagster CLI): `make test-fast` leaves them out with -m "not slow"; `make test` runs all.
SLOW_MODULES = {
    "test_e2e",
    "test_kill",
    "test_parallel_backfill",
    "test_reorg",
    "test_ui",
    "test_ui_host",
    "test_secrets",
    "test_disk_full",
    "test_paths",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__.rsplit(".", 1)[-1] in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


def wait_until_serving(base: str, process: subprocess.Popen, timeout_s: float = 180) -> None:
    """Wait until the UI started as `process` answers at `base` (make ui's /server_info)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if requests.get(f"{base}/server_info", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline and process.poll() is None, "UI did not start"
        time.sleep(0.5)
