"""Running code in a notebook's own kernel, as a person with the notebook open sees it: real
kernels (ipykernel), a real server, the official MCP client, and a pycrdt peer on the
collaboration websocket standing in for JupyterLab (see test_live_editing).

This file: the running cell seen live, the kernel shared with the browser's session, timeouts,
cancellation, input(), kernel death and restart, and a person deleting the running cell.
test_execution_outputs.py: progress, images, large outputs, concurrency and the other tools.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest
from conftest import call
from execution_helpers import (
    count_of,
    output_texts,
    peer_cell,
    rest,
    result_texts,
    sessions_of,
    stream_text,
    structured_texts,
)
from mcp import MCPError
from support import eventually
from tool_helpers import wait_for_disk

SLOW_PRINT = (
    "import time\nfor i in range(5):\n    print(f'line {i}', flush=True)\n    time.sleep(0.3)\n"
)
FIVE_LINES = "".join(f"line {i}\n" for i in range(5))
SLEEP_30 = "import time\ntime.sleep(30)"


# -- 1. the running cell, seen live ----------------------------------------------------------------


async def test_browser_sees_the_cell_running_its_output_growing_line_by_line_then_the_count(
    make_notebook,
    mcp_client,
    browser,
):
    path = make_notebook("slow.ipynb", [("code", "x = 1")])
    async with browser(path) as peer, mcp_client() as client:
        running = asyncio.create_task(
            call(client, "insert_execute_code_cell", notebook_path=path, source=SLOW_PRINT)
        )
        await eventually(lambda: len(peer.cell_ids()) == 2, "the browser sees the new cell")
        cell_id = peer.cell_ids()[1]
        # What the browser shows, each time it changes: (execution_state, execution_count, stdout).
        seen: list[tuple[str | None, int | None, str]] = []
        while not running.done():
            cell = peer_cell(peer, cell_id)
            state = (cell.get("execution_state"), count_of(cell), stream_text(cell))
            if not seen or seen[-1] != state:
                seen.append(state)
            await asyncio.sleep(0.01)
        result = await running
        final = await eventually(
            lambda: (c := peer_cell(peer, cell_id)) and c.get("execution_state") == "idle" and c,
            "the browser sees the cell idle",
        )

    assert result["status"] == "ok" and result["cell_id"] == cell_id
    # [*]: running, no count, no output yet (before the first line arrived).
    assert seen[0] == ("running", None, ""), seen
    partial = [text for state, count, text in seen if state == "running" and text]
    assert all(count is None for state, count, _ in seen if state == "running"), seen
    # The output grew line by line while the cell ran: several distinct partial lengths, each a prefix.
    lengths = sorted({len(text) for text in partial if text != FIVE_LINES})
    assert len(lengths) >= 3, (
        f"the browser saw the output only in {len(lengths)} intermediate states: {seen}"
    )
    assert all(FIVE_LINES.startswith(text) for text in partial), seen
    # Then the execution count and idle, with the whole output in one stream.
    assert final["execution_state"] == "idle"
    assert count_of(final) == result["execution_count"] and result["execution_count"] >= 1
    assert [o["output_type"] for o in final["outputs"]] == ["stream"]
    assert stream_text(final) == FIVE_LINES
    assert structured_texts(result) == FIVE_LINES


# -- 2. the kernel is the browser's --------------------------------------------------------------------


async def test_variable_set_by_the_agent_is_in_the_kernel_the_browser_session_attaches_to(
    make_notebook, mcp_client, server_url, token
):
    path = make_notebook("shared/kernel.ipynb", [("markdown", "# Shared")])
    async with mcp_client() as client:
        first = await call(client, "insert_execute_code_cell", notebook_path=path, source="x = 41")
        assert first["status"] == "ok" and first["kernel_id"]

        # What JupyterLab does when it opens the notebook.
        session = await rest(
            server_url,
            token,
            "POST",
            "api/sessions",
            json={
                "path": path,
                "type": "notebook",
                "kernel": {"name": "python3"},
                "name": "kernel.ipynb",
            },
        )
        assert session["kernel"]["id"] == first["kernel_id"]
        assert [s["id"] for s in await sessions_of(server_url, token, path)] == [session["id"]]

        second = await call(client, "insert_execute_code_cell", notebook_path=path, source="x + 1")
    assert second["kernel_id"] == first["kernel_id"]
    assert second["status"] == "ok"
    assert [(o["output_type"], o["text"]) for o in second["outputs"]] == [("execute_result", "42")]
    assert second["execution_count"] == first["execution_count"] + 1


# -- 3. timeout ----------------------------------------------------------------------------------------------


async def test_timeout_interrupts_the_kernel_and_the_next_cell_gets_only_its_own_output(
    make_notebook, mcp_client
):
    path = make_notebook("timeout.ipynb")
    async with mcp_client() as client:
        await call(
            client, "insert_execute_code_cell", notebook_path=path, source="warm = 1"
        )  # kernel started
        started = time.monotonic()
        slow = await call(
            client, "insert_execute_code_cell", notebook_path=path, source=SLEEP_30, timeout=1
        )
        elapsed = time.monotonic() - started
        after = await call(
            client, "insert_execute_code_cell", notebook_path=path, source="1+1", timeout=10
        )
        cells = (await call(client, "read_all_cells", notebook_path=path))["cells"]

    assert slow["status"] == "timeout"
    assert elapsed < 6, f"a 1 s timeout took {elapsed:.1f} s"
    assert "KeyboardInterrupt" in structured_texts(slow)
    assert any("Interrupted after 1 s" in note for note in slow["notes"])

    assert after["status"] == "ok"
    assert [(o["output_type"], o["text"]) for o in after["outputs"]] == [("execute_result", "2")]
    # In the notebook too: the interrupted cell keeps its KeyboardInterrupt, the new one only "2".
    by_id = {c["cell_id"]: c for c in cells}
    assert "KeyboardInterrupt" in structured_texts(by_id[slow["cell_id"]])
    assert [o["text"] for o in by_id[after["cell_id"]]["outputs"]] == ["2"]


async def test_a_timed_out_run_says_after_how_long_and_in_which_kernel_it_was_interrupted(
    make_notebook, mcp_client
):
    path = make_notebook("timeout_text.ipynb")
    async with mcp_client() as client:
        cell = await client.call_tool(
            "insert_execute_code_cell", {"notebook_path": path, "source": SLEEP_30, "timeout": 1.5}
        )
        code = await client.call_tool(
            "execute_code", {"notebook_path": path, "code": SLEEP_30, "timeout": 1}
        )
    for answer, after in [(cell, "1.5 s"), (code, "1 s")]:
        text = result_texts(answer)[0]
        assert answer.structured_content["status"] == "timeout"
        assert (
            f"timed out after {after} and was interrupted in the kernel of timeout_text.ipynb"
            in text
        ), text
    assert "the interrupt's KeyboardInterrupt" in result_texts(cell)[0]


# -- 4. cancellation -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "how"),
    [("auto", "read_timeout"), ("legacy", "read_timeout"), ("legacy", "task_cancel")],
)
async def test_cancelled_call_interrupts_the_kernel_and_leaves_the_cell_idle(
    make_notebook,
    mcp_client,
    browser,
    mode,
    how,
):
    """The SDK client abandons the call (its read timeout, or the awaiting task cancelled) and sends
    notifications/cancelled (legacy era) or closes the request's stream (2026 era)."""
    path = make_notebook("cancel.ipynb", [("code", "kept = 'yes'")])
    async with browser(path) as peer, mcp_client(mode) as client:
        await call(
            client, "execute_cell", notebook_path=path, cell_index=0
        )  # kernel started, variable set
        if how == "read_timeout":
            with pytest.raises(MCPError, match="timed out"):
                await client.call_tool(
                    "insert_execute_code_cell",
                    {"notebook_path": path, "source": SLEEP_30},
                    read_timeout_seconds=1.5,
                )
        else:
            task = asyncio.create_task(
                client.call_tool(
                    "insert_execute_code_cell", {"notebook_path": path, "source": SLEEP_30}
                )
            )
            await eventually(
                lambda: (
                    len(peer.cell_ids()) == 2
                    and stream_text(peer_cell(peer, peer.cell_ids()[1])) == ""
                    and peer_cell(peer, peer.cell_ids()[1]).get("execution_state") == "running"
                ),
                "the browser sees the cell running",
            )
            await asyncio.sleep(0.5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        cancelled_id = peer.cell_ids()[1]

        started = time.monotonic()
        after = await call(
            client, "insert_execute_code_cell", notebook_path=path, source="kept + '!'", timeout=20
        )
        elapsed = time.monotonic() - started
        cancelled = await eventually(
            lambda: (
                (c := peer_cell(peer, cancelled_id)) and c.get("execution_state") == "idle" and c
            ),
            "the browser sees the cancelled cell idle",
            timeout=5,
        )

    assert elapsed < 5, (
        f"the next execution waited {elapsed:.1f} s: the cancelled one kept the kernel busy"
    )
    assert after["status"] == "ok"
    assert [o["text"] for o in after["outputs"]] == [
        "'yes!'"
    ]  # the kernel was interrupted, not restarted
    assert any("KeyboardInterrupt" in text for text in output_texts(cancelled)), cancelled


async def test_an_output_that_arrived_just_before_a_cancellation_stays_in_the_cell(
    make_notebook,
    mcp_client,
    browser,
    jp_root_dir,
):
    """Outputs wait up to OUTPUT_HOLD to be written together; a cancellation in that window still
    writes them. The cell says when it has printed (a file), and the call is cancelled at once."""
    path = make_notebook("held.ipynb", [("code", "x = 1")])
    printed = jp_root_dir / "printed"
    source = "import pathlib, time\nprint('kept', flush=True)\npathlib.Path('printed').touch()\ntime.sleep(30)"
    async with browser(path) as peer, mcp_client() as client:
        await call(client, "execute_cell", notebook_path=path, cell_index=0)  # the kernel is up
        arguments = {"notebook_path": path, "source": source}
        task = asyncio.create_task(client.call_tool("insert_execute_code_cell", arguments))
        await eventually(printed.exists, "the cell printed", interval=0.002)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        cancelled = await eventually(
            lambda: (
                len(peer.cell_ids()) == 2
                and (c := peer_cell(peer, peer.cell_ids()[1]))
                and c.get("execution_state") == "idle"
                and c
            ),
            "the browser sees the cancelled cell idle",
        )

    texts = output_texts(cancelled)
    assert texts and texts[0] == "kept\n", texts
    assert any("KeyboardInterrupt" in text for text in texts), texts


async def test_a_cancelled_run_keeps_its_execution_count_in_the_cell_and_on_disk(
    make_notebook,
    mcp_client,
    browser,
    jp_root_dir,
):
    """As a timed-out run does: the cell ran as In[n] before it was interrupted (notifications/cancelled)."""
    path = make_notebook("cancel_count.ipynb", [("code", "x = 1")])
    async with browser(path) as peer, mcp_client("legacy") as client:
        first = await call(client, "execute_cell", notebook_path=path, cell_index=0)
        task = asyncio.create_task(
            client.call_tool(
                "insert_execute_code_cell", {"notebook_path": path, "source": SLEEP_30}
            )
        )
        await eventually(
            lambda: (
                len(peer.cell_ids()) == 2
                and peer_cell(peer, peer.cell_ids()[1]).get("execution_state") == "running"
            ),
            "the browser sees the cell running",
        )
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        cancelled_id = peer.cell_ids()[1]
        live = await eventually(
            lambda: (
                (c := peer_cell(peer, cancelled_id)) and c.get("execution_state") == "idle" and c
            ),
            "the browser sees the cancelled cell idle",
        )
        disk = await wait_for_disk(
            jp_root_dir, path, lambda nb: len(nb["cells"]) == 2 and nb["cells"][1]["outputs"]
        )

    assert any("KeyboardInterrupt" in text for text in output_texts(live)), live
    assert count_of(live) == first["execution_count"] + 1
    assert disk["cells"][1]["execution_count"] == first["execution_count"] + 1


# -- 5. input() ------------------------------------------------------------------------------------------


async def test_input_fails_fast_with_a_clear_error(make_notebook, mcp_client):
    path = make_notebook("input.ipynb")
    async with mcp_client() as client:
        started = time.monotonic()
        result = await client.call_tool(
            "insert_execute_code_cell",
            {"notebook_path": path, "source": "name = input('Your name? ')", "timeout": 30},
        )
        elapsed = time.monotonic() - started
    assert not result.is_error, result.content[0].text
    structured = result.structured_content
    assert structured["status"] == "error"
    assert elapsed < 15, f"input() took {elapsed:.1f} s to fail (kernel start included)"
    # The model reads why: the error and its message (input requests are not supported here).
    text = "\n".join(c.text for c in result.content if c.type == "text")
    assert "raised an error" in text
    assert "StdinNotImplementedError" in text and "input requests" in text, text


# -- 6. kernel death ---------------------------------------------------------------------------------------


async def test_kernel_death_mid_run_is_reported_and_restart_kernel_recovers(
    make_notebook,
    mcp_client,
    browser,
):
    path = make_notebook(
        "death.ipynb", [("markdown", "# Title"), ("code", "a = 1"), ("code", "b = 2")]
    )
    async with browser(path) as peer, mcp_client() as client:
        await call(client, "execute_with_progress", notebook_path=path)
        started = time.monotonic()
        died = await client.call_tool(
            "insert_execute_code_cell",
            {
                "notebook_path": path,
                "cell_index": 2,
                "timeout": 60,
                "source": "import os, time\nprint('about to die', flush=True)\ntime.sleep(0.2)\nos._exit(1)",
            },
        )
        elapsed = time.monotonic() - started
        assert not died.is_error, died.content[0].text
        result = died.structured_content
        dead_id = result["cell_id"]

        cells = (await call(client, "read_all_cells", notebook_path=path))["cells"]
        dead_cell = await eventually(
            lambda: (c := peer_cell(peer, dead_id)) and c.get("execution_state") == "idle" and c,
            "the browser sees the cell idle (not [*] forever)",
            timeout=5,
        )

        restarted = await call(client, "restart_kernel", notebook_path=path)
        alive = await call(
            client,
            "insert_execute_code_cell",
            notebook_path=path,
            source="print('alive')",
            timeout=30,
        )

    assert result["status"] in ("died", "error"), result
    assert "died" in died.content[0].text, died.content[0].text
    assert elapsed < 15, f"the death was noticed after {elapsed:.1f} s"
    assert "about to die" in structured_texts(result)
    # The notebook and its other cells are intact.
    assert [c["source"] for c in (cells[0], cells[1], cells[3])] == ["# Title", "a = 1", "b = 2"]
    assert (
        len(cells) == 4 and cells[2]["cell_id"] == dead_id and "os._exit(1)" in cells[2]["source"]
    )
    assert [c["outputs"] for c in (cells[1], cells[3])] == [[], []]
    assert "about to die" in stream_text(dead_cell)

    assert restarted["kernel_id"] == result["kernel_id"]
    assert alive["status"] == "ok" and structured_texts(alive) == "alive\n"
    assert alive["kernel_id"] == result["kernel_id"]


# -- 7. restart ----------------------------------------------------------------------------------------------


async def test_restart_kernel_keeps_the_session_and_kernel_id_and_clears_variables(
    make_notebook, mcp_client, server_url, token
):
    path = make_notebook("restart.ipynb")
    async with mcp_client() as client:
        first = await call(
            client, "insert_execute_code_cell", notebook_path=path, source="x = 5\nx"
        )
        assert [o["text"] for o in first["outputs"]] == ["5"]
        (before,) = await sessions_of(server_url, token, path)

        restarted = await call(client, "restart_kernel", notebook_path=path)
        (after,) = await sessions_of(server_url, token, path)
        gone = await call(client, "execute_code", notebook_path=path, code="x", timeout=30)
        counted = await call(
            client, "insert_execute_code_cell", notebook_path=path, source="'fresh'", timeout=30
        )

    assert (after["id"], after["kernel"]["id"]) == (before["id"], before["kernel"]["id"])
    assert restarted["kernel_id"] == before["kernel"]["id"] == first["kernel_id"]
    assert gone["status"] == "error" and "NameError" in structured_texts(gone)
    assert (
        counted["status"] == "ok" and counted["execution_count"] == 1
    )  # a fresh kernel counts from 1


async def test_execution_right_after_restart_kernel_gets_its_outputs(make_notebook, mcp_client):
    path = make_notebook("restart_race.ipynb")
    async with mcp_client() as client:
        await call(client, "execute_code", notebook_path=path, code="pass")  # kernel started
        for attempt in range(30):
            await call(client, "restart_kernel", notebook_path=path)
            running = asyncio.create_task(
                call(
                    client, "execute_code", notebook_path=path, code=f"print({attempt})", timeout=60
                )
            )
            done, _ = await asyncio.wait([running], timeout=15)
            if not done:  # 15 s for print() (on a loaded machine) means it hangs (until 60 s + 30 s): stop here
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running
            assert done, (
                f"restart {attempt + 1}: the next execution got no IOPub messages and hangs"
            )
            result = running.result()
            assert result["status"] == "ok" and structured_texts(result) == f"{attempt}\n", result


# -- 13. a person deletes the running cell -----------------------------------------------------------------


async def test_person_deleting_the_running_cell_gets_outputs_into_no_other_cell(
    make_notebook,
    mcp_client,
    browser,
    jp_root_dir,
):
    path = make_notebook("delete.ipynb", [("code", "before = 1"), ("code", "after = 2")])
    source = (
        "import time\nprint('started', flush=True)\ntime.sleep(1)\nprint('finished')\n'the result'"
    )
    async with browser(path) as peer, mcp_client() as client:
        running = asyncio.create_task(
            client.call_tool(
                "insert_execute_code_cell",
                {"notebook_path": path, "cell_index": 1, "source": source, "timeout": 30},
            )
        )
        await eventually(lambda: len(peer.cell_ids()) == 3, "the browser sees the new cell")
        running_id = peer.cell_ids()[1]
        await eventually(
            lambda: stream_text(peer_cell(peer, running_id)) == "started\n",
            "the browser sees 'started'",
        )
        with peer.nb.ydoc.transaction(origin="human"):
            del peer.nb.ycells[peer.cell_ids().index(running_id)]
        result = await running
        await asyncio.sleep(0.3)  # time for any stray write to reach the browser
        peer_cells = [peer_cell(peer, cell_id) for cell_id in peer.cell_ids()]
        server_cells = (await call(client, "read_all_cells", notebook_path=path))["cells"]

    assert not result.is_error, result.content[0].text
    structured = result.structured_content
    assert structured["status"] == "ok" and structured["cell_id"] == running_id
    assert structured["cell_index"] is None
    assert any("deleted" in note for note in structured["notes"]), structured["notes"]
    assert "deleted" in result.content[0].text.lower()
    assert [o["text"] for o in structured["outputs"]] == ["started\nfinished\n", "'the result'"]
    # The other cells got nothing, in the browser and on the server.
    assert [c["source"] for c in peer_cells] == ["before = 1", "after = 2"]
    assert [c["outputs"] for c in peer_cells] == [[], []]
    assert [(c["source"], c.get("outputs")) for c in server_cells] == [
        ("before = 1", []),
        ("after = 2", []),
    ]


async def test_person_clearing_the_running_cells_outputs_still_sees_the_later_output(
    make_notebook,
    mcp_client,
    browser,
):
    path = make_notebook("clear_running.ipynb", [("code", "pass")])
    source = "import time\nfor i in range(6):\n    print(i, flush=True)\n    time.sleep(0.3)\n"
    async with browser(path) as peer, mcp_client() as client:
        running = asyncio.create_task(
            call(client, "insert_execute_code_cell", notebook_path=path, source=source)
        )
        await eventually(lambda: len(peer.cell_ids()) == 2, "the browser sees the new cell")
        cell_id = peer.cell_ids()[1]
        await eventually(
            lambda: "1\n" in stream_text(peer_cell(peer, cell_id)), "the browser sees two lines"
        )
        (ycell,) = [c for c in peer.nb.ycells if c.get("id") == cell_id]
        with peer.nb.ydoc.transaction(origin="human"):
            ycell["outputs"].clear()  # JupyterLab's "Clear Cell Output" while the cell runs
        result = await running
        live = await eventually(
            lambda: (c := peer_cell(peer, cell_id)) and c.get("execution_state") == "idle" and c,
            "the browser sees the cell idle",
        )
        await asyncio.sleep(0.3)
        live = peer_cell(peer, cell_id)

    assert structured_texts(result) == "0\n1\n2\n3\n4\n5\n"
    # What JupyterLab shows after clearing a running cell: the lines printed after the clear.
    assert stream_text(live).endswith("5\n"), live["outputs"]
