"""Running code (continued): progress notifications, images and rich outputs, outputs too large for a
result, two agents at once, and the other execution tools (ranges, code without a cell, kernels).
See test_execution.py for the running cell seen live, timeouts, cancellation and kernel death."""

from __future__ import annotations

import asyncio
import base64
import itertools
import re
import time

import pytest
from conftest import call, call_error
from execution_helpers import (
    TINY_JPEG,
    count_of,
    peer_cell,
    result_texts,
    stream_text,
    structured_texts,
    tiny_png,
)
from support import eventually
from tool_helpers import wait_for_disk

# -- 8. progress -----------------------------------------------------------------------------------------


async def _progress_of(
    client, path: str, source: str
) -> tuple[dict, list[tuple[float, float, str | None]], float]:
    """Run a new cell with a progress callback: (structured result, [(arrival time, progress, message)], duration)."""
    reports: list[tuple[float, float, str | None]] = []
    started = time.monotonic()

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reports.append((time.monotonic() - started, progress, message))

    result = await client.call_tool(
        "insert_execute_code_cell",
        {"notebook_path": path, "source": source, "timeout": 30},
        progress_callback=on_progress,
    )
    assert not result.is_error, result.content[0].text
    return result.structured_content, reports, time.monotonic() - started


CHATTY_5S = "import time\nfor i in range(100):\n    print(i, flush=True)\n    time.sleep(0.05)\n"


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_progress_notifications_arrive_during_a_5_s_cell_a_few_per_second(
    make_notebook, mcp_client, mode
):
    path = make_notebook("progress.ipynb")
    async with mcp_client(mode) as client:
        await call(client, "execute_code", notebook_path=path, code="pass")  # kernel started
        result, reports, duration = await _progress_of(client, path, CHATTY_5S)
    assert result["status"] == "ok" and duration >= 5
    # They arrived while the cell ran (not all at the end), increasing, with a message.
    assert len(reports) >= 4, reports
    during = [arrival for arrival, _, _ in reports if arrival < duration - 1]
    assert len(during) >= 3, f"progress arrived only at the end: {reports}"
    progress = [value for _, value, _ in reports]
    assert progress == sorted(progress), reports
    assert all(message for _, _, message in reports), reports
    # Not a flood for 100 outputs: a few per second at most.
    assert len(reports) <= 5 * duration + 2, f"{len(reports)} notifications in {duration:.1f} s"


async def test_progress_notifications_arrive_during_a_silent_5_s_cell(make_notebook, mcp_client):
    path = make_notebook("silent.ipynb")
    async with mcp_client() as client:
        await call(client, "execute_code", notebook_path=path, code="pass")  # kernel started
        result, reports, duration = await _progress_of(client, path, "import time\ntime.sleep(5)")
    assert result["status"] == "ok" and duration >= 5
    assert len([arrival for arrival, _, _ in reports if arrival < duration - 0.5]) >= 3, reports


