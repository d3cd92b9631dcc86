"""Plain helpers every kind of test shares (fixtures stay in conftest): waiting for what lags
behind an action, the kernelspec notebooks carry, notebook files, a free port for a server."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import nbformat
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

T = TypeVar("T")

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

_NEW_CELL = {
    "code": nbformat.v4.new_code_cell,
    "markdown": nbformat.v4.new_markdown_cell,
    "raw": nbformat.v4.new_raw_cell,
}


async def eventually(
    probe: Callable[[], T | Awaitable[T]],
    what: str,
    *,
    until: Callable[[T], object] = bool,
    timeout: float = 10.0,
    interval: float = 0.02,
    ignoring: tuple[type[Exception], ...] = (),
) -> T:
    """The first value of ``probe()`` (plain or async) for which ``until`` holds (by default: a
    true value), polled every ``interval`` s: the server, the disk and the browser lag behind the
    call that changed them. Fails after ``timeout`` s naming ``what`` and the last value seen.

    Exceptions of the ``ignoring`` types, from the probe or from ``until``, mean "not yet" (a file
    not written yet, a cell not there yet).
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            value = probe()
            if inspect.isawaitable(value):
                value = await value
        except ignoring as error:
            last = error
        else:
            last = value
            with contextlib.suppress(*ignoring):
                if until(value):
                    return value
        if time.monotonic() > deadline:
            seen = "" if last is None or isinstance(last, bool) else f"; last seen: {last!r}"
            raise AssertionError(f"timed out after {timeout} s waiting for: {what}{seen}")
        await asyncio.sleep(interval)


def write_notebook(
    root: Path, path: str, cells: Iterable[tuple[str, str] | dict[str, Any]] = (), **metadata: Any
) -> str:
    """Write the notebook ``root/path`` (folders created) with the kernelspec — without one,
    JupyterLab asks for a kernel in a modal dialog. ``cells`` are (type, source) pairs or
    nbformat cells; ``metadata`` is added to the notebook's. Returns ``path``."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.update(metadata)
    for cell in cells:
        nb.cells.append(_NEW_CELL[cell[0]](cell[1]) if isinstance(cell, tuple) else cell)
    file = root / path
    file.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, file)
    return path


def read_disk(root: Path, path: str) -> dict[str, Any]:
    """The notebook file as raw JSON: multi-line sources are lists of lines, as nbformat writes
    them."""
    return json.loads((root / path).read_text())


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, for a server process a test starts."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


# What an MCP client accepts on a Streamable HTTP POST.
MCP_ACCEPT = "application/json, text/event-stream"


def initialize_request(
    protocol_version: str = "2025-06-18", client: str = "test"
) -> dict[str, Any]:
    """A raw JSON-RPC ``initialize`` request, for tests of the wire (the SDK client does this itself)."""
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": protocol_version,
            "capabilities": {},
            "clientInfo": {"name": client, "version": "0"},
        },
    }


def jupyter_server_command(port: int, token: str, root: Path, *options: str) -> list[str]:
    """The command line of a `jupyter server` on 127.0.0.1:``port`` serving ``root`` (as root too)."""
    return [
        sys.executable,
        "-m",
        "jupyter_server",
        "--allow-root",
        "--no-browser",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        *options,
    ]


def stop_process(process: subprocess.Popen, timeout: float = 30) -> None:
    """Stop a process this test started: SIGTERM, then SIGKILL if it is still there after ``timeout`` s."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class MemoryStorage:
    """An MCP client's OAuth tokens and registration, kept in memory (the SDK's TokenStorage)."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info
