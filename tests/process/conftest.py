"""Fixtures of the process-level tier (tests/process/, marker `process`, tests/conftest.py)."""

from __future__ import annotations

import subprocess
import time

import pytest
import requests


@pytest.fixture(scope="session")
def backfill_reference(tmp_path_factory):
    """The sandbox of the backfill tests (test_parallel_backfill.py, test_kill.py), planted
    once for their window START..END, and the uninterrupted backfill of that window they
    compare against (test_parallel_backfill.Reference): it runs in the background, in its own
    DAGSTER_HOME and files, while the first test using it does its own runs."""
    from sandbox.world import running_sandbox
    from tests.process.test_parallel_backfill import END, START, Reference

    with running_sandbox(START, END) as (sandbox_env, _, _):
        reference = Reference(tmp_path_factory.mktemp("backfill_reference"), sandbox_env)
        try:
            yield reference
        finally:
            reference.stop()


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
