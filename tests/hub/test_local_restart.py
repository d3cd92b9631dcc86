"""A hub restart (an upgrade, a crash) leaves users' servers running, kernels and all, and an
agent's MCP session goes on through the restarted hub's proxy — with the hub's state in SQLite
(the default) or in PostgreSQL (a database server, as at scale)."""

from __future__ import annotations

import pytest
from conftest import call

from .local_hub import alive, mcp_session


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest) -> dict[str, str]:
    """The hub's database setting. Requested before ``start_hub``: the hub stops first."""
    if request.param == "sqlite":
        return {}  # the default: jupyterhub.sqlite in the hub's directory
    return {"DB_URL": request.getfixturevalue("postgresql_url")}


async def test_a_hub_restart_keeps_the_users_server_and_the_agents_session(database, start_hub):
    hub = await start_hub(**database)
    server = await hub.start_server("alice")
    token = await hub.user_token("alice")

    # legacy: a stateful session (Mcp-Session-Id), kept by alice's server across the hub's restart
    async with mcp_session(hub.mcp_url("alice"), token, mode="legacy") as agent:
        await call(agent, "create_notebook", notebook_path="kept.ipynb")
        before = await call(
            agent, "insert_execute_code_cell", notebook_path="kept.ipynb", source="x = 41"
        )

        hub.stop()
        assert alive(server), "stopping the hub stopped alice's server"
        hub.start()
        await hub.wait_ready()

        after = await call(
            agent, "insert_execute_code_cell", notebook_path="kept.ipynb", source="x + 1"
        )

    assert after["status"] == "ok", after
    assert after["kernel_id"] == before["kernel_id"]
    assert [o["text"] for o in after["outputs"]] == ["42"]  # the kernel's variables are still there
    assert await hub.running("alice")
    assert (await hub.user("alice"))["servers"][""]["state"]["pid"] == server
