"""A real `jupyter server` process: MCP is announced at startup and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import nbformat
from conftest import KERNELSPEC, call
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

BAD_LOG_LINES = ("Traceback", "Task was destroyed", "was never retrieved", "Exception in callback", "[E ")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_server_announces_mcp_and_shuts_down_cleanly_with_agent_edits_saved(tmp_path: Path):
    root, cwd = tmp_path / "root", tmp_path / "cwd"  # (conftest made cwd the process CWD)
    root.mkdir()
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": KERNELSPEC})
    nb.cells.append(nbformat.v4.new_markdown_cell("# Before"))
    nbformat.write(nb, root / "a.ipynb")
    port, token = free_port(), secrets.token_hex(8)
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [
                sys.executable, "-m", "jupyter_server", "--allow-root", "--no-browser", f"--port={port}",
                f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
                # Autosave would come too late: the shutdown itself must write the agent's edit.
                "--YDocExtension.document_save_delay=60",
            ],
            cwd=cwd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    try:
        base = f"http://127.0.0.1:{port}/"
        auth = {"Authorization": f"Bearer {token}"}
        async with httpx2.AsyncClient(headers=auth, timeout=30) as http:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if (await http.get(base + "api/status")).status_code == 200:
                        break
                except httpx2.TransportError:
                    pass
                assert time.monotonic() < deadline, log_path.read_text()
                await asyncio.sleep(0.2)

            async with Client(streamable_http_client(base + "mcp", http_client=http), mode="legacy") as client:
                await call(client, "append_code_cell", notebook_path="a.ipynb", source="agent_was_here = 1")
                # A handshake-era session (with its GET stream) is still open when the server stops.
                server.send_signal(signal.SIGTERM)
                returncode = await asyncio.to_thread(server.wait, 30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    output = log_path.read_text()
    assert f"MCP endpoint: http://localhost:{port}/mcp" in output
    assert returncode == 0, output
    bad = [line for line in output.splitlines() if any(marker in line for marker in BAD_LOG_LINES)]
    assert not bad, output
    cells = json.loads((root / "a.ipynb").read_text())["cells"]
    assert ["".join(c["source"]) for c in cells] == ["# Before", "agent_was_here = 1"]
