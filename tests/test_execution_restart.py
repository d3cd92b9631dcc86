"""A person restarting the kernel while an agent's cell runs (JupyterLab's Restart: the REST API,
or restart_kernel from another MCP session): the agent's call ends at once, saying so; runs queued
behind it go to the new kernel; and nothing the agent does afterwards reaches the person's cells."""

from __future__ import annotations

import asyncio
import time

import pytest
from conftest import call
from execution_helpers import person_runs, rest, result_texts, structured_texts

SLEEP_30 = "import time\ntime.sleep(30)"


@pytest.mark.parametrize("restart_by", ["rest", "restart_kernel"])
async def test_a_restart_by_the_person_ends_the_running_call_and_never_interrupts_the_new_kernel(
    make_notebook, mcp_client, server_url, token, restart_by
):
    path = make_notebook("restarted.ipynb")
    async with mcp_client() as agent, mcp_client() as other_agent:
        warm = await call(
            agent, "insert_execute_code_cell", notebook_path=path, source="before = 1"
        )
        kernel_id = warm["kernel_id"]
        started = time.monotonic()
        running = asyncio.create_task(
            agent.call_tool(
                "insert_execute_code_cell",
                {"notebook_path": path, "source": SLEEP_30, "timeout": 8},
            )
        )
        ended: list[float] = []
        running.add_done_callback(lambda _: ended.append(time.monotonic()))
        await asyncio.sleep(1)
        queued = asyncio.create_task(
            call(
                other_agent,
                "execute_code",
                notebook_path=path,
                code="print('before' in dir())",
                timeout=30,
            )
        )
        await asyncio.sleep(0.3)
        if restart_by == "rest":  # what JupyterLab's Restart sends
            await rest(server_url, token, "POST", f"api/kernels/{kernel_id}/restart")
        else:
            await call(other_agent, "restart_kernel", notebook_path=path)
        restarted_at = time.monotonic()
        # The person's first cell on the new kernel runs across the moment the agent's call would have
        # timed out (8 s after it started): it must not be interrupted.
        still = max(1.0, 9 - (restarted_at - started))
        person = await person_runs(
            server_url,
            token,
            kernel_id,
            f"import time\ntime.sleep({still:.1f})\nprint('person done')",
        )
        answer = await running
        second = await queued
        cells = (await call(agent, "read_all_cells", notebook_path=path))["cells"]

    assert person["status"] == "ok" and person["outputs"] == ["person done\n"], person
    assert not answer.is_error, answer.content[0].text
    first = answer.structured_content
    assert ended[0] - restarted_at < 3, (
        f"the call ended {ended[0] - restarted_at:.1f} s after the restart"
    )
    assert first["status"] == "restarted", first
    assert "someone restarted the kernel of restarted.ipynb" in result_texts(answer)[0]
    assert any("restarted" in note for note in first["notes"]), first["notes"]
    # The cell keeps the count it ran with, and shows it finished (not [*]).
    assert first["execution_count"] == warm["execution_count"] + 1
    (cell,) = [c for c in cells if c["cell_id"] == first["cell_id"]]
    assert cell["execution_count"] == first["execution_count"]
    # The run queued behind it went to the new kernel (the old variables are gone).
    assert second["status"] == "ok" and structured_texts(second) == "False\n", second
