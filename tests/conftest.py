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

import contextlib  # noqa: E402
import datetime as dt  # noqa: E402
import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import dagster as dg
import pytest

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


@contextlib.contextmanager
def dagster_instance(home: str | Path) -> Iterator[dg.DagsterInstance]:
    """The Dagster instance whose dagster.yaml is in folder `home`, opened as Dagster's own
    processes open theirs: with DAGSTER_HOME pointing at it (dagster.yaml's event log finds
    its folder there, pipelines/event_log.py)."""
    with (
        mock.patch.dict(os.environ, {"DAGSTER_HOME": str(home)}),
        dg.DagsterInstance.from_config(str(home)) as instance,
    ):
        yield instance


def failure_messages(result) -> str:
    """The error texts of a run's failed steps, one after another."""
    return "\n".join(
        str(e.event_specific_data.error.to_string()) for e in result.all_events if e.is_step_failure
    )


# The tiers. Everything under tests/process/ is marked `process` here (not in the modules): the
# tests that run the project as separate processes, as a user does (the Dagster CLI and
# webserver, `make`, a browser, killed runs, a full disk). `make test-fast` runs the rest, the
# unit tier (-m "not process"); `make test` runs both.
PROCESS_DIR = Path(__file__).resolve().parent / "process"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        if PROCESS_DIR in item.path.parents:
            item.add_marker(pytest.mark.process)
