"""An agent reaches its user's server through the hub: the MCP URL is /user/<name>/mcp on the
hub, the credential a hub token scoped to that user's server; another user's token is refused."""

from __future__ import annotations

import httpx2
from conftest import call
from support import MCP_ACCEPT, initialize_request

from .local_hub import mcp_session


async def test_an_agent_with_the_users_token_edits_and_runs_a_cell_through_the_hub(start_hub):
    hub = await start_hub()
    await hub.start_server("alice")
    token = await hub.user_token("alice")

    async with mcp_session(hub.mcp_url("alice"), token) as agent:
        await call(agent, "create_notebook", notebook_path="agent.ipynb")
        cell = await call(agent, "append_code_cell", notebook_path="agent.ipynb", source="6 * 6")
        await call(
            agent,
            "edit_cell_source",
            notebook_path="agent.ipynb",
            cell_id=cell["cell_id"],
            old_text="6 * 6",
            new_text="6 * 7",
        )
        run = await call(
            agent, "execute_cell", notebook_path="agent.ipynb", cell_id=cell["cell_id"]
        )

    assert run["status"] == "ok"
    assert [(o["output_type"], o["text"]) for o in run["outputs"]] == [("execute_result", "42")]


async def test_another_users_token_is_refused_on_the_users_mcp_url(start_hub):
    hub = await start_hub()
    await hub.start_server("alice")
    tokens = {user: await hub.user_token(user) for user in ("alice", "bob")}

    async def initialize(token: str) -> httpx2.Response:
        async with httpx2.AsyncClient(timeout=60) as http:
            return await http.post(
                hub.mcp_url("alice"),
                json=initialize_request(client="agent"),
                headers={"Authorization": f"Bearer {token}", "Accept": MCP_ACCEPT},
            )

    refused = await initialize(tokens["bob"])
    # alice's server knows bob's token as no user of its own: unauthenticated, not forbidden.
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert (await initialize(tokens["alice"])).status_code == 200
