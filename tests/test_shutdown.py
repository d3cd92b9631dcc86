"""A real `jupyter server` process: MCP is announced at startup and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from conftest import call
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from support import free_port, jupyter_server_command, write_notebook

import jupyter_mcp_ext

BAD_LOG_LINES = (
    "Traceback",
    "Task was destroyed",
    "was never retrieved",
    "Exception in callback",
    "[E ",
)


@dataclass
class ServerProcess:
    process: subprocess.Popen
    base: str
    http: httpx2.AsyncClient
    log_path: Path

    def mcp(self, mode: str = "auto") -> Client:
        return Client(streamable_http_client(self.base + "mcp", http_client=self.http), mode=mode)

    async def stop_with(
        self, timeout: float, sig: signal.Signals = signal.SIGTERM
    ) -> tuple[int | None, float]:
        """(exit code, or None if still running after ``timeout``; seconds until exit)."""
        started = time.monotonic()
        self.process.send_signal(sig)
        try:
            returncode = await asyncio.to_thread(self.process.wait, timeout)
        except subprocess.TimeoutExpired:
            returncode = None
        return returncode, time.monotonic() - started

    def log(self) -> str:
        return self.log_path.read_text()


@contextlib.asynccontextmanager
async def jupyter_server(tmp_path: Path, root: Path, *options: str) -> AsyncIterator[ServerProcess]:
    """A `jupyter server` subprocess serving ``root``, ready to answer; killed if a test leaves it running."""
    cwd = tmp_path / "cwd"  # (conftest made it the process CWD)
    port, token = free_port(), secrets.token_hex(8)
    log_path = tmp_path / "server.log"
    # The server imports this checkout's extension, as the tests do (not whichever one pip installed).
    checkout = str(Path(jupyter_mcp_ext.__file__).resolve().parents[1])
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": os.pathsep.join(
            part for part in (checkout, os.environ.get("PYTHONPATH")) if part
        ),
    }
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            jupyter_server_command(port, token, root, *options),
            cwd=cwd,
            stdin=subprocess.DEVNULL,  # no terminal, as under a spawner or a service manager
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        base = f"http://127.0.0.1:{port}/"
        async with httpx2.AsyncClient(
            headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if (await http.get(base + "api/status")).status_code == 200:
                        break
                except httpx2.TransportError:
                    pass
                assert time.monotonic() < deadline, log_path.read_text()
                await asyncio.sleep(0.2)
            yield ServerProcess(process, base, http, log_path)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# SIGINT: how JupyterHub's local spawners stop a server (and Ctrl-C without a terminal).
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_server_announces_mcp_and_shuts_down_cleanly_with_agent_edits_saved(
    tmp_path: Path, sig: signal.Signals
):
    root = tmp_path / "root"
    root.mkdir()
    write_notebook(root, "a.ipynb", [("markdown", "# Before")])
    # Autosave would come too late: the shutdown itself must write the agent's edit.
    async with (
        jupyter_server(tmp_path, root, "--YDocExtension.document_save_delay=60") as server,
        server.mcp(mode="legacy") as client,
    ):
        await call(client, "append_code_cell", notebook_path="a.ipynb", source="agent_was_here = 1")
        # A handshake-era session (with its GET stream) is still open when the server stops.
        returncode, _ = await server.stop_with(timeout=30, sig=sig)
    output = server.log()
    port = server.base.rsplit(":", 1)[1].strip("/")
    assert f"MCP endpoint: http://localhost:{port}/mcp" in output
    assert returncode == 0, output
    bad = [line for line in output.splitlines() if any(marker in line for marker in BAD_LOG_LINES)]
    assert not bad, output
    cells = json.loads((root / "a.ipynb").read_text())["cells"]
    assert ["".join(c["source"]) for c in cells] == ["# Before", "agent_was_here = 1"]


async def test_sigterm_stops_the_server_within_seconds_while_list_notebooks_walks_thousands_of_folders(
    tmp_path: Path,
):
    root = tmp_path / "root"
    for group in range(60):
        for folder in range(50):
            (root / f"g{group:02}" / f"f{folder:02}").mkdir(parents=True)
    write_notebook(root, "g59/f49/deep.ipynb")
    async with jupyter_server(tmp_path, root) as server, server.mcp() as client:
        walking = asyncio.create_task(client.call_tool("list_notebooks", {}))
        await asyncio.sleep(1.5)  # well into the walk (3,000 folders take longer than that)
        assert not walking.done(), (
            "the walk ended before the signal: the tree is too small to test this"
        )
        returncode, seconds = await server.stop_with(timeout=10)
        walking.cancel()
        with contextlib.suppress(BaseException):
            await walking
    assert returncode is not None, f"still running 10 s after SIGTERM:\n{server.log()[-3000:]}"
    assert seconds < 5, f"took {seconds:.1f} s to stop"
    assert returncode == 0, server.log()


async def test_sigterm_stops_the_server_while_the_collaboration_store_is_locked_by_another_process(
    tmp_path: Path,
):
    """Two servers started in one folder share its .jupyter_ystore.db: while the other holds the
    lock, this one's room writes wait for SQLite, its rooms do not stop within the 3 s
    jupyter_server_ydoc gives them, and the worker threads of their writes were left behind."""
    root = tmp_path / "root"
    root.mkdir()
    async with (
        jupyter_server(tmp_path, root) as server,
        server.mcp() as first,
        server.mcp() as second,
    ):
        for client, path in ((first, "a.ipynb"), (second, "b.ipynb")):
            await call(client, "create_notebook", notebook_path=path)
            await call(client, "append_code_cell", notebook_path=path, source="setup = 1")
        # Rooms open (opening one waits for the store); the agents' next edits are stored later.
        store = sqlite3.connect(tmp_path / "cwd" / ".jupyter_ystore.db", timeout=30)
        store.execute("BEGIN EXCLUSIVE")  # the other server writing
        try:
            for client, path in ((first, "a.ipynb"), (second, "b.ipynb")):
                await call(client, "append_code_cell", notebook_path=path, source="agent = 1")
            returncode, seconds = await server.stop_with(timeout=30)
        finally:
            store.rollback()
            store.close()
    assert returncode is not None, f"still running 30 s after SIGTERM:\n{server.log()[-3000:]}"
    assert returncode == 0, server.log()
    assert seconds < 15, f"took {seconds:.1f} s to stop"
    assert "worker thread(s) of tasks still pending" in server.log()  # told why, for operators
    for path in ("a.ipynb", "b.ipynb"):
        cells = json.loads((root / path).read_text())["cells"]
        assert ["".join(c["source"]) for c in cells][-1] == "agent = 1", path
