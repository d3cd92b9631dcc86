"""What a hub's idle culler reads of a server, without a hub: the server's last activity
(/api/status, what jupyterhub-singleuser reports to the hub) moves while an agent's cell runs in
silence, with no request arriving meanwhile."""

from __future__ import annotations

import asyncio
from datetime import datetime

import httpx2
from conftest import call


async def test_a_silent_agent_execution_moves_the_servers_last_activity(
    make_notebook, mcp_client, server_url, token
):
    path = make_notebook("long.ipynb")

    async def last_activity() -> datetime:
        async with httpx2.AsyncClient(headers={"Authorization": f"token {token}"}) as http:
            status = (await http.get(f"{server_url}api/status")).json()  # does not count itself
        return datetime.fromisoformat(status["last_activity"].replace("Z", "+00:00"))

    async with mcp_client() as agent:
        await call(agent, "insert_execute_code_cell", notebook_path=path, source="1")
        silent = asyncio.create_task(
            call(
                agent,
                "insert_execute_code_cell",
                notebook_path=path,
                source="import time\ntime.sleep(4)",
            )
        )
        await asyncio.sleep(0.5)
        early = await last_activity()
        await asyncio.sleep(2.5)
        late = await last_activity()
        assert not silent.done()
        await silent

    assert (late - early).total_seconds() >= 1.5
