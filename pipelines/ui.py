"""`make ui`: the Dagster UI for the user who started it.

It runs what `dagster dev` runs (the webserver, the daemon for schedules, sensors, backfills
and the run queue, one shared code server) but serves the webserver's app on 127.0.0.1 only,
behind a guard, because the plain webserver answers whatever a browser sends it:

- DNS rebinding: a web page whose own name resolves to 127.0.0.1 could drive the UI from the
  user's browser. A request whose Host is not a name this server is reached by
  (127.0.0.1:PORT, localhost:PORT, [::1]:PORT, and the names in STABLEFLOW_UI_ALLOWED_HOSTS)
  gets 400.
- Cross-site requests: the GraphQL endpoint runs mutations (launch a run, wipe an asset)
  from a POST form, a websocket or even a GET link. A request whose Origin is another site
  gets 403, and so does a GraphQL request the browser marks as cross-site
  (`Sec-Fetch-Site`). Links into the UI's pages from elsewhere still open.

STABLEFLOW_UI_ALLOWED_HOSTS (comma-separated `host` or `host:port`, exactly as browsers send
it in Host) is for a team deployment behind an authenticating reverse proxy: the proxy
authenticates, then forwards to 127.0.0.1:PORT; list the name users type. Nothing here
authenticates anyone: never bind the UI to another interface instead.

    python -m pipelines.ui --port 3000              # against the environment (live)
    python -m pipelines.ui --port 3000 --sandbox    # against the sandbox (`make ui`)
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from core import quiet
from core.settings import PROJECT_ROOT

ALLOWED_HOSTS_ENV = "STABLEFLOW_UI_ALLOWED_HOSTS"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
LOCATION_MODULE = "pipelines.definitions"
# The dagster-webserver CLI's defaults (dagster_webserver/cli.py).
DB_STATEMENT_TIMEOUT_MS = 15_000
DB_POOL_RECYCLE_S = 3600
DB_POOL_MAX_OVERFLOW = 20
logger = logging.getLogger("dagster.stableflow_ui")  # shown with dagster's own log lines


def allowed_hosts(port: int, extra: str | None = None) -> frozenset[str]:
    """The Host header values the UI answers: the loopback names with the port it serves
    (bare too on port 80, where browsers leave the port out), and the comma-separated
    entries of `extra` (default: STABLEFLOW_UI_ALLOWED_HOSTS)."""
    hosts = {f"{name}:{port}" for name in LOOPBACK_NAMES}
    if port == 80:
        hosts.update(LOOPBACK_NAMES)
    raw = os.environ.get(ALLOWED_HOSTS_ENV, "") if extra is None else extra
    for entry in (e.strip().lower() for e in raw.split(",")):
        if not entry:
            continue
        if "*" in entry or "/" in entry or "@" in entry or entry.startswith(":"):
            raise ValueError(
                f"{ALLOWED_HOSTS_ENV}: {entry!r} is not a host name or host:port as a browser "
                "sends it in the Host header (no scheme, path or wildcard)"
            )
        hosts.add(entry)
    return frozenset(hosts)


class HostGuard:
    """ASGI middleware: refuses a request whose Host is not in `allowed` (400), whose Origin
    is a site other than those hosts (403), or, on the GraphQL endpoint, that the browser
    marks as cross-site (403). Everything else goes to `app` untouched."""

    def __init__(self, app: ASGIApp, allowed: Iterable[str], graphql_path: str = "/graphql"):
        self.app = app
        self.allowed = frozenset(h.lower() for h in allowed)
        self.graphql_path = graphql_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):  # lifespan
            await self.app(scope, receive, send)
            return
        refusal = self.refusal(scope)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, text = refusal
        logger.warning("refused %s %s: %s", scope.get("method", "WEBSOCKET"), scope["path"], text)
        await PlainTextResponse(text, status_code=status)(scope, receive, send)

    def refusal(self, scope: Scope) -> tuple[int, str] | None:
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            key = name.decode("latin-1").lower()
            if key in headers:  # two Host (or Origin) headers: ambiguous, refused
                headers[key] = "\0"
            else:
                headers[key] = value.decode("latin-1")
        host = headers.get("host", "").strip().lower()
        if host not in self.allowed:
            return 400, (
                f"Invalid host header {host!r}: this Dagster UI answers only "
                f"{', '.join(sorted(self.allowed))} (see {ALLOWED_HOSTS_ENV})"
            )
        origin = headers.get("origin")
        if origin is not None:
            parts = urlsplit(origin.strip().lower())
            if parts.scheme not in ("http", "https") or parts.netloc not in self.allowed:
                return 403, f"Cross-origin request refused (Origin {origin!r})"
        fetch_site = headers.get("sec-fetch-site", "").strip().lower()
        if scope["path"].rstrip("/") == self.graphql_path and fetch_site not in (
            "",
            "same-origin",
            "none",
        ):
            return 403, f"Cross-site GraphQL request refused (Sec-Fetch-Site: {fetch_site})"
        return None


def build_app(workspace_process_context, allowed: Iterable[str]) -> HostGuard:
    """The dagster-webserver ASGI app, as its CLI builds it, behind the HostGuard."""
    from dagster_webserver.app import create_app_from_workspace_process_context
    from dagster_webserver.cli import _lifespan

    app = create_app_from_workspace_process_context(
        workspace_process_context, "", 2000, lifespan=_lifespan
    )
    return HostGuard(app, allowed)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an exception so every child process is stopped on the way out."""


