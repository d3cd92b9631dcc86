"""The MCP gateway keeps nothing but its database: a client signed in once goes on working after
the gateway restarts (SQLite, the default, and PostgreSQL), and with two gateway processes on one
PostgreSQL behind the proxy, a sign-in and the calls after it may be served by either, in turns."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from conftest import call
from support import MCP_ACCEPT, eventually, free_port, initialize_request

from .local_hub import PASSWORD, REPO, LocalHub, mcp_session, stop_pid
from .sign_in import Browser, MemoryStorage, signed_in_session


@pytest.fixture(params=["sqlite", "postgresql"])
def gateway_database(request: pytest.FixtureRequest) -> dict[str, str]:
    """The gateway's database setting. Requested before ``start_hub``: the hub stops first."""
    if request.param == "sqlite":
        return {}  # the default: mcp-gateway.sqlite in the hub's directory
    return {"GATEWAY_DB_URL": request.getfixturevalue("postgresql_url")}


async def test_a_signed_in_client_goes_on_without_a_new_sign_in_after_the_gateway_restarts(
    gateway_database, start_hub
):
    hub = await start_hub(**gateway_database)
    await hub.start_server("alice")  # kept across the hub's restart, as in production
    browser, storage = Browser("alice", PASSWORD), MemoryStorage()
    async with signed_in_session(hub.gateway_url, browser, storage) as agent:
        await agent.list_tools()
    pages_seen = len(browser.pages)
    assert storage.tokens is not None and storage.client_info is not None

    hub.stop()
    with pytest.raises(httpx2.ConnectError):  # the gateway went with the hub, memory and all
        httpx2.get(f"http://127.0.0.1:{hub.gateway_port}/services/mcp/health")
    hub.start()
    await hub.wait_ready()

    async with signed_in_session(hub.gateway_url, browser, storage) as agent:
        tools = {tool.name for tool in (await agent.list_tools()).tools}
    refreshed = await refresh(hub.gateway_url, storage)

    assert "insert_execute_code_cell" in tools
    assert len(browser.pages) == pages_seen, "the client had to sign its person in again"
    assert refreshed.status_code == 200, refreshed.text


async def test_a_sign_in_and_calls_served_by_two_gateways_in_turns_on_one_postgresql_work(
    start_hub, postgresql_url, tmp_path
):
    service_token = secrets.token_hex(32)
    hub = await start_hub(
        GATEWAY_DB_URL=postgresql_url,
        GATEWAY_API_TOKEN=service_token,
        # The hub puts its routes back every ACTIVITY_INTERVAL: not while the test moves one.
        ACTIVITY_INTERVAL="600",
        GATEWAY_ARGS=CACHE_1S,
    )
    await hub.start_server("alice")
    first = Gateway(hub.gateway_pid(), f"http://127.0.0.1:{hub.gateway_port}")
    try:
        async with another_gateway(hub, postgresql_url, service_token, tmp_path) as second:
            # Only one gateway is ever awake: the other is frozen (SIGSTOP), so a request that
            # reached it would hang and time out the test.
            await serve_with(hub, first, idle=second)

            async def the_hubs_answer_goes_to_the_second(request: httpx2.Request) -> None:
                if request.url.path.endswith("/oauth_callback"):
                    await serve_with(hub, second, idle=first)

            browser = Browser(
                "alice",
                PASSWORD,
                http=httpx2.AsyncClient(
                    timeout=60, event_hooks={"request": [the_hubs_answer_goes_to_the_second]}
                ),
            )
            storage = MemoryStorage()
            async with (
                asyncio.timeout(90),
                # legacy: one MCP session, kept by alice's server whichever gateway relays it
                signed_in_session(hub.gateway_url, browser, storage, mode="legacy") as agent,
            ):
                # Discovery, registration and /authorize by the first; the hub's callback, the
                # consent, the token and this call by the second.
                await call(agent, "create_notebook", notebook_path="two-gateways.ipynb")
                await serve_with(hub, first, idle=second)
                run = await call(
                    agent,
                    "insert_execute_code_cell",
                    notebook_path="two-gateways.ipynb",
                    source="6*7",
                )
            assert storage.tokens is not None
            old = storage.tokens

            async with asyncio.timeout(60):
                # The first refreshes what the second issued; the second takes the new token.
                refreshed = await refresh(hub.gateway_url, storage)
                assert refreshed.status_code == 200, refreshed.text
                await serve_with(hub, second, idle=first)
                async with mcp_session(hub.gateway_url, refreshed.json()["access_token"]) as agent:
                    tools = (await agent.list_tools()).tools
                # The second checked the old token before; it trusts that check up to 1 s.
                refused = await eventually(
                    lambda: initialize(hub.gateway_url, old.access_token),
                    "the second gateway refuses the token the first replaced",
                    until=lambda answer: answer.status_code == 401,
                    timeout=10,
                )
                await serve_with(hub, first, idle=second)
    finally:
        os.kill(first.pid, signal.SIGCONT)  # the hub stops it at the end

    assert [output["text"] for output in run["outputs"]] == ["42"]
    assert tools
    assert refused.status_code == 401  # replaced by the refresh on the first gateway
    consent = browser.pages[-1]
    assert "Test Agent" in consent and "alice" in consent


