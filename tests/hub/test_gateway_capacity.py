"""A call through the gateway for a user whose server is stopped starts it once, however many
calls arrive together; when the hub cannot start it, the client gets a status and a JSON-RPC
error a person can act on: 429 with when to try again, or 503 with the hub's reason."""

from __future__ import annotations

import asyncio

import httpx2
from support import MCP_ACCEPT, initialize_request

from .local_hub import LocalHub


async def initialize(hub: LocalHub, token: str, request_id: int = 1) -> httpx2.Response:
    message = {**initialize_request(client="agent"), "id": request_id}
    async with httpx2.AsyncClient(timeout=120) as http:
        return await http.post(
            hub.gateway_url,
            json=message,
            headers={"Authorization": f"Bearer {token}", "Accept": MCP_ACCEPT},
        )


async def test_five_first_calls_of_a_stopped_user_start_the_server_once_and_all_get_answers(
    start_hub,
):
    hub = await start_hub()
    token = await hub.user_token("alice")

    answers = await asyncio.gather(*(initialize(hub, token, n) for n in range(5)))

    assert [answer.status_code for answer in answers] == [200] * 5
    assert hub.start_requests("alice") == 1
    assert await hub.running("alice")


async def test_a_full_hub_answers_429_with_retry_after_and_the_hubs_message(start_hub):
    hub = await start_hub(ACTIVE_SERVER_LIMIT="1")
    await hub.start_server("alice")
    token = await hub.user_token("bob")

    refused = await initialize(hub, token, request_id=7)

    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert refused.headers["content-type"] == "application/json"
    body = refused.json()
    assert body["id"] == 7
    assert body["error"]["message"] == "Active user limit exceeded. Try again in a few minutes."
    assert body["error"]["data"]["retry_after"] == int(refused.headers["retry-after"])
    assert not await hub.running("bob")


async def test_a_host_without_memory_for_the_server_answers_429_with_what_it_needs(start_hub):
    hub = await start_hub(MEM_RESERVE="64T")
    token = await hub.user_token("alice")

    refused = await initialize(hub, token)

    assert refused.status_code == 429
    assert "retry-after" in refused.headers
    assert refused.json()["error"]["message"].startswith("Not enough memory on this host")


async def test_a_start_that_fails_answers_503_with_the_hubs_reason(start_hub):
    hub = await start_hub(extra_args=["--Spawner.cmd=/nonexistent/jupyterhub-singleuser"])
    token = await hub.user_token("alice")

    failed = await initialize(hub, token, request_id=3)

    assert failed.status_code == 503
    assert failed.headers["content-type"] == "application/json"
    assert failed.json()["id"] == 3
    assert failed.json()["error"]["message"] == (
        "Spawn failed: [Errno 2] No such file or directory: '/nonexistent/jupyterhub-singleuser'"
    )