async def test_execute_with_progress_reports_increasing_progress_over_the_whole_range(
    make_notebook, mcp_client
):
    cell = "import time\nfor i in range(3):\n    print(i, flush=True)\n    time.sleep(0.35)\n"
    path = make_notebook("range_progress.ipynb", [("code", cell)] * 3)
    reports: list[tuple[float, float | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reports.append((progress, total))

    async with mcp_client() as client:
        result = await client.call_tool(
            "execute_with_progress", {"notebook_path": path}, progress_callback=on_progress
        )
    assert not result.is_error and result.structured_content["ran"] == 3
    assert len(reports) >= 4 and reports[-1] == (3, 3), reports
    values = [progress for progress, _ in reports]
    assert all(a < b for a, b in itertools.pairwise(values)), f"progress went down: {reports}"


# -- 9. images and rich outputs -----------------------------------------------------------------------------


async def test_png_and_jpeg_outputs_come_back_as_image_content_and_stay_in_the_cell(
    make_notebook, mcp_client
):
    png = tiny_png()
    source = (
        "import base64\nfrom IPython.display import Image, display\n"
        f"display(Image(data=base64.b64decode({base64.b64encode(png).decode()!r}), format='png'))\n"
        f"display(Image(data=base64.b64decode({base64.b64encode(TINY_JPEG).decode()!r}), format='jpeg'))\n"
        "print('two images')\n"
    )
    path = make_notebook("images.ipynb")
    async with mcp_client() as client:
        result = await client.call_tool(
            "insert_execute_code_cell", {"notebook_path": path, "source": source}
        )
        cell = await call(
            client, "read_cell", notebook_path=path, cell_id=result.structured_content["cell_id"]
        )

    assert not result.is_error, result.content[0].text
    images = [c for c in result.content if c.type == "image"]
    assert [(c.mime_type, base64.b64decode(c.data)) for c in images] == [
        ("image/png", png),
        ("image/jpeg", TINY_JPEG),
    ]
    assert "two images" in "\n".join(result_texts(result))
    structured = result.structured_content
    assert [o["output_type"] for o in structured["outputs"]] == [
        "display_data",
        "display_data",
        "stream",
    ]
    assert any(m.startswith("image/png") for m in structured["outputs"][0]["omitted"])
    assert any(m.startswith("image/jpeg") for m in structured["outputs"][1]["omitted"])
    # The notebook keeps the images (read tools summarise them by MIME type).
    outputs = cell["cell"]["outputs"]
    assert any(m.startswith("image/png") for m in outputs[0]["omitted"])
    assert any(m.startswith("image/jpeg") for m in outputs[1]["omitted"])


async def test_html_only_output_says_what_was_omitted_and_html_with_text_falls_back_to_text(
    make_notebook, mcp_client
):
    source_html_only = "display({'text/html': '<b>bold</b>'}, raw=True)"
    source_with_text = "from IPython.display import HTML\nHTML('<i>styled</i>')"
    path = make_notebook("html.ipynb")
    async with mcp_client() as client:
        html_only = await client.call_tool(
            "insert_execute_code_cell", {"notebook_path": path, "source": source_html_only}
        )
        with_text = await client.call_tool(
            "insert_execute_code_cell", {"notebook_path": path, "source": source_with_text}
        )

    assert not html_only.is_error and not with_text.is_error
    text = "\n".join(result_texts(html_only))
    assert "text/html" in text and "not shown" in text, text
    assert [c.type for c in html_only.content] == ["text"]
    assert html_only.structured_content["outputs"][0]["omitted"] == ["text/html (11 B)"]

    (output,) = with_text.structured_content["outputs"]
    assert output["output_type"] == "execute_result"
    assert output["text"] == "<IPython.core.display.HTML object>"
    assert output["omitted"] == ["text/html (13 B)"]
    assert "<IPython.core.display.HTML object>" in "\n".join(result_texts(with_text))


# -- 10. huge output -----------------------------------------------------------------------------------------


async def test_huge_output_is_capped_in_the_result_while_the_notebook_keeps_every_line(
    make_notebook,
    mcp_client,
    browser,
    jp_root_dir,
):
    path = make_notebook("huge.ipynb")
    source = "for i in range(20000):\n    print(f'line {i}')"
    expected = "".join(f"line {i}\n" for i in range(20000))
    async with browser(path) as peer, mcp_client() as client:
        result = await client.call_tool(
            "insert_execute_code_cell", {"notebook_path": path, "source": source}
        )
        assert not result.is_error, result.content[0].text
        cell_id = result.structured_content["cell_id"]
        live = await eventually(
            lambda: (c := peer_cell(peer, cell_id)) and c.get("execution_state") == "idle" and c,
            "the browser sees the cell idle",
        )
        on_disk = await wait_for_disk(
            jp_root_dir,
            path,
            lambda nb: any(
                "".join(o.get("text", "")) == expected
                for c in nb["cells"]
                for o in c.get("outputs", [])
            ),
        )

    structured = result.structured_content
    assert structured["status"] == "ok"
    text = "\n".join(result_texts(result))
    assert len(text) < 5000, f"the result carries {len(text)} characters"
    assert "line 0\n" in text and "line 19999" in text  # head and tail kept
    assert re.search(r"\d+ characters (cut|omitted)", text), text[:300]
    assert any("characters" in note for note in structured["notes"]), structured["notes"]
    assert len(structured["outputs"][0]["text"]) < 5000
    assert any("characters of text" in item for item in structured["outputs"][0]["omitted"])
    # The live notebook and the file keep all 20,000 lines, in one stream output.
    assert [o["output_type"] for o in live["outputs"]] == ["stream"]
    assert stream_text(live) == expected
    assert sum(1 for c in on_disk["cells"] for o in c.get("outputs", [])) == 1


# -- 11. two agents at once -------------------------------------------------------------------------------


def _interval(structured: dict, label: str) -> tuple[float, float]:
    """(start, end) kernel-side times printed by a TIMED cell."""
    match = re.fullmatch(rf"{label} (\S+) (\S+)\n", structured_texts(structured))
    assert match, structured["outputs"]
    return float(match[1]), float(match[2])


def timed(label: str, seconds: float) -> str:
    return (
        f"import time\nt0 = time.time()\ntime.sleep({seconds})\nprint('{label}', t0, time.time())"
    )


async def test_two_clients_in_two_notebooks_run_at_the_same_time_each_in_its_own_notebook(
    make_notebook, mcp_client
):
    paths = [make_notebook("a.ipynb"), make_notebook("b.ipynb")]
    async with mcp_client() as one, mcp_client("legacy") as two:
        # Both kernels started first: the overlap measured is of the executions, not of kernel starts.
        await asyncio.gather(
            call(one, "execute_code", notebook_path=paths[0], code="pass"),
            call(two, "execute_code", notebook_path=paths[1], code="pass"),
        )
        started = time.monotonic()
        results = await asyncio.gather(
            call(one, "insert_execute_code_cell", notebook_path=paths[0], source=timed("A", 1.5)),
            call(two, "insert_execute_code_cell", notebook_path=paths[1], source=timed("B", 1.5)),
        )
        wall = time.monotonic() - started
        notebooks = [await call(one, "read_all_cells", notebook_path=p) for p in paths]

    a, b = results
    assert a["status"] == b["status"] == "ok"
    assert a["kernel_id"] != b["kernel_id"]
    (a_start, a_end), (b_start, b_end) = _interval(a, "A"), _interval(b, "B")
    assert a_start < b_end and b_start < a_end, "the two executions did not overlap"
    assert wall < 2.9, f"two 1.5 s cells in two notebooks took {wall:.1f} s"
    # Each notebook got its own cell with its own output only.
    outputs = [[o["text"] for c in nb["cells"] for o in c.get("outputs", [])] for nb in notebooks]
    assert [len(o) for o in outputs] == [1, 1]
    assert outputs[0][0].startswith("A ") and outputs[1][0].startswith("B ")


async def test_two_clients_in_the_same_notebook_are_run_one_after_the_other(
    make_notebook, mcp_client
):
    path = make_notebook("same.ipynb")
    async with mcp_client() as one, mcp_client() as two:
        await call(one, "execute_code", notebook_path=path, code="pass")  # kernel started
        started = time.monotonic()
        a, b = await asyncio.gather(
            call(one, "insert_execute_code_cell", notebook_path=path, source=timed("A", 1)),
            call(two, "insert_execute_code_cell", notebook_path=path, source=timed("B", 1)),
        )
        wall = time.monotonic() - started
        cells = (await call(one, "read_all_cells", notebook_path=path))["cells"]

    assert a["status"] == b["status"] == "ok" and a["kernel_id"] == b["kernel_id"]
    assert wall >= 2, f"two 1 s cells in one kernel took {wall:.2f} s"
    (a_start, a_end), (b_start, b_end) = _interval(a, "A"), _interval(b, "B")
    assert a_end <= b_start or b_end <= a_start, "the two executions overlapped"
    assert {a["execution_count"], b["execution_count"]} == {1, 2}
    by_id = {c["cell_id"]: c for c in cells}
    assert [o["text"][:2] for o in by_id[a["cell_id"]]["outputs"]] == ["A "]
    assert [o["text"][:2] for o in by_id[b["cell_id"]]["outputs"]] == ["B "]


# -- 12. the other tools --------------------------------------------------------------------------------


RANGE_CELLS = [
    ("code", "a = 1\nprint('a is', a)"),
    ("markdown", "# not code"),
    ("code", "raise ValueError('boom')"),
    ("code", "b = a + 1\nb"),
]


async def test_execute_with_progress_stops_at_the_first_error_unless_told_not_to(
    make_notebook, mcp_client
):
    path = make_notebook("range.ipynb", RANGE_CELLS)
    reports: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reports.append((progress, total, message))

    async with mcp_client() as client:
        stopped = await client.call_tool(
            "execute_with_progress", {"notebook_path": path}, progress_callback=on_progress
        )
        assert not stopped.is_error, stopped.content[0].text
        untouched = (await call(client, "read_cell", notebook_path=path, cell_index=3))["cell"]
        everything = await call(
            client, "execute_with_progress", notebook_path=path, stop_on_error=False
        )
        only_last = await call(
            client, "execute_with_progress", notebook_path=path, start_index=3, end_index=3
        )
        error = await call_error(
            client, "execute_with_progress", notebook_path=path, start_index=2, end_index=9
        )

    result = stopped.structured_content
    assert [(e["cell_index"], e["status"]) for e in result["cells"]] == [
        (0, "ok"),
        (2, "error"),
        (None, "skipped"),
    ]
    assert (result["ran"], result["failed"], result["stopped_early"]) == (2, 1, True)
    assert result["cells"][0]["summary"] == "a is 1"
    assert "ValueError: boom" in result["cells"][1]["summary"]
    assert "stopped at the first error" in stopped.content[0].text
    assert untouched["execution_count"] is None and untouched["outputs"] == []
    # A cell running over a second also reports a heartbeat ("cell …: running for 1 s"): left out.
    range_reports = [r for r in reports if r[1] == 3 and "running for" not in (r[2] or "")]
    assert range_reports == [
        (0, 3, "running cell 1 of 3"),
        (1, 3, "running cell 2 of 3"),
        (3, 3, "done"),
    ], reports

    assert [e["status"] for e in everything["cells"]] == ["ok", "error", "ok"]
    assert (everything["ran"], everything["failed"], everything["stopped_early"]) == (3, 1, False)
    assert everything["cells"][2]["summary"] == "2"
    assert [(e["cell_index"], e["status"], e["summary"]) for e in only_last["cells"]] == [
        (3, "ok", "2")
    ]
    assert "2..9" in error and "0..3" in error


async def test_execute_code_adds_no_cell_and_does_not_move_the_execution_count(
    make_notebook, mcp_client
):
    path = make_notebook("code.ipynb", [("code", "x = 6")])
    async with mcp_client() as client:
        first = await call(client, "execute_cell", notebook_path=path, cell_index=0)
        code = await client.call_tool(
            "execute_code", {"notebook_path": path, "code": "print(x * 7)\nx * 7"}
        )
        second = await call(client, "execute_cell", notebook_path=path, cell_index=0)
        cells = (await call(client, "read_all_cells", notebook_path=path))["cells"]
        history = await call(client, "execute_code", notebook_path=path, code="print(len(In))")

    assert not code.is_error, code.content[0].text
    structured = code.structured_content
    assert structured["status"] == "ok" and structured["kernel_id"] == first["kernel_id"]
    assert [(o["output_type"], o["text"]) for o in structured["outputs"]] == [
        ("stream", "42\n"),
        ("execute_result", "42"),
    ]
    assert (first["execution_count"], second["execution_count"]) == (1, 2)
    assert [(c["source"], c["execution_count"]) for c in cells] == [("x = 6", 2)]
    assert structured_texts(history) == "3\n"  # In[0] is empty; the two cell runs only


async def test_list_kernels_names_the_notebook_of_each_kernel(make_notebook, mcp_client):
    paths = [make_notebook("one.ipynb"), make_notebook("sub/two.ipynb")]
    async with mcp_client() as client:
        assert (await call(client, "list_kernels"))["kernels"] == []
        ids = [
            (await call(client, "execute_code", notebook_path=p, code="pass"))["kernel_id"]
            for p in paths
        ]
        listed = await client.call_tool("list_kernels", {})

    assert not listed.is_error
    kernels = {k["kernel_id"]: k for k in listed.structured_content["kernels"]}
    assert set(kernels) == set(ids)
    assert [kernels[i]["notebooks"] for i in ids] == [["one.ipynb"], ["sub/two.ipynb"]]
    # The state is jupyter_server's own record: a kernel whose first status it has not seen yet is "starting".
    running = ("starting", "idle", "busy")
    assert all(
        k["name"] == "python3" and k["execution_state"] in running for k in kernels.values()
    ), kernels
    assert "sub/two.ipynb" in listed.content[0].text


async def test_interrupt_kernel_without_a_kernel_is_a_clear_error_and_with_one_stops_the_cell(
    make_notebook, mcp_client
):
    path = make_notebook("interrupt.ipynb")
    async with mcp_client() as client, mcp_client() as other:
        error = await call_error(client, "interrupt_kernel", notebook_path=path)
        await call(client, "execute_code", notebook_path=path, code="kept = 1")
        running = asyncio.create_task(
            call(
                client,
                "insert_execute_code_cell",
                notebook_path=path,
                source="import time\nprint('go', flush=True)\ntime.sleep(30)",
            )
        )
        # The user (here another agent) presses stop once the cell has started.
        await eventually(
            lambda: call(other, "read_all_cells", notebook_path=path),
            "the cell to print 'go'",
            until=lambda seen: any(
                o["text"] == "go\n" for c in seen["cells"] for o in c.get("outputs") or []
            ),
            timeout=15,
            interval=0.05,
        )
        started = time.monotonic()
        interrupted = await call(other, "interrupt_kernel", notebook_path=path)
        result = await running
        elapsed = time.monotonic() - started
        still = await call(client, "execute_code", notebook_path=path, code="kept")

    assert "no running kernel" in error and "interrupt.ipynb" in error
    assert interrupted["kernel_id"] == result["kernel_id"]
    assert elapsed < 5
    assert result["status"] == "error" and "KeyboardInterrupt" in structured_texts(result)
    assert structured_texts(still) == "1"  # variables kept


async def test_clear_output_wait_and_display_updates_end_with_the_right_outputs_in_the_cell(
    make_notebook,
    mcp_client,
    browser,
):
    clear_wait = (
        "from IPython.display import clear_output\nimport time\n"
        "for i in range(3):\n    clear_output(wait=True)\n    print(f'step {i}', flush=True)\n    time.sleep(0.1)\n"
    )
    update = (
        "h = display('a', display_id=True)\nprint('between')\nh.update('b')\ndisplay('c')\n'done'"
    )
    path = make_notebook("display.ipynb")
    async with browser(path) as peer, mcp_client() as client:
        cleared = await call(
            client, "insert_execute_code_cell", notebook_path=path, source=clear_wait
        )
        updated = await call(client, "insert_execute_code_cell", notebook_path=path, source=update)
        live = [
            await eventually(
                lambda i=cell_id: (
                    (c := peer_cell(peer, i)) and c.get("execution_state") == "idle" and c
                ),
                "the browser sees the cell idle",
            )
            for cell_id in (cleared["cell_id"], updated["cell_id"])
        ]

    assert [(o["output_type"], o["text"]) for o in cleared["outputs"]] == [("stream", "step 2\n")]
    assert [o["output_type"] for o in live[0]["outputs"]] == ["stream"] and stream_text(
        live[0]
    ) == "step 2\n"

    expected = [
        ("display_data", "'b'"),
        ("stream", "between\n"),
        ("display_data", "'c'"),
        ("execute_result", "'done'"),
    ]
    assert [(o["output_type"], o["text"]) for o in updated["outputs"]] == expected
    seen = [
        (
            o["output_type"],
            stream_text({"outputs": [o]}) or "".join(o.get("data", {}).get("text/plain", "")),
        )
        for o in live[1]["outputs"]
    ]
    assert seen == expected
    assert count_of(live[1]) == updated["execution_count"]
