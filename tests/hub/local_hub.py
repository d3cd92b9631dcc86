"""A real JupyterHub for tests: the local demo's configuration (deploy/jupyterhub/local) started
as a process with the npm configurable-http-proxy, on free loopback ports, with its state in a
temporary directory; the tests drive it through its REST API with a platform service's token, as
a portal would, and reach users' servers through the proxy.

Every process is stopped by PID at the end: the hub (which stops its proxy and culler), then any
process it started that outlived it, and users' servers, which outlive the hub on purpose
(``cleanup_servers = False``).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from support import eventually, free_port

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "deploy" / "jupyterhub" / "local" / "jupyterhub_config.py"
PASSWORD = "demo-password"


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            # comm may hold spaces and parentheses: the parent PID follows its closing ')'.
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _descendants(pid: int, sparing: set[int]) -> list[int]:
    """The processes started by ``pid`` and by them, except ``sparing`` and what they started."""
    found = []
    for child in _children(pid):
        if child not in sparing:
            found += [child, *_descendants(child, sparing)]
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped) is not alive.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return False


def _is_user_server(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return b"jupyterhub-singleuser" in Path(f"/proc/{pid}/cmdline").read_bytes()
    return False


def stop_pid(pid: int, grace: float = 10.0, sig: signal.Signals = signal.SIGTERM) -> None:
    """``sig``, then SIGKILL after ``grace`` s."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + grace
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@dataclass
class LocalHub:
    """One hub process (restartable on the same ports and state) and what it started."""

    state_dir: Path
    settings: dict[str, str]
    port: int = field(default_factory=free_port)
    hub_port: int = field(default_factory=free_port)
    proxy_api_port: int = field(default_factory=free_port)
    gateway_port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_hex(16))  # the platform service's
    extra_args: list[str] = field(default_factory=list)  # more hub options: --Spawner.cmd=...
    proxy_token: str = field(default_factory=lambda: secrets.token_hex(16))  # the proxy's REST API
    process: subprocess.Popen | None = None
    server_pids: set[int] = field(default_factory=set)
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def mcp_url(self, user: str) -> str:
        return f"{self.url}user/{user}/mcp"

    @property
    def gateway_url(self) -> str:
        """The one MCP URL of every user: the MCP gateway service."""
        return f"{self.url}services/mcp/"

    def start(self) -> None:
        env = {
            **os.environ,
            # Users' servers import this checkout's extension (the spawner passes PYTHONPATH on).
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "MCP_HUB_PLATFORM_TOKEN": self.token,
            "MCP_HUB_PASSWORD": PASSWORD,
            "MCP_HUB_PORT": str(self.port),
            "MCP_HUB_GATEWAY_PORT": str(self.gateway_port),
            "CONFIGPROXY_AUTH_TOKEN": self.proxy_token,
            **{f"MCP_HUB_{name}": value for name, value in self.settings.items()},
        }
        self.starts += 1
        log = (self.state_dir / f"hub-{self.starts}.log").open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterhub",
                "-f",
                str(CONFIG),
                f"--JupyterHub.hub_port={self.hub_port}",
                f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{self.proxy_api_port}",
                *self.extra_args,
            ],
            cwd=self.state_dir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()

    async def wait_ready(self, timeout: float = 60) -> None:
        """Wait until the hub says it runs: its proxy has the routes of the hub, the services
        and every running server by then."""

        def running() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"the hub exited ({self.process.returncode}):\n{self.log()}")
            return "JupyterHub is now running" in self.log()

        await eventually(running, "the hub says it runs", timeout=timeout, interval=0.2)

    def stop(self) -> None:
        """Stop the hub (it stops its proxy and culler; users' servers stay up), by PID."""
        if self.process is None or self.process.poll() is not None:
            return
        started = _descendants(self.process.pid, sparing=self.server_pids)
        stop_pid(self.process.pid)
        self.process.wait()
        for pid in started:
            if alive(pid):
                stop_pid(pid)

    def close(self) -> None:
        self.stop()
        for pid in self.server_pids:
            if alive(pid) and _is_user_server(pid):  # not a PID reused since
                stop_pid(pid)

    def gateway_pid(self) -> int:
        """The PID of the MCP gateway the hub started."""
        assert self.process is not None
        for pid in _descendants(self.process.pid, sparing=self.server_pids):
            with contextlib.suppress(OSError):
                if b"jupyter_mcp_ext.hub.gateway" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return pid
        raise AssertionError(f"the hub runs no MCP gateway:\n{self.log()}")

    async def route(self, path: str, target: str) -> None:
        """Send the proxy's requests for ``path`` to ``target`` from now on (its REST API), as the
        hub does when a server or service moves."""
        async with httpx2.AsyncClient(
            headers={"Authorization": f"token {self.proxy_token}"}, timeout=30
        ) as http:
            response = await http.post(
                f"http://127.0.0.1:{self.proxy_api_port}/api/routes{path}", json={"target": target}
            )
        assert response.status_code == 201, response.text

    def log(self) -> str:
        return (self.state_dir / f"hub-{self.starts}.log").read_text()

    def start_requests(self, user: str) -> int:
        """How many times the hub was asked to start ``user``'s server (its request log)."""
        return len(re.findall(rf"\d{{3}} POST /hub/api/users/{user}/server ", self.log()))

    # -- the REST API, as the platform service -------------------------------------------------

    def api(self, **kwargs: Any) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            base_url=f"{self.url}hub/api/",
            headers={"Authorization": f"token {self.token}"},
            timeout=60,
            **kwargs,
        )

    async def user(self, name: str) -> dict[str, Any]:
        async with self.api() as http:
            response = await http.get(f"users/{name}")
        response.raise_for_status()
        return response.json()

    async def request_start(self, user: str) -> httpx2.Response:
        """POST /users/<user>/server: what a portal or the hub page sends to start a server."""
        async with self.api() as http:
            return await http.post(f"users/{user}/server")

    async def start_server(self, user: str) -> int:
        """Start ``user``'s server and wait until it is ready; its PID."""
        response = await self.request_start(user)
        assert response.status_code in (201, 202), response.text
        model = await eventually(
            lambda: self.user(user),
            f"{user}'s server is ready",
            until=lambda model: (model["servers"].get("") or {}).get("ready"),
            timeout=90,
            interval=0.5,
        )
        pid = model["servers"][""]["state"]["pid"]
        self.server_pids.add(pid)
        return pid

    async def running(self, user: str) -> bool:
        """Whether ``user``'s server is up: started, and not being stopped."""
        server = (await self.user(user))["servers"].get("")
        return bool(server and server["ready"])

    async def user_token(self, user: str) -> str:
        """A token of ``user`` that reaches only their own server, as a user makes for an agent."""
        async with self.api() as http:
            response = await http.post(
                f"users/{user}/tokens",
                json={
                    "scopes": [f"access:servers!user={user}"],
                    "expires_in": 3600,
                    "note": "MCP agent",
                },
            )
        assert response.status_code == 201, response.text
        return response.json()["token"]


@contextlib.asynccontextmanager
async def mcp_session(url: str, token: str, mode: str = "auto") -> AsyncIterator[Client]:
    """The official MCP SDK client on ``url`` with a hub token, as an agent connects."""
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=120) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):
        yield client
