"""Idle servers stop, agents' servers do not: the real jupyterhub-idle-culler, with timeouts of
seconds, stops a server nobody uses and spares one whose kernel runs an agent's long cell though
no request arrives while it runs."""

from __future__ import annotations

import asyncio
import time

from conftest import call
from support import eventually

from .local_hub import mcp_session

IDLE_TIMEOUT = 6
CULLING = {"IDLE_TIMEOUT": str(IDLE_TIMEOUT), "CULL_EVERY": "1", "ACTIVITY_INTERVAL": "1"}
LONG_CELL = 25  # seconds: several idle timeouts


async def test_an_idle_server_is_stopped_and_one_running_an_agents_long_cell_is_not(start_hub):
    hub = await start_hub(**CULLING)
    await hub.start_server("bob")
    token = await hub.user_token("bob")
    async with mcp_session(hub.mcp_url("bob"), token) as agent:
        await call(agent, "create_notebook", notebook_path="long.ipynb")
        long_run = asyncio.create_task(
            call(
                agent,
                "insert_execute_code_cell",
                notebook_path="long.ipynb",
                source=f"import time\ntime.sleep({LONG_CELL})\n'done'",
                timeout=LONG_CELL + 60,
            )
        )
        started = time.monotonic()
        await hub.start_server("alice")  # nobody uses it

        await eventually(
            lambda: hub.running("alice"),
            "the culler stops alice's idle server",
            until=lambda running: not running,
            timeout=IDLE_TIMEOUT + 20,
            interval=0.5,
        )
        assert not long_run.done(), "the long cell ended before the culler had time to act"
        assert await hub.running("bob"), "bob's server was stopped while the agent's cell ran"
        result = await long_run

    assert time.monotonic() - started > 2 * IDLE_TIMEOUT
    assert result["status"] == "ok"
    assert [o["text"] for o in result["outputs"]] == ["'done'"]
    assert await hub.running("bob")
