"""A throwaway PostgreSQL server for the hub's database: Debian's binaries, a cluster in a
temporary directory, listening on a free loopback port, stopped by PID. As root, it runs as the
``postgres`` user (PostgreSQL refuses to run as root)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from support import free_port

from .local_hub import stop_pid


def missing() -> str | None:
    """Why no PostgreSQL can be started here, or None."""
    try:
        import psycopg2  # noqa: F401 - JupyterHub's driver for postgresql+psycopg2:// URLs
    except ImportError:
        return "psycopg2 is not installed (pip install psycopg2-binary)"
    if not _bindir():
        return "PostgreSQL is not installed (apt-get install -y postgresql)"
    if os.getuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run PostgreSQL as"
    return None


def _bindir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return str(Path(found[-1]).parent) if found else None


@contextmanager
def postgresql_server() -> Iterator[str]:
    """A running PostgreSQL; yields the SQLAlchemy URL of its database for JupyterHub."""
    bindir = _bindir()
    assert bindir is not None
    as_user: dict[str, str] = {}
    data = Path(tempfile.mkdtemp(prefix="hub-postgres-"))
    if os.getuid() == 0:
        as_user = {"user": "postgres", "group": "postgres"}
        os.chown(data, pwd.getpwnam("postgres").pw_uid, pwd.getpwnam("postgres").pw_gid)
    port = free_port()
    server = None
    try:
        subprocess.run(
            [f"{bindir}/initdb", "-D", str(data / "db"), "-A", "trust", "-U", "hub"],
            check=True,
            capture_output=True,
            **as_user,
        )
        server = subprocess.Popen(
            [
                f"{bindir}/postgres",
                "-D",
                str(data / "db"),
                "-p",
                str(port),
                "-k",
                str(data),
                "-c",
                "listen_addresses=127.0.0.1",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **as_user,
        )
        deadline = time.monotonic() + 30
        while (
            subprocess.run(
                [f"{bindir}/pg_isready", "-h", "127.0.0.1", "-p", str(port)], capture_output=True
            ).returncode
            != 0
        ):
            assert server.poll() is None, "PostgreSQL exited at start"
            assert time.monotonic() < deadline, "PostgreSQL did not accept connections in 30 s"
            time.sleep(0.2)
        yield f"postgresql+psycopg2://hub@127.0.0.1:{port}/postgres"
    finally:
        if server is not None:
            # SIGINT: a fast shutdown, which does not wait for clients to disconnect.
            stop_pid(server.pid, sig=signal.SIGINT)
            server.wait()
        shutil.rmtree(data, ignore_errors=True)
