"""A throwaway PostgreSQL cluster from Debian's packages, for the team profile's tests and
benchmark (dagster.postgres.yaml: Dagster's runs, event logs and schedules in PostgreSQL).

`make postgres` installs Debian's `postgresql` (`make test` does it first). The server
binaries are not on PATH on Debian (they live in /usr/lib/postgresql/<major>/bin), so they
are found there (the newest major), or in STABLEFLOW_PG_BINDIR. The cluster lives in a
temporary folder: data, Unix socket, log and password file; it listens on 127.0.0.1 on a
free port, with password authentication (scram-sha-256) over TCP as a real server would,
and is removed on exit.

PostgreSQL refuses to run as root, so under root (CI, containers) initdb and the server run
as the `postgres` system user that Debian's package creates, in a folder it owns.

    with PostgresCluster() as pg:
        env = {**os.environ, **pg.dagster_env()}   # DAGSTER_PG_* for dagster.postgres.yaml
        with pg.connect() as con: ...               # psycopg2, to the database "dagster"
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BINDIR_ENV = "STABLEFLOW_PG_BINDIR"
DEBIAN_PREFIX = Path("/usr/lib/postgresql")
SERVER_USER = "postgres"  # created by Debian's postgresql-common
USER = "stableflow"
DATABASE = "dagster"


class PostgresUnavailable(RuntimeError):
    pass


def server_bindir() -> Path:
    """The folder holding initdb, pg_ctl and postgres: STABLEFLOW_PG_BINDIR, the newest
    /usr/lib/postgresql/<major>/bin (Debian), or initdb's folder on PATH."""
    if os.environ.get(BINDIR_ENV):
        candidates = [Path(os.environ[BINDIR_ENV])]
    else:
        majors = sorted(
            (p for p in DEBIAN_PREFIX.glob("*/bin") if re.fullmatch(r"\d+", p.parent.name)),
            key=lambda p: int(p.parent.name),
            reverse=True,
        )
        on_path = shutil.which("initdb")
        candidates = [*majors, *([Path(on_path).resolve().parent] if on_path else [])]
    for folder in candidates:
        if all((folder / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    raise PostgresUnavailable(
        "no PostgreSQL server found (initdb, pg_ctl, postgres in "
        f"{', '.join(map(str, candidates)) or DEBIAN_PREFIX / '<major>/bin'}): run `make "
        f"postgres` (Debian's package postgresql), or set {BINDIR_ENV} to the folder holding them"
    )


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresCluster:
    """A private cluster in a temporary folder, on 127.0.0.1 and a free port (started on
    entering, stopped and removed on exit). `durable=False` turns off fsync and synchronous
    commit (a test's cluster: faster, and lost on a crash, which a test does not mind);
    the benchmark keeps PostgreSQL's defaults, as a real server has them."""

    def __init__(self, durable: bool = True) -> None:
        self.durable = durable
        self.bindir = server_bindir()
        self.password = secrets.token_urlsafe(18)
        self.port = 0
        self.folder: Path | None = None
        self._as_server_user: dict = {}

    # --- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> PostgresCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        account = None
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise PostgresUnavailable(
                    f"running as root, and there is no {SERVER_USER!r} user to run PostgreSQL "
                    "as (PostgreSQL refuses root): install Debian's postgresql (`make "
                    "postgres`), which creates it, or run as another user"
                ) from None
        # Under root, in /tmp: a private TMPDIR could keep the server's user out.
        self.folder = Path(
            tempfile.mkdtemp(prefix="stableflow-pg-", dir="/tmp" if account else None)
        )
        if account:
            os.chown(self.folder, account.pw_uid, account.pw_gid)
            self._as_server_user = {"user": account.pw_uid, "group": account.pw_gid}
        password_file = self.folder / "password"
        password_file.write_text(self.password + "\n")
        password_file.chmod(0o600)
        if self._as_server_user:
            os.chown(password_file, self._as_server_user["user"], self._as_server_user["group"])
        self._run(
            "initdb",
            "--pgdata",
            str(self.data),
            "--username",
            USER,
            f"--pwfile={password_file}",
            "--auth-local=trust",  # the Unix socket sits in a folder only the owner can enter
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        password_file.unlink()
        settings = ["-c listen_addresses=127.0.0.1", f"-c unix_socket_directories={self.folder}"]
        if not self.durable:
            settings += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        for attempt in range(3):  # a free port can be taken between finding and binding it
            self.port = free_port()
            try:
                self._run(
                    "pg_ctl",
                    "--pgdata",
                    str(self.data),
                    "--log",
                    str(self.folder / "server.log"),
                    "--wait",
                    "--timeout=60",
                    "-o",
                    " ".join([f"-p {self.port}", *settings]),
                    "start",
                )
                break
            except subprocess.CalledProcessError:
                if attempt == 2:
                    raise
        with self.connect("postgres") as con:
            con.autocommit = True
            con.cursor().execute(f"CREATE DATABASE {DATABASE}")

    def stop(self) -> None:
        if self.folder is None:
            return
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "--pgdata", str(self.data), "--mode=fast", "--wait", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None

    @property
    def data(self) -> Path:
        assert self.folder is not None, "the cluster is not started"
        return self.folder / "data"

    def log(self) -> str:
        path = self.folder / "server.log" if self.folder else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    def _run(self, tool: str, *args: str) -> None:
        result = subprocess.run(
            [str(self.bindir / tool), *args],
            cwd=self.folder,
            capture_output=True,
            text=True,
            **self._as_server_user,
        )
        if result.returncode:
            raise subprocess.CalledProcessError(
                result.returncode,
                result.args,
                result.stdout,
                f"{result.stderr}\n{self.log()[-2000:]}",
            )

    def server_cpu_seconds(self) -> float:
        """CPU time the server has used so far: the postmaster's, its exited children's
        (the connections' backends, reaped by it) and its live children's."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        ticks = os.sysconf("SC_CLK_TCK")

        def cpu(pid: int, children: bool) -> float:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                return 0.0
            # utime, stime, cutime, cstime: fields 14-17 of stat(5), 12-15 after the name
            used = fields[11:15] if children else fields[11:13]
            return sum(int(v) for v in used) / ticks

        live = [
            int(p.name)
            for p in Path("/proc").iterdir()
            if p.name.isdigit() and _parent(int(p.name)) == postmaster
        ]
        return cpu(postmaster, True) + sum(cpu(pid, False) for pid in live)

    # --- clients ----------------------------------------------------------------------------

    def dagster_env(self) -> dict[str, str]:
        """The environment dagster.postgres.yaml reads its connection from."""
        return {
            "DAGSTER_PG_HOST": "127.0.0.1",
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USERNAME": USER,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": DATABASE,
        }

    @contextlib.contextmanager
    def connect(self, database: str = DATABASE) -> Iterator:
        """A psycopg2 connection (dagster-postgres's driver) over TCP with the password."""
        import psycopg2

        con = psycopg2.connect(
            host="127.0.0.1",
            port=self.port,
            user=USER,
            password=self.password,
            dbname=database,
            connect_timeout=10,
        )
        try:
            yield con
        finally:
            con.close()

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self.connect() as con, con.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()


def prepare_team_home(home: Path) -> Path:
    """DAGSTER_HOME `home` with the team profile (dagster.postgres.yaml) as its dagster.yaml,
    as README "Team deployment" sets one up. Returns the file written."""
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    shutil.copyfile(ROOT / "dagster.postgres.yaml", target)
    return target
