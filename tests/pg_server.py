"""A throwaway PostgreSQL server on loopback, for tests and benchmarks.

Uses Debian's PostgreSQL binaries (install them with ``scripts/install-postgres.sh``).
Each server gets its own temporary directory (data, Unix socket, log), a free TCP
port on 127.0.0.1, trust authentication for the superuser ``billing``, and
durability switched off for speed. Nothing it stores survives ``stop()``.

    with ThrowawayPostgres() as pg:
        url = pg.create_database("app")

Run ``python tests/pg_server.py`` to get a server for trying the app by hand.
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import psycopg
from psycopg import sql

SUPERUSER = "billing"
FALLBACK_OS_USER = "billingpg"
_DB_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_PORT_ATTEMPTS = 5
_LOG_TAIL_LINES = 40
# A test server's durability: off, for speed. Given on the command line, these win over
# ALTER SYSTEM; a server started with `relaxed=False` leaves them to its configuration
# (on by default, as in production), where ALTER SYSTEM can turn them off and on.
_RELAXED = ("-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off")
_SERVER_OPTIONS = (
    "-c listen_addresses=127.0.0.1",
    "-c max_connections=300",
    "-c shared_buffers=128MB",
    "-c max_locks_per_transaction=256",
)


def find_bin_dir() -> Path:
    """Return the directory holding initdb and pg_ctl: ``$PG_BIN``, else the newest Debian install."""
    override = os.environ.get("PG_BIN")
    if override:
        path = Path(override)
        if not (path / "initdb").is_file() or not (path / "pg_ctl").is_file():
            raise RuntimeError(f"PG_BIN={override} has no initdb and pg_ctl")
        return path
    candidates: list[tuple[int, Path]] = []
    for bin_dir in Path("/usr/lib/postgresql").glob("*/bin"):
        version = bin_dir.parent.name
        if version.isdigit() and (bin_dir / "initdb").is_file() and (bin_dir / "pg_ctl").is_file():
            candidates.append((int(version), bin_dir))
    if not candidates:
        raise RuntimeError(
            "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin: "
            "run scripts/install-postgres.sh (or set PG_BIN)"
        )
    return max(candidates)[1]


def _free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _os_user_for_root() -> str:
    """Return the unprivileged system user that runs PostgreSQL when we are root, creating one if needed."""
    for name in ("postgres", FALLBACK_OS_USER):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            pass
    result = subprocess.run(
        ["useradd", "--system", "--no-create-home", FALLBACK_OS_USER],
        capture_output=True,
        text=True,
    )
    try:  # A concurrent run may have created it first; only the user's existence matters.
        pwd.getpwnam(FALLBACK_OS_USER)
    except KeyError:
        detail = result.stderr.strip()
        raise RuntimeError(f"could not create system user {FALLBACK_OS_USER}: {detail}") from None
    return FALLBACK_OS_USER


def _check_db_name(name: str) -> None:
    if not _DB_NAME.match(name):
        raise ValueError(f"invalid database name {name!r}: must match {_DB_NAME.pattern}")


class ThrowawayPostgres:
    """A private PostgreSQL server in a temporary directory, removed again by ``stop()``."""

    def __init__(self, bin_dir: Path | None = None, *, relaxed: bool = True) -> None:
        self._bin_dir = bin_dir
        self._relaxed = relaxed
        self._active_bin_dir: Path | None = None
        self._dir: Path | None = None
        self._port: int | None = None
        self._os_user: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> ThrowawayPostgres:
        """Create a cluster, start it on a free loopback port and wait until it accepts connections."""
        if self._dir is not None:
            raise RuntimeError("server already started")
        bin_dir = self._active_bin_dir = self._bin_dir or find_bin_dir()
        self._os_user = _os_user_for_root() if os.geteuid() == 0 else None
        base = Path(tempfile.mkdtemp(prefix="pg-throwaway-"))
        self._dir = base
        atexit.register(self.stop)
        try:
            if self._os_user is not None:
                shutil.chown(base, user=self._os_user)
            self._run(
                [
                    str(bin_dir / "initdb"),
                    "-D", str(base / "data"),
                    "-U", SUPERUSER,
                    "-A", "trust",
                    "-E", "UTF8",
                    "--locale=C",
                    "--no-sync",
                ],
                what="initdb",
            )  # fmt: skip
            self._start_server(bin_dir, base)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_server(self, bin_dir: Path, base: Path) -> None:
        log = base / "server.log"
        for _attempt in range(_PORT_ATTEMPTS):
            port = _free_port()
            durability = _RELAXED if self._relaxed else ()
            options = " ".join((f"-p {port}", f"-k {shlex.quote(str(base))}", *_SERVER_OPTIONS, *durability))
            log_offset = len(_read_log(log)) if log.exists() else 0
            result = self._run(
                [str(bin_dir / "pg_ctl"), "-D", str(base / "data"), "-l", str(log), "-w", "-t", "60",
                 "start", "-o", options],
                what="pg_ctl start",
                check=False,
            )  # fmt: skip
            if result.returncode == 0:
                self._port = port
                return
            attempt_log = _read_log(log)[log_offset:]
            if "Address already in use" not in attempt_log:
                raise RuntimeError(
                    f"pg_ctl start failed (exit {result.returncode}): {result.stdout}{result.stderr}\n"
                    f"--- tail of {log} ---\n{_tail(attempt_log)}"
                )
        raise RuntimeError(
            f"pg_ctl start failed: port taken {_PORT_ATTEMPTS} times in a row\n"
            f"--- tail of {log} ---\n{_tail(_read_log(log))}"
        )

    def stop(self) -> None:
        """Stop the server (immediate shutdown) and delete its directory; calling it again does nothing."""
        base, self._dir = self._dir, None
        if base is None:
            return
        atexit.unregister(self.stop)
        self._port = None
        # postmaster.pid also covers a server that came up after `pg_ctl start -w` gave up waiting.
        bin_dir = self._active_bin_dir
        if bin_dir is not None and (base / "data" / "postmaster.pid").exists():
            self._run(
                [str(bin_dir / "pg_ctl"), "-D", str(base / "data"), "-m", "immediate", "-w", "stop"],
                what="pg_ctl stop",
                check=False,
            )
        shutil.rmtree(base, ignore_errors=True)

    def __enter__(self) -> ThrowawayPostgres:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the server listens on (127.0.0.1 only)."""
        if self._port is None:
            raise RuntimeError("server not started")
        return self._port

    @property
    def directory(self) -> Path:
        """The temporary directory holding data, socket and ``server.log``."""
        if self._dir is None:
            raise RuntimeError("server not started")
        return self._dir

    @property
    def url(self) -> str:
        """URL of the ``postgres`` maintenance database."""
        return self.url_for("postgres")

    def url_for(self, dbname: str) -> str:
        """URL of database ``dbname`` on this server, as superuser ``billing``."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{dbname}"

    # -- databases ---------------------------------------------------------------------------------

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create database ``name`` (copied from ``template`` if given) and return its URL.

        A template database must have no open connections while it is being copied.
        """
        _check_db_name(name)
        if template is None:
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        else:
            _check_db_name(template)
            statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        self._admin_execute(statement)
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, disconnecting anyone still using it."""
        _check_db_name(name)
        self._admin_execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def _admin_execute(self, statement: sql.Composed) -> None:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement)

    # -- helpers -----------------------------------------------------------------------------------

    def _run(self, args: list[str], *, what: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL program, as the unprivileged system user when we are root."""
        if self._os_user is not None:
            args = ["runuser", "-u", self._os_user, "--", *args]
        # cwd: the unprivileged user may not be able to enter ours (e.g. /root), which initdb hates.
        result = subprocess.run(args, cwd=self._dir or "/", capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise RuntimeError(f"{what} failed (exit {result.returncode}):\n{result.stdout}{result.stderr}")
        return result


def _read_log(log: Path) -> str:
    try:
        return log.read_text(errors="replace")
    except FileNotFoundError:
        return "(no server.log)"


def _tail(text: str, lines: int = _LOG_TAIL_LINES) -> str:
    return "\n".join(text.splitlines()[-lines:])


def main() -> None:
    """Start a server, print its URL and keep it running until Ctrl-C (or SIGTERM)."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with ThrowawayPostgres() as pg:
        print(pg.url, flush=True)
        print(f"(data and server.log in {pg.directory}; Ctrl-C to stop and delete it)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
