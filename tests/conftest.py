"""Shared fixtures: a real Jupyter server (pytest-jupyter) with the extension and collaboration
enabled, listening on a real port, and the official MCP SDK client connected to it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

# KERNELSPEC and read_disk are re-exported: tests written before support.py import them from here.
from support import KERNELSPEC, read_disk, write_notebook  # noqa: F401

# peer: the `browser` fixture (a pycrdt peer); lab_browser: a JupyterLab process and Chromium
pytest_plugins = ["pytest_jupyter.jupyter_server", "peer", "lab_browser"]


@pytest.fixture
def jp_server_config(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The server's configuration. A test changes traits by parametrizing ``jp_server_config``
    indirectly with ``{section: {trait: value}}``."""
    config: dict[str, Any] = {
        "ServerApp": {
            "jpserver_extensions": {
                "jupyter_mcp_ext": True,
                "jupyter_server_ydoc": True,
                "jupyter_server_fileid": True,
            },
        },
        "YDocExtension": {"document_save_delay": 0.2, "file_poll_interval": 0.5},
    }
    for section, values in getattr(request, "param", {}).items():
        config.setdefault(section, {}).update(values)
    return config


@pytest.fixture(autouse=True)
def _ystore_outside_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Rooms opened server-side write .jupyter_ystore.db into the process CWD.
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)


@pytest.fixture
def server_url(jp_serverapp, http_server, http_server_port, jp_base_url) -> str:
    """Root URL of the running server, ending in '/'."""
    return f"http://127.0.0.1:{http_server_port[-1]}{jp_base_url}"


@pytest.fixture
def mcp_url(server_url: str) -> str:
    return server_url + "mcp"


@pytest.fixture
def token(jp_serverapp) -> str:
    return jp_serverapp.identity_provider.token


@pytest.fixture
def mcp_client(
    mcp_url: str, token: str
) -> Callable[..., contextlib.AbstractAsyncContextManager[Client]]:
    """``async with mcp_client() as client:`` — the SDK client with the server's token.

    ``mode="auto"`` negotiates the modern stateless protocol; ``mode="legacy"`` the handshake era.
    """

    @contextlib.asynccontextmanager
    async def connect(mode: str = "auto", *, auth: str | None = None) -> AsyncIterator[Client]:
        headers = {"Authorization": auth if auth is not None else f"Bearer {token}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(streamable_http_client(mcp_url, http_client=http), mode=mode) as client,
        ):
            yield client

    return connect


@pytest.fixture
def make_notebook(jp_root_dir: Path) -> Callable[..., str]:
    """Write a notebook under the server root; cells are (type, source) pairs. Returns its path."""

    def make(path: str, cells: list[tuple[str, str]] = (), **metadata: Any) -> str:
        return write_notebook(jp_root_dir, path, cells, **metadata)

    return make


async def login_with_cookie(http: httpx2.AsyncClient, server_url: str, token: str) -> str:
    """Log in like a browser through the login form; returns the _xsrf cookie value."""
    page = await http.get(f"{server_url}login")
    assert page.status_code == 200
    xsrf = http.cookies.get("_xsrf")
    assert xsrf
    login = await http.post(f"{server_url}login", data={"password": token, "_xsrf": xsrf})
    assert login.status_code == 302, login.text
    return xsrf


async def call(client: Client, name: str, **arguments: Any) -> Any:
    """Call a tool that must succeed; returns its structured content."""
    result = await client.call_tool(name, arguments)
    assert not result.is_error, result.content[0].text
    return result.structured_content


async def call_error(client: Client, name: str, **arguments: Any) -> str:
    """Call a tool that must fail with a tool error; returns the error text."""
    result = await client.call_tool(name, arguments)
    assert result.is_error, f"{name} unexpectedly succeeded: {result.structured_content}"
    return result.content[0].text
