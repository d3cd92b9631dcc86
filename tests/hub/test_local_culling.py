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
    await hub.start_server("alice")  # nobody uses it
    await hub.start_server("bob")
    token = await hub.user_token("bob")
    async with mcp_session(hub.mcp_url("bob"), token) as agent:
        await call(agent, "create_notebook", notebook_path="long.ipynb")
        started = time.monotonic()
        long_run = asyncio.create_task(
            call(
                agent,
                "insert_execute_code_cell",
                notebook_path="long.ipynb",
                source=f"import time\ntime.sleep({LONG_CELL})\n'done'",
                timeout=LONG_CELL + 60,
            )
        )

        await eventually(
            lambda: hub.running("alice"),
            "the culler stops alice's idle server",
            until=lambda running: not running,
            timeout=IDLE_TIMEOUT + 20,
            interval=0.5,
        )
        # No request reaches bob's server while the cell runs: several idle timeouts.
        try:
            result = await long_run
        except Exception as error:
            running = await hub.running("bob")
            raise AssertionError(f"the agent's call failed (bob's server up: {running})") from error

    assert time.monotonic() - started > LONG_CELL
    assert result["status"] == "ok"
    assert [o["text"] for o in result["outputs"]] == ["'done'"]
    assert await hub.running("bob")
