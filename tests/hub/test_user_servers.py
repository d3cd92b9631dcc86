"""The hub gateway starts a user's stopped server through the hub's REST API before relaying to it:
once ``ensure_running`` returns, the server answers; when it cannot start, the gateway gets a
status and the hub's reason in words (never HTML, never a hang)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator

import httpx2
import pytest
from support import eventually, free_port

from jupyter_mcp_ext.hub.user_servers import StartRefused, UserGone, UserServers

from .local_hub import LocalHub

OUR_RETRY_AFTER = 17  # not the hub's figure: a 429 with it came without a Retry-After
# A user server that starts as a process, then never answers (it exits at once).
EXITING_SERVER = '--Spawner.cmd=["sh", "-c", "exit 3"]'
# POST answers 202 at once: the start goes on behind it.
NO_WAITING_POST = '--JupyterHub.tornado_settings={"slow_spawn_timeout": 0}'


@contextlib.asynccontextmanager
async def gateway(hub: LocalHub, **options: float) -> AsyncIterator[UserServers]:
    """The hub's users' servers as the gateway sees them, with the platform service's token (it
    has admin:servers) in place of the gateway's own."""
    async with httpx2.AsyncClient() as http:
        yield UserServers(
            f"{hub.url}hub/api", hub.token, http=http, retry_after=OUR_RETRY_AFTER, **options
        )


async def refusal(servers: UserServers, user: str) -> StartRefused:
    with pytest.raises(StartRefused) as refused:
        await servers.ensure_running(user)
    return refused.value


async def test_concurrent_calls_start_a_stopped_server_once_and_return_when_it_answers(start_hub):
    hub = await start_hub()

    async with gateway(hub) as servers:
        urls = await asyncio.gather(*(servers.ensure_running("alice") for _ in range(5)))
        began = time.monotonic()
        later = await servers.ensure_running("alice")
        took = time.monotonic() - began

    assert urls == ["/user/alice/"] * 5
    assert hub.start_requests("alice") == 1
    assert await hub.running("alice")
    token = await hub.user_token("alice")
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as user:
        status = await user.get(f"{hub.url}user/alice/api/status")
    assert status.status_code == 200, status.text
    # once it runs, a call returns at once without asking the hub to start it
    assert later == "/user/alice/"
    assert took < 1
    assert hub.start_requests("alice") == 1


async def test_a_server_being_stopped_is_started_again_once_stopped(start_hub):
    hub = await start_hub()
    before = await hub.start_server("alice")
    async with hub.api() as http, gateway(hub) as servers:
        stopping = asyncio.create_task(http.delete("users/alice/server"))
        await eventually(
            lambda: hub.user("alice"),
            "alice's server is being stopped",
            until=lambda m: m["pending"],
        )

        url = await servers.ensure_running("alice")

        assert (await stopping).status_code == 204
    server = (await hub.user("alice"))["servers"][""]
    assert url == "/user/alice/"
    assert server["ready"]
    assert server["state"]["pid"] != before


async def test_a_user_the_hub_does_not_have_is_gone(start_hub):
    hub = await start_hub()

    async with gateway(hub) as servers:
        with pytest.raises(UserGone, match="no user 'carol'"):
            await servers.ensure_running("carol")


async def test_a_token_the_hub_refuses_gives_503_naming_the_scopes_needed(start_hub):
    hub = await start_hub()

    async with httpx2.AsyncClient() as http:
        servers = UserServers(f"{hub.url}hub/api", "not-a-token", http=http)
        refused = await refusal(servers, "alice")

    assert refused.status == 503
    assert refused.message == (
        "The hub refused this service's request for the server of alice (HTTP 403): Missing or "
        "invalid credentials. The service's token must be valid and have the scopes read:servers "
        "and start:servers."
    )


async def test_a_full_hub_refuses_with_429_and_when_to_try_again(start_hub):
    hub = await start_hub(
        extra_args=[NO_WAITING_POST], ACTIVE_SERVER_LIMIT="1", CONCURRENT_SPAWN_LIMIT="1"
    )
    assert (await hub.request_start("alice")).status_code == 202

    async with gateway(hub) as servers:
        starting = await refusal(servers, "bob")  # while alice's server starts
        await servers.ensure_running("alice")
        running = await refusal(servers, "bob")  # while alice's server runs

    assert starting.status == 429
    assert starting.message.startswith("Too many users trying to log in right now. Try again in")
    assert 30 <= starting.retry_after <= 60  # the hub's own Retry-After
    assert (running.status, running.retry_after) == (429, OUR_RETRY_AFTER)
    assert running.message == "Active user limit exceeded. Try again in a few minutes."
    assert not await hub.running("bob")


async def test_a_start_the_host_has_no_memory_for_is_refused_as_full(start_hub):
    hub = await start_hub(MEM_RESERVE="64T")

    async with gateway(hub) as servers:
        refused = await refusal(servers, "alice")

    assert (refused.status, refused.retry_after) == (429, OUR_RETRY_AFTER)
    assert refused.message.startswith("Not enough memory on this host to start your server now")
    assert "Try again later" in refused.message


async def test_a_spawn_that_fails_at_once_gives_503_with_the_hubs_reason(start_hub):
    hub = await start_hub(extra_args=["--Spawner.cmd=/nonexistent/jupyterhub-singleuser"])

    async with gateway(hub) as servers:
        refused = await refusal(servers, "alice")

    assert refused.status == 503
    assert refused.message == (
        "Spawn failed: [Errno 2] No such file or directory: '/nonexistent/jupyterhub-singleuser'"
    )


async def test_a_spawn_that_fails_later_gives_503_with_the_hubs_reason(start_hub):
    hub = await start_hub(extra_args=[EXITING_SERVER, NO_WAITING_POST, "--Spawner.http_timeout=2"])

    async with gateway(hub) as servers:
        refused = await refusal(servers, "alice")

    assert refused.status == 503
    assert re.fullmatch(
        r"Spawn failed: Server at http://127\.0\.0\.1:\d+/user/alice/api didn't respond in 2 seconds",
        refused.message,
    ), refused.message
    assert hub.start_requests("alice") == 1


async def test_a_server_not_ready_in_time_gives_503_saying_so(start_hub):
    hub = await start_hub()

    async with gateway(hub, start_timeout=0.5) as servers:
        began = time.monotonic()
        refused = await refusal(servers, "alice")

    assert time.monotonic() - began < 2
    assert refused.status == 503
    assert refused.message.startswith("The server of alice did not start within 0.5 s.")


async def test_a_hub_that_is_not_reachable_gives_503_at_once():
    api_url = f"http://127.0.0.1:{free_port()}/hub/api/"  # nothing listens there
    async with httpx2.AsyncClient() as http:
        servers = UserServers(api_url, "a-token", http=http)

        began = time.monotonic()
        refused = await refusal(servers, "alice")

    assert time.monotonic() - began < 2
    assert refused.status == 503
    assert refused.message.startswith(f"The hub is not reachable at {api_url} (")
    assert refused.message.endswith("Try again later.")
