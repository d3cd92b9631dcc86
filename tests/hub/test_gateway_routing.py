"""Through the gateway every call reaches the caller's own server and nobody else's, whatever it
sends: the user is the token's, hub API tokens work without a sign-in, and a token of a user the
hub no longer has stops working. Long answers stream through as they happen."""

from __future__ import annotations

import time

import anyio
import httpx2
from conftest import call
from support import MCP_ACCEPT, initialize_request, write_notebook

from .local_hub import PASSWORD, LocalHub, mcp_session
from .sign_in import Browser, MemoryStorage, signed_in_session


def give_each_user_a_notebook(hub: LocalHub) -> None:
    for user in ("alice", "bob"):
        write_notebook(hub.state_dir / "users" / user, f"{user}-only.ipynb", [("code", "1 + 1")])


async def notebooks_seen(client) -> set[str]:
    listed = await call(client, "list_notebooks")
    return {entry["path"] for entry in listed["notebooks"]}


async def post(url: str, token: str, message: dict, session_id: str | None = None):
    headers = {"Authorization": f"Bearer {token}", "Accept": MCP_ACCEPT}
    if session_id:
        headers["Mcp-Session-Id"] = session_id
    async with httpx2.AsyncClient(timeout=120) as http:
        return await http.post(url, json=message, headers=headers)


async def test_a_users_hub_token_reaches_their_own_server_through_the_gateway_without_a_sign_in(
    start_hub,
):
    hub = await start_hub()
    give_each_user_a_notebook(hub)
    token = await hub.user_token("bob")

    async with mcp_session(hub.gateway_url, token) as agent:
        seen = await notebooks_seen(agent)

    assert "bob-only.ipynb" in seen
    assert "alice-only.ipynb" not in seen
    assert await hub.running("bob") and not await hub.running("alice")


async def test_alices_oauth_token_reaches_alices_server_and_bobs_session_id_gets_her_nowhere(
    start_hub,
):
    hub = await start_hub()
    give_each_user_a_notebook(hub)
    bob_token = await hub.user_token("bob")
    opened = await post(hub.gateway_url, bob_token, initialize_request(client="bob's agent"))
    bobs_session = opened.headers["mcp-session-id"]
    storage = MemoryStorage()

    async with signed_in_session(hub.gateway_url, Browser("alice", PASSWORD), storage) as agent:
        seen = await notebooks_seen(agent)
    assert storage.tokens is not None
    alice_token = storage.tokens.access_token
    tools_list = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
    as_alice = await post(hub.gateway_url, alice_token, tools_list, session_id=bobs_session)
    as_bob = await post(hub.gateway_url, bob_token, tools_list, session_id=bobs_session)

    assert "alice-only.ipynb" in seen and "bob-only.ipynb" not in seen
    assert opened.status_code == 200
    # Alice's call went to her own server, which has no such session.
    assert as_alice.status_code == 404, as_alice.text
    assert as_bob.status_code == 200, as_bob.text


async def test_a_token_of_a_user_the_hub_deleted_is_refused(start_hub):
    hub = await start_hub()
    hub_token = await hub.user_token("bob")
    storage = MemoryStorage()
    async with signed_in_session(hub.gateway_url, Browser("bob", PASSWORD), storage) as agent:
        await agent.list_tools()
    assert storage.tokens is not None

    async with hub.api() as api:
        assert (await api.delete("users/bob/server")).status_code in (202, 204)
        deleted = await api.delete("users/bob")
    refused = {
        kind: await post(hub.gateway_url, token, initialize_request(client="agent"))
        for kind, token in (("hub", hub_token), ("oauth", storage.tokens.access_token))
    }

    assert deleted.status_code == 204, deleted.text
    for kind, answer in refused.items():
        assert answer.status_code == 401, (kind, answer.text)
        assert 'error="invalid_token"' in answer.headers["www-authenticate"], kind


async def test_a_hub_token_that_cannot_reach_its_users_server_is_refused(start_hub):
    hub = await start_hub()
    async with hub.api() as api:
        made = await api.post("users/alice/tokens", json={"scopes": ["read:users:name!user"]})
    assert made.status_code == 201, made.text

    refused = await post(hub.gateway_url, made.json()["token"], initialize_request(client="agent"))

    assert refused.status_code == 401
    assert "resource_metadata=" in refused.headers["www-authenticate"]
    assert not await hub.running("alice")


CHATTY_5S = "import time\nfor i in range(10):\n    print(i, flush=True)\n    time.sleep(0.5)\n"


async def test_progress_of_a_long_cell_arrives_through_the_gateway_while_it_runs(start_hub):
    hub = await start_hub()
    token = await hub.user_token("alice")
    arrivals: list[float] = []

    async with mcp_session(hub.gateway_url, token) as agent:
        await call(agent, "create_notebook", notebook_path="long.ipynb")
        await call(agent, "execute_code", notebook_path="long.ipynb", code="pass")  # kernel up
        started = time.monotonic()

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            arrivals.append(time.monotonic() - started)

        result = await agent.call_tool(
            "insert_execute_code_cell",
            {"notebook_path": "long.ipynb", "source": CHATTY_5S, "timeout": 60},
            progress_callback=on_progress,
        )
        duration = time.monotonic() - started

    assert not result.is_error, result.content[0].text
    assert duration >= 5
    # They came while the cell ran, spread over its run, not all at the end.
    during = [arrival for arrival in arrivals if arrival < duration - 1]
    assert len(during) >= 4, arrivals
    assert during[0] < 2 and during[-1] - during[0] > 2.5, arrivals


async def test_a_cancelled_call_interrupts_the_cell_through_the_gateway(start_hub):
    hub = await start_hub()
    token = await hub.user_token("alice")

    async with mcp_session(hub.gateway_url, token, mode="legacy") as agent:
        await call(agent, "create_notebook", notebook_path="cancel.ipynb")
        await call(agent, "execute_code", notebook_path="cancel.ipynb", code="pass")  # kernel up
        with anyio.move_on_after(3):
            await agent.call_tool(
                "insert_execute_code_cell",
                {"notebook_path": "cancel.ipynb", "source": "import time\ntime.sleep(60)"},
            )
        started = time.monotonic()
        after = await call(agent, "execute_code", notebook_path="cancel.ipynb", code="6 * 7")
        waited = time.monotonic() - started

    # The kernel was interrupted: the next run did not wait for the minute-long sleep.
    assert after["status"] == "ok", after
    assert waited < 20, waited


async def test_a_session_listens_and_ends_with_delete_through_the_gateway(start_hub):
    hub = await start_hub()
    token = await hub.user_token("alice")
    opened = await post(hub.gateway_url, token, initialize_request(client="agent"))
    session = opened.headers["mcp-session-id"]
    headers = {"Authorization": f"Bearer {token}", "Mcp-Session-Id": session}

    async with httpx2.AsyncClient(timeout=60) as http:
        async with http.stream(
            "GET", hub.gateway_url, headers={**headers, "Accept": "text/event-stream"}
        ) as listening:
            stream_status = listening.status_code
            stream_type = listening.headers["content-type"]
        ended = await http.delete(hub.gateway_url, headers=headers)
    after = await post(
        hub.gateway_url, token, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, session
    )

    assert opened.status_code == 200
    # The server's GET stream opens through the gateway (the client hung up at once).
    assert (stream_status, stream_type.split(";")[0]) == (200, "text/event-stream")
    assert ended.status_code in (200, 204), ended.text
    assert after.status_code == 404, after.text
