"""Fixtures of the hub tests: a real JupyterHub with the local demo's configuration, started on
free loopback ports and stopped by PID. Skipped where the npm configurable-http-proxy or
JupyterHub is missing."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path

import pytest

from . import postgres
from .local_hub import LocalHub

StartHub = Callable[..., Awaitable[LocalHub]]


@pytest.fixture
def start_hub(tmp_path: Path) -> Iterator[StartHub]:
    """``await start_hub(IDLE_TIMEOUT="5", ...)``: a running local demo hub with these MCP_HUB_*
    settings (and ``extra_args``, more options on its command line: ``--Spawner.cmd=...``);
    stopped, with every server it started, at the end of the test."""
    for module, package in (
        ("jupyterhub", "jupyterhub"),
        ("jupyterhub_idle_culler", "jupyterhub-idle-culler"),
    ):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{package} is not installed (pip install {package})")
    if shutil.which("configurable-http-proxy") is None:
        pytest.skip(
            "configurable-http-proxy is not installed (npm install -g configurable-http-proxy@5)"
        )
    hubs: list[LocalHub] = []

    async def start(extra_args: Sequence[str] = (), **settings: str) -> LocalHub:
        state_dir = tmp_path / f"hub{len(hubs)}"
        state_dir.mkdir()
        hub = LocalHub(state_dir, settings, extra_args=list(extra_args))
        hubs.append(hub)
        hub.start()
        await hub.wait_ready()
        return hub

    yield start
    for hub in hubs:
        hub.close()


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    """The database URL of a throwaway PostgreSQL server (skipped when none can be started)."""
    reason = postgres.missing()
    if reason is not None:
        pytest.skip(reason)
    with postgres.postgresql_server() as url:
        yield url
