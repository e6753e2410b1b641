"""The UI answers only the user who started it (pipelines/ui.py, what `make ui` runs).

A web page can reach a server on 127.0.0.1 from the user's browser two ways: under a name of
its own that resolves to 127.0.0.1 (DNS rebinding: the Host header is that name), or by
sending requests cross-site (forms, links, websockets: the Origin header or Sec-Fetch-Site
says so). The guard refuses both; these tests drive it directly (every case, in
milliseconds), then the real UI process once (refusals, the GraphQL answer, the websocket,
a clean stop on SIGTERM).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as ws_connect

from pipelines.ui import ALLOWED_HOSTS_ENV, HostGuard, allowed_hosts
from sandbox.world import ROOT, prepare_dagster_home
from tests.process.conftest import wait_until_serving

PORT = 3000


async def _ok_app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def status(
    guard: HostGuard, headers: list[tuple[str, str]], path: str = "/graphql", kind: str = "http"
) -> int:
    """The status the guard (in front of an app answering 200) gives a request."""
    scope = {
        "type": kind,
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "scheme": "http" if kind == "http" else "ws",
        "server": ("127.0.0.1", PORT),
        "client": ("127.0.0.1", 50000),
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "extensions": {"websocket.http.response": {}},
    }
    if kind == "http":
        scope["method"] = "POST"
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(guard(scope, receive, send))
    return sent[0]["status"]


@pytest.fixture
def guard(monkeypatch) -> HostGuard:
    monkeypatch.delenv(ALLOWED_HOSTS_ENV, raising=False)
    return HostGuard(_ok_app, allowed_hosts(PORT))


@pytest.mark.parametrize(
    "host", ["127.0.0.1:3000", "localhost:3000", "[::1]:3000", "LocalHost:3000"]
)
def test_the_loopback_names_it_serves_are_answered(guard, host):
    assert status(guard, [("Host", host)]) == 200


@pytest.mark.parametrize(
    "host",
    [
        "attacker.example",
        "attacker.example:3000",  # DNS rebinding: the page's own name
        "127.0.0.1",
        "127.0.0.1:3001",
        "localhost",  # not the port served
        "127.0.0.1.attacker.example:3000",
        "",
        "0.0.0.0:3000",
    ],
)
def test_any_other_host_gets_400(guard, host):
    assert status(guard, [("Host", host)]) == 400


def test_no_host_or_two_hosts_get_400(guard):
    assert status(guard, []) == 400
    assert status(guard, [("Host", "127.0.0.1:3000"), ("Host", "attacker.example")]) == 400


@pytest.mark.parametrize(
    "origin, expected",
    [
        ("http://127.0.0.1:3000", 200),
        ("http://localhost:3000", 200),
        ("http://attacker.example", 403),
        ("https://attacker.example:3000", 403),
        ("http://127.0.0.1:3001", 403),
        ("null", 403),
        ("file://", 403),
    ],
)
def test_a_request_from_another_site_gets_403(guard, origin, expected):
    assert status(guard, [("Host", "127.0.0.1:3000"), ("Origin", origin)]) == expected
    assert (
        status(guard, [("Host", "127.0.0.1:3000"), ("Origin", origin)], kind="websocket")
        == expected
    )


@pytest.mark.parametrize(
    "site, path, expected",
    [
        ("cross-site", "/graphql", 403),  # <img src=".../graphql?query=mutation ...">
        ("same-site", "/graphql", 403),
        ("same-origin", "/graphql", 200),  # the UI's own requests
        ("none", "/graphql", 200),  # typed into the address bar
        ("cross-site", "/runs", 200),  # a link to a page of the UI still opens
    ],
)
def test_graphql_marked_cross_site_by_the_browser_gets_403(guard, site, path, expected):
    headers = [("Host", "127.0.0.1:3000"), ("Sec-Fetch-Site", site)]
    assert status(guard, headers, path=path) == expected


def test_a_team_deployment_lists_the_name_behind_its_proxy(monkeypatch):
    monkeypatch.setenv(ALLOWED_HOSTS_ENV, "dagster.team.example, Dagster.Team.Example:8443")
    guard = HostGuard(_ok_app, allowed_hosts(PORT))
    assert (
        status(
            guard, [("Host", "dagster.team.example"), ("Origin", "https://dagster.team.example")]
        )
        == 200
    )
    assert (
        status(
            guard,
            [
                ("Host", "dagster.team.example:8443"),
                ("Origin", "https://dagster.team.example:8443"),
            ],
        )
        == 200
    )
    assert status(guard, [("Host", "127.0.0.1:3000")]) == 200
    assert status(guard, [("Host", "attacker.example")]) == 400


@pytest.mark.parametrize(
    "value",
    ["*", "*.example.com", "https://dagster.team.example", "dagster.team.example/ui", ":3000"],
)
def test_an_allowed_host_that_is_not_a_host_is_refused(value):
    with pytest.raises(ValueError, match=ALLOWED_HOSTS_ENV):
        allowed_hosts(PORT, value)


# --- the real UI process, as `make ui MODE=live` starts it ---------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> set[int]:
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    home = tmp_path_factory.mktemp("dagster_home")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "STABLEFLOW_WAREHOUSE": str(home / "stableflow.duckdb"),
    }
    env.pop(ALLOWED_HOSTS_ENV, None)
    prepare_dagster_home(env)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "pipelines.ui", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, process)
        yield process, port, base
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_ui_refuses_a_foreign_host_and_answers_its_own(ui):
    _, port, base = ui
    query = {"query": "{ version }"}
    refused = requests.post(
        f"{base}/graphql", json=query, headers={"Host": "attacker.example"}, timeout=30
    )
    assert refused.status_code == 400 and "version" not in refused.text
    assert (
        requests.get(
            f"{base}/server_info", headers={"Host": f"attacker.example:{port}"}, timeout=30
        ).status_code
        == 400
    )
    answered = requests.post(f"{base}/graphql", json=query, timeout=30)
    assert answered.status_code == 200 and answered.json()["data"]["version"]
    assert requests.get(
        f"{base}/server_info", headers={"Host": f"localhost:{port}"}, timeout=30
    ).json()["dagster_webserver_version"]
    # A mutation sent cross-site, as a link or an image would send it, never reaches GraphQL.
    mutation = requests.get(
        f"{base}/graphql",
        params={"query": "mutation { __typename }"},
        headers={"Sec-Fetch-Site": "cross-site"},
        timeout=30,
    )
    assert mutation.status_code == 403
    forged = requests.post(
        f"{base}/graphql", json=query, timeout=30, headers={"Origin": "http://attacker.example"}
    )
    assert forged.status_code == 403


def test_the_ui_websocket_answers_its_own_page_only(ui):
    _, port, _ = ui
    url = f"ws://127.0.0.1:{port}/graphql"
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(
            url, origin="http://attacker.example", subprotocols=["graphql-ws"], open_timeout=30
        )
    assert refused.value.response.status_code == 403
    with ws_connect(
        url, origin=f"http://127.0.0.1:{port}", subprotocols=["graphql-ws"], open_timeout=30
    ) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(ws.recv(timeout=30))["type"] == "connection_ack"


def test_sigterm_stops_the_ui_and_everything_it_started(ui):
    process, _, _ = ui
    children = descendants(process.pid)
    commands = [
        Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        for pid in children
        if alive(pid)
    ]
    # As under `dagster dev`: one shared code server, and the daemon beside the webserver.
    assert any("code-server start" in c for c in commands), commands
    assert any("dagster._daemon run" in c for c in commands), commands
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output[-3000:]
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not [pid for pid in children if alive(pid)], output[-3000:]
    assert "refused POST /graphql: Invalid host header 'attacker.example'" in output
