"""One MCP URL for every user of the hub: an MCP client given only ``<hub>/services/mcp/`` signs
its person in with the hub's own login (OAuth, driven by the official SDK client) and then works in
that person's own server, which the gateway starts when it is stopped."""

from __future__ import annotations

import httpx2
import pytest
from conftest import call
from support import MCP_ACCEPT, eventually, initialize_request, read_disk

from .local_hub import PASSWORD, mcp_session
from .sign_in import Browser, MemoryStorage, signed_in_session

NOTEBOOK = "from-the-gateway.ipynb"


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
async def test_a_client_given_only_the_gateway_url_signs_in_and_runs_a_cell_in_its_users_notebook(
    start_hub, mode
):
    hub = await start_hub()
    browser = Browser("alice", PASSWORD)
    alices_home = hub.state_dir / "users" / "alice"
    assert not await hub.running("alice")

    async with signed_in_session(hub.gateway_url, browser, mode=mode) as agent:
        tools = {tool.name for tool in (await agent.list_tools()).tools}
        await call(agent, "create_notebook", notebook_path=NOTEBOOK)
        run = await call(
            agent,
            "insert_execute_code_cell",
            notebook_path=NOTEBOOK,
            cell_index=0,
            source="6 * 7",
        )

    assert "insert_execute_code_cell" in tools
    assert [(o["output_type"], o["text"]) for o in run["outputs"]] == [("execute_result", "42")]
    await eventually(
        lambda: ["".join(c["source"]) for c in read_disk(alices_home, NOTEBOOK)["cells"]],
        "the cell is saved in alice's notebook",
        until=lambda sources: sources == ["6 * 7"],
        ignoring=(OSError, ValueError),  # not written yet, or being written
    )
    assert await hub.running("alice")
    # The person logged in on the hub's page, then consented to the client by its name.
    consent = browser.pages[-1]
    assert "Test Agent" in consent and "alice" in consent


async def test_a_refreshed_token_works_and_the_old_refresh_token_no_longer_does(start_hub):
    hub = await start_hub()
    storage = MemoryStorage()
    async with signed_in_session(hub.gateway_url, Browser("alice", PASSWORD), storage) as agent:
        await agent.list_tools()
    assert storage.tokens is not None and storage.client_info is not None
    old = storage.tokens

    async with httpx2.AsyncClient(base_url=hub.gateway_url, timeout=60) as http:
        refreshed = await http.post(
            "token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": old.refresh_token,
                "client_id": storage.client_info.client_id,
            },
        )
        reused = await http.post(
            "token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": old.refresh_token,
                "client_id": storage.client_info.client_id,
            },
        )

    assert refreshed.status_code == 200, refreshed.text
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    async with mcp_session(hub.gateway_url, refreshed.json()["access_token"]) as agent:
        assert (await agent.list_tools()).tools
    assert (await initialize(hub.gateway_url, old.access_token)).status_code == 401


async def test_a_revoked_token_is_refused_with_a_challenge_naming_the_metadata(start_hub):
    hub = await start_hub()
    storage = MemoryStorage()
    async with signed_in_session(hub.gateway_url, Browser("alice", PASSWORD), storage) as agent:
        await agent.list_tools()
    assert storage.tokens is not None and storage.client_info is not None

    async with httpx2.AsyncClient(base_url=hub.gateway_url, timeout=60) as http:
        revoked = await http.post(
            "revoke",
            data={
                "token": storage.tokens.access_token,
                "client_id": storage.client_info.client_id,
                # The SDK's revocation endpoint wants the field even from a public client.
                "client_secret": "",
            },
        )
    refused = await initialize(hub.gateway_url, storage.tokens.access_token)

    assert revoked.status_code == 200, revoked.text
    assert refused.status_code == 401
    challenge = refused.headers["www-authenticate"]
    assert 'error="invalid_token"' in challenge
    assert f'resource_metadata="{hub.gateway_url}.well-known/oauth-protected-resource"' in challenge


async def test_a_person_who_denies_the_client_sends_it_back_with_access_denied(start_hub):
    hub = await start_hub()
    browser = Browser("alice", PASSWORD, answer="deny")

    with pytest.raises(Exception):  # noqa: B017, PT011 - the SDK's own error for a refused grant
        async with signed_in_session(hub.gateway_url, browser) as agent:
            await agent.list_tools()

    assert browser.error == "access_denied"
    assert not await hub.running("alice")


async def initialize(url: str, token: str) -> httpx2.Response:
    async with httpx2.AsyncClient(timeout=60) as http:
        return await http.post(
            url,
            json=initialize_request(client="agent"),
            headers={"Authorization": f"Bearer {token}", "Accept": MCP_ACCEPT},
        )
