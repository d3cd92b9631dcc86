"""A real JupyterLab process with the extension, web pages of a "platform" on other ports, and
Debian's headless Chromium driven by Playwright (never a downloaded browser)."""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from conftest import call
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from playwright.async_api import Browser, Page, async_playwright
from support import eventually, free_port, stop_process, write_notebook

import jupyter_mcp_ext

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOST = (
    "127.0.0.1"  # one host name for JupyterLab and the platform pages: same-site, so cookies flow
)

# The page a platform would serve: JupyterLab in an iframe (src from ?src=), and a record of the
# messages the frame sends, for the test to read.
EMBED_PAGE = """<!doctype html>
<html><body style="margin:0">
<iframe id="lab" style="width:1200px;height:800px;border:0"></iframe>
<script>
  const query = new URLSearchParams(location.search);
  window.labOrigin = query.get('lab');
  window.received = [];
  window.addEventListener('message', event => {
    window.received.push({origin: event.origin, data: event.data});
  });
  if (query.get('src')) document.getElementById('lab').src = query.get('src');
</script>
</body></html>
"""

# A page that opens JupyterLab in a window of its own (window.open), to message it from its origin.
OPENER_PAGE = """<!doctype html>
<html><body>
<script>
  window.received = [];
  window.addEventListener('message', event => {
    window.received.push({origin: event.origin, data: event.data});
  });
</script>
</body></html>
"""


@dataclass
class StaticSite:
    """Pages served from a folder on a port of their own: another origin than JupyterLab's."""

    origin: str
    folder: Path

    def url(self, page: str) -> str:
        return f"{self.origin}/{page}"


@contextlib.contextmanager
def static_site(folder: Path) -> Iterator[StaticSite]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "embed.html").write_text(EMBED_PAGE)
    (folder / "opener.html").write_text(OPENER_PAGE)
    handler = functools.partial(QuietFileHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer((HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield StaticSite(origin=f"http://{HOST}:{server.server_address[1]}", folder=folder)
    finally:
        server.shutdown()
        server.server_close()


class QuietFileHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Lab:
    """A running `jupyter lab` process."""

    base: str  # http://127.0.0.1:PORT/
    token: str
    root: Path
    log_path: Path

    @property
    def origin(self) -> str:
        return self.base.rstrip("/")

    def notebook(self, path: str, cells: list[tuple[str, str]] = ()) -> str:
        """Write a notebook under Lab's root; cells are (type, source) pairs. Returns its path."""
        return write_notebook(self.root, path, cells)

    def lab_url(self, path: str = "", *, workspace: str, token: bool = True) -> str:
        """JupyterLab in a workspace of its own (``?reset``: no tabs restored from earlier tests)."""
        tree = f"/tree/{path}" if path else ""
        query = "?reset" + (f"&token={self.token}" if token else "")
        return f"{self.base}lab/workspaces/{workspace}{tree}{query}"

    async def show(
        self, page: Page, client: Client, path: str, *, workspace: str, token: bool = True
    ) -> None:
        """Load JupyterLab showing ``path`` in ``page``; returns once the agent's context follows it."""
        await page.goto(self.lab_url(path, workspace=workspace, token=token))
        await self.wait_for_current(client, path, timeout=30)  # includes a cold start of JupyterLab

    @contextlib.asynccontextmanager
    async def api(self) -> AsyncIterator[httpx2.AsyncClient]:
        """Jupyter's REST API with the token, as a platform's backend would call it."""
        async with httpx2.AsyncClient(
            headers={"Authorization": f"token {self.token}"}, timeout=30
        ) as http:
            yield http

    @contextlib.asynccontextmanager
    async def mcp(self) -> AsyncIterator[Client]:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(streamable_http_client(self.base + "mcp", http_client=http)) as client,
        ):
            yield client

    async def current_notebook(self, client: Client) -> str | None:
        """What a path-less tool call acts on now (None if there is no current notebook)."""
        result = await client.call_tool("get_notebook_info", {})
        return None if result.is_error else result.structured_content["notebook_path"]

    async def wait_for_current(self, client: Client, path: str, timeout: float = 5.0) -> float:
        """Seconds until path-less tool calls act on ``path``; fails after ``timeout``."""
        started = time.monotonic()
        await eventually(
            lambda: self.current_notebook(client),
            f"path-less tool calls act on {path!r}",
            until=lambda seen: seen == path,
            timeout=timeout,
            interval=0.1,
        )
        return time.monotonic() - started


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaticSite]:
    """The embedding platform's pages: an origin JupyterLab is configured to allow."""
    with static_site(tmp_path_factory.mktemp("platform")) as site:
        yield site


@pytest.fixture(scope="module")
def stranger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StaticSite]:
    """Pages of an origin JupyterLab does not allow."""
    with static_site(tmp_path_factory.mktemp("stranger")) as site:
        yield site


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, platform: StaticSite) -> Iterator[Lab]:
    """`jupyter lab` with the extension of the tests' checkout (Python and built frontend), allowing
    the platform's origin to embed it."""
    home = tmp_path_factory.mktemp("lab")
    root, settings = home / "root", home / "app-settings"
    root.mkdir()
    settings.mkdir()
    package = Path(jupyter_mcp_ext.__file__).parent
    data = home / "data"  # found before the installed copy of the labextension
    (data / "labextensions").mkdir(parents=True)
    (data / "labextensions" / "jupyter-mcp-ext").symlink_to(package / "labextension")
    # No news and update toasts over the notebook.
    (settings / "overrides.json").write_text(
        '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": false}}'
    )
    port, token = free_port(HOST), secrets.token_hex(16)
    env = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "IPYTHONDIR": str(home / "ipython"),
        "JUPYTER_PATH": str(data),
        "PYTHONPATH": str(package.parent),
    }
    log_path = home / "lab.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--allow-root",
                "--no-browser",
                f"--ip={HOST}",
                f"--port={port}",
                f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={root}",
                f"--LabApp.app_settings_dir={settings}",
                f"--LabApp.user_settings_dir={home / 'user-settings'}",
                f"--LabApp.workspaces_dir={home / 'workspaces'}",
                f"--MCPExtensionApp.allowed_frame_origins={platform.origin}",
                "--YDocExtension.document_save_delay=0.5",
            ],
            cwd=home,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    base = f"http://{HOST}:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, log_path.read_text()
            try:
                with urllib.request.urlopen(
                    f"{base}api/status?token={token}", timeout=5
                ) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        yield Lab(base=base, token=token, root=root, log_path=log_path)
    finally:
        stop_process(process)


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium, headless, with no network access of its own."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


async def prepare(client: Client, path: str) -> dict[str, Any]:
    return await call(client, "prepare_notebook", notebook_path=path)