def _on_sigterm(signum, frame) -> None:
    raise _Terminated()


@contextlib.contextmanager
def _daemon(instance_ref: str, workspace_file: str) -> Iterator[None]:
    """The dagster daemon on the shared code server, stopped as `dagster dev` stops it."""
    from dagster_shared.ipc import (
        get_ipc_shutdown_pipe,
        open_ipc_subprocess,
        send_ipc_shutdown_message,
    )

    read_fd, write_fd = get_ipc_shutdown_pipe()
    process = open_ipc_subprocess(
        [
            sys.executable,
            "-m",
            "dagster._daemon",
            "run",
            "--log-level",
            "info",
            "--shutdown-pipe",
            str(read_fd),
            "--instance-ref",
            instance_ref,
            "--workspace",
            workspace_file,
        ],
        pass_fds=[read_fd],
    )
    try:
        yield
    finally:
        send_ipc_shutdown_message(write_fd)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            logger.warning("dagster daemon did not stop within 30 s: killing it")
            process.kill()
            process.wait()


def serve(port: int, daemon: bool = True) -> None:
    """The UI on http://127.0.0.1:`port` until interrupted (SIGINT or SIGTERM)."""
    import uvicorn
    import yaml
    from dagster._cli.proxy_server_manager import ProxyServerManager
    from dagster._cli.utils import get_possibly_temporary_instance_for_cli
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import ModuleTarget, WorkspaceFileTarget
    from dagster._serdes import serialize_value
    from dagster._utils.log import configure_loggers
    from dagster_webserver.version import __version__

    allowed = allowed_hosts(port)  # a bad STABLEFLOW_UI_ALLOWED_HOSTS fails before anything starts
    # As `dagster dev`: its error formatting, the .env next to pyproject.toml, and the code
    # location imported from the checkout.
    os.environ["DAGSTER_IS_DEV_CLI"] = "1"
    os.chdir(PROJECT_ROOT)
    configure_loggers()
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        with contextlib.ExitStack() as stack:
            instance = stack.enter_context(
                get_possibly_temporary_instance_for_cli(
                    "make ui", logger=logging.getLogger("dagster")
                )
            )
            # As the dagster-webserver CLI does for a long-running server: a pooled database
            # connection and a statement timeout, instead of a new connection per storage call
            # with PostgreSQL storage (dagster.postgres.yaml; no effect on SQLite).
            instance.optimize_for_webserver(
                statement_timeout=DB_STATEMENT_TIMEOUT_MS,
                pool_recycle=DB_POOL_RECYCLE_S,
                max_overflow=DB_POOL_MAX_OVERFLOW,
            )
            target = ModuleTarget(
                module_name=LOCATION_MODULE,
                attribute=None,
                working_directory=str(PROJECT_ROOT),
                location_name=None,
            )
            code_servers = stack.enter_context(
                ProxyServerManager(
                    instance=instance, workspace_load_target=target, code_server_log_level="info"
                )
            )
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="stableflow-ui-"))
            workspace_file = Path(folder) / "workspace.yaml"
            workspace_file.write_text(
                yaml.dump({"load_from": code_servers.get_code_server_specs()})
            )
            if daemon:
                stack.enter_context(
                    _daemon(serialize_value(instance.get_ref()), str(workspace_file))
                )
            context = stack.enter_context(
                WorkspaceProcessContext(
                    instance,
                    version=__version__,
                    workspace_load_target=WorkspaceFileTarget(paths=[str(workspace_file)]),
                )
            )
            app = build_app(context, allowed)
            logger.info(
                "Dagster UI on http://127.0.0.1:%s (answers Host %s)",
                port,
                ", ".join(sorted(allowed)),
            )
            uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the ExitStack has stopped everything
        pass


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument(
        "--sandbox",
        action="store_true",
        help="plant the simulated chain and start the replay server first, "
        "and point the pipeline at them (what `make ui` does)",
    )
    parser.add_argument(
        "--no-daemon",
        action="store_true",
        help="the webserver only: no schedules, sensors or queued runs",
    )
    args = parser.parse_args(argv)
    # Dagster's beta/superseded notices, here and in the code server and daemon we start.
    quiet.silence()
    signal.signal(signal.SIGTERM, _on_sigterm)
    if not args.sandbox:
        serve(args.port, daemon=not args.no_daemon)
        return
    # Runs launched from the UI inherit the sandbox environment, so they read the replay server.
    try:
        _serve_sandbox(args.port, daemon=not args.no_daemon)
    except KeyboardInterrupt:  # while the sandbox starts or stops
        pass


def _serve_sandbox(port: int, daemon: bool) -> None:
    from sandbox.world import prepare_dagster_home, running_sandbox

    print(
        "sandbox: planting the simulated on-chain scenario and starting the replay server",
        flush=True,
    )
    with running_sandbox() as (sandbox_env, _, server):
        os.environ.update(sandbox_env)
        prepare_dagster_home(os.environ)
        print(
            f"sandbox: replay server on {server.url}, chain on "
            f"{os.environ['STABLEFLOW_ETHEREUM_RPC_URL']}; UI on "
            f"http://127.0.0.1:{port}",
            flush=True,
        )
        serve(port, daemon=daemon)


if __name__ == "__main__":
    main()