# A token replaced through one gateway stops working through another after this.
CACHE_1S = "--MCPGateway.access_token_cache_seconds=1"


@dataclass(frozen=True)
class Gateway:
    """One gateway process and where the proxy reaches it."""

    pid: int
    url: str


async def serve_with(hub: LocalHub, awake: Gateway, idle: Gateway) -> None:
    """Let ``awake`` alone answer for the gateway's URL: the proxy's route to it, ``idle`` frozen."""
    os.kill(awake.pid, signal.SIGCONT)
    await hub.route("/services/mcp", awake.url)
    os.kill(idle.pid, signal.SIGSTOP)


@contextlib.asynccontextmanager
async def another_gateway(
    hub: LocalHub, db_url: str, token: str, tmp_path: Path
) -> AsyncIterator[Gateway]:
    """A second gateway process on another port, with what the hub gives its own: the service's
    token (its OAuth client secret too), the hub's API, the public URL, the same database."""
    url = f"http://127.0.0.1:{free_port()}"
    environment = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "JUPYTERHUB_API_TOKEN": token,
        "JUPYTERHUB_API_URL": f"http://127.0.0.1:{hub.hub_port}/hub/api",
        "JUPYTERHUB_BASE_URL": "/",
        "JUPYTERHUB_CLIENT_ID": "service-mcp",
        "JUPYTERHUB_SERVICE_NAME": "mcp",
        "JUPYTERHUB_SERVICE_PREFIX": "/services/mcp/",
        "JUPYTERHUB_OAUTH_CALLBACK_URL": "/services/mcp/oauth_callback",
        "JUPYTERHUB_PUBLIC_URL": hub.gateway_url,
        "JUPYTERHUB_SERVICE_URL": url,
        "MCP_GATEWAY_DB_URL": db_url,
    }
    log_path = tmp_path / "second-gateway.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyter_mcp_ext.hub.gateway", CACHE_1S],
            cwd=tmp_path,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:

        async def answers() -> bool:
            assert process.poll() is None, f"the second gateway exited:\n{log_path.read_text()}"
            async with httpx2.AsyncClient(timeout=5) as http:
                return (await http.get(f"{url}/services/mcp/health")).status_code == 200

        await eventually(
            answers,
            "the second gateway answers",
            timeout=30,
            interval=0.2,
            ignoring=(httpx2.TransportError,),
        )
        yield Gateway(process.pid, url)
    finally:
        os.kill(process.pid, signal.SIGCONT)
        stop_pid(process.pid)
        process.wait()


async def refresh(gateway_url: str, storage: MemoryStorage) -> httpx2.Response:
    assert storage.tokens is not None and storage.client_info is not None
    async with httpx2.AsyncClient(base_url=gateway_url, timeout=60) as http:
        return await http.post(
            "token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": storage.tokens.refresh_token,
                "client_id": storage.client_info.client_id,
            },
        )


async def initialize(url: str, token: str) -> httpx2.Response:
    async with httpx2.AsyncClient(timeout=60) as http:
        return await http.post(
            url,
            json=initialize_request(client="agent"),
            headers={"Authorization": f"Bearer {token}", "Accept": MCP_ACCEPT},
        )
