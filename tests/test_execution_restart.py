"""A person restarting the kernel while an agent's cell runs (JupyterLab's Restart: the REST API,
or restart_kernel from another MCP session): the agent's call ends at once, saying so; runs queued
behind it go to the new kernel; and nothing the agent does afterwards reaches the person's cells."""

from __future__ import annotations

import asyncio
import time

from conftest import call
from execution_helpers import person_runs, rest, structured_texts

SLEEP_30 = "import time\ntime.sleep(30)"


async def test_a_restart_by_the_person_ends_the_running_call_and_never_interrupts_the_new_kernel(
    make_notebook, mcp_client, server_url, token
):
    path = make_notebook("restarted.ipynb")
    async with mcp_client() as agent, mcp_client() as other_agent:
        warm = await call(agent, "insert_execute_code_cell", notebook_path=path, source="before = 1")
        kernel_id = warm["kernel_id"]
        started = time.monotonic()
        running = asyncio.create_task(
            call(agent, "insert_execute_code_cell", notebook_path=path, source=SLEEP_30, timeout=8)
        )
        ended: list[float] = []
        running.add_done_callback(lambda _: ended.append(time.monotonic()))
        await asyncio.sleep(1)
        queued = asyncio.create_task(
            call(other_agent, "execute_code", notebook_path=path, code="print('before' in dir())", timeout=30)
        )
        await asyncio.sleep(0.3)
        await rest(server_url, token, "POST", f"api/kernels/{kernel_id}/restart")
        restarted_at = time.monotonic()
        # The person's first cell on the new kernel runs across the moment the agent's call would have
        # timed out (8 s after it started): it must not be interrupted.
        person = await person_runs(server_url, token, kernel_id,
                                   "import time\ntime.sleep(9 - %.1f)\nprint('person done')" % (restarted_at - started))
        first = await running
        second = await queued

    assert person["status"] == "ok" and person["outputs"] == ["person done\n"], person
    assert first["status"] == "restarted", first
    assert ended[0] - restarted_at < 3, f"the call ended {ended[0] - restarted_at:.1f} s after the restart"
    assert any("restarted" in note for note in first["notes"]), first["notes"]
    assert second["status"] == "ok" and structured_texts(second) == "False\n", second
