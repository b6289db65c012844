"""A throw-away local PostgreSQL server for tests, benchmarks and CI (Debian's ``postgresql`` package).

``initdb`` + ``pg_ctl`` from ``/usr/lib/postgresql/<version>/bin`` in a temporary data directory,
listening on a free loopback port only (and a Unix socket inside the data directory). PostgreSQL
refuses to run as root, so under root the server runs as the ``postgres`` system user (or
``nobody``) through ``runuser``, with the data directory owned by that user.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from il2lib.sources.errors import DataSourceError

DATABASE_USER = "il2"


def postgres_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` holding initdb and pg_ctl, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _service_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        if subprocess.run(["id", "-u", name], capture_output=True).returncode == 0:
            return name
    raise DataSourceError("Running as root and neither 'postgres' nor 'nobody' exists to run PostgreSQL.")


@dataclass
class LocalPostgres:
    """A running server: ``url`` (SQLAlchemy form), ``conninfo`` (psycopg form). Use as a context manager."""

    bin_dir: Path
    data_dir: Path
    port: int
    user: str | None

    @property
    def conninfo(self) -> str:
        return f"postgresql://{DATABASE_USER}@127.0.0.1:{self.port}/postgres"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{DATABASE_USER}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        command = [str(a) for a in args]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--"] + command
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run(self.bin_dir / "pg_ctl", "-D", self.data_dir, "-m", "fast", "-w", "stop")
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)

    def __enter__(self) -> "LocalPostgres":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_local_postgres() -> LocalPostgres:
    """Start a server in a new temporary directory; raise DataSourceError (with the log) if it fails."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise DataSourceError("PostgreSQL server binaries not found under /usr/lib/postgresql "
                              "(install Debian's 'postgresql' package).")
    user = _service_user()
    root = Path(tempfile.mkdtemp(prefix="il2pg-"))
    data_dir = root / "data"
    data_dir.mkdir()
    if user is not None:
        shutil.chown(root, user)
        shutil.chown(data_dir, user)
    server = LocalPostgres(bin_dir, data_dir, free_port(), user)
    init = server._run(bin_dir / "initdb", "-D", data_dir, "-U", DATABASE_USER, "-A", "trust", "--no-sync",
                       "-E", "UTF8", "--locale=C")
    if init.returncode != 0:
        server.stop()
        raise DataSourceError(f"initdb failed: {init.stderr.strip()[-500:]}")
    options = (f"-c listen_addresses=127.0.0.1 -p {server.port} -k {data_dir} -c fsync=off "
               "-c synchronous_commit=off -c full_page_writes=off")
    started = server._run(bin_dir / "pg_ctl", "-D", data_dir, "-o", options, "-l", data_dir / "server.log",
                          "-w", "-t", "60", "start")
    if started.returncode != 0:
        log = (data_dir / "server.log").read_text(errors="replace")[-800:] if (data_dir / "server.log").exists() else ""
        server.stop()
        raise DataSourceError(f"pg_ctl start failed: {started.stderr.strip()[-300:]} {log}")
    return server
