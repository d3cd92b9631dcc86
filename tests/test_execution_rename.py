"""A person renaming or deleting a notebook (the contents REST API, as JupyterLab's file browser does)
while an agent's cell runs in it: the run goes on in the same document, under its new name."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from conftest import call
from execution_helpers import rest, result_texts, structured_texts
from support import eventually
from tool_helpers import wait_for_disk

# Prints, says so (a file the test waits for), then runs on long enough for the rename to land mid-run.
SLOW = (
    "import pathlib, time\nprint('before', flush=True)\npathlib.Path('printed').touch()\n"
    "time.sleep(1.5)\nprint('after')\n'done'"
)


async def _run_while(client, path: str, jp_root_dir, change) -> dict:
    """Start a new cell running SLOW in ``path``; ``change()`` once it has printed; the call's result."""
    await call(client, "execute_code", notebook_path=path, code="pass")  # the kernel is up
    running = asyncio.create_task(
        client.call_tool(
            "insert_execute_code_cell", {"notebook_path": path, "source": SLOW, "timeout": 30}
        )
    )
    await eventually((jp_root_dir / "printed").exists, "the cell printed")
    await change()
    return await running


async def test_a_notebook_renamed_while_its_cell_runs_keeps_the_outputs_and_count_under_its_new_name(
    make_notebook, mcp_client, server_url, token, jp_root_dir
):
    path = make_notebook("draft.ipynb", [("code", "x = 1")])

    async def rename() -> None:
        await rest(
            server_url, token, "PATCH", f"api/contents/{quote(path)}", json={"path": "final.ipynb"}
        )

    async with mcp_client() as client:
        answer = await _run_while(client, path, jp_root_dir, rename)
        assert not answer.is_error, answer.content[0].text
        result = answer.structured_content
        live = (await call(client, "read_all_cells", notebook_path="final.ipynb"))["cells"]

    assert result["status"] == "ok" and result["execution_count"] >= 1
    assert structured_texts(result) == "before\nafter\n\n'done'"
    assert result["notebook_path"] == "final.ipynb"
    assert any("renamed" in note and "final.ipynb" in note for note in result["notes"]), result[
        "notes"
    ]
    # In the live document and on disk, under the new name only.
    assert [c["source"] for c in live] == ["x = 1", SLOW]
    assert live[1]["execution_count"] == result["execution_count"]
    assert [o["text"] for o in live[1]["outputs"]] == ["before\nafter\n", "'done'"]
    disk = await wait_for_disk(
        jp_root_dir, "final.ipynb", lambda nb: nb["cells"][1]["execution_count"] is not None
    )
    assert disk["cells"][1]["execution_count"] == result["execution_count"]
    assert [
        "".join(o.get("text") or o["data"]["text/plain"]) for o in disk["cells"][1]["outputs"]
    ] == ["before\nafter\n", "'done'"]
    assert not (jp_root_dir / path).exists()


async def test_a_notebook_deleted_while_its_cell_runs_gets_a_clear_note_and_the_outputs_in_the_result(
    make_notebook, mcp_client, server_url, token, jp_root_dir
):
    path = make_notebook("doomed.ipynb", [("code", "x = 1")])

    async def delete() -> None:
        await rest(server_url, token, "DELETE", f"api/contents/{quote(path)}")

    async with mcp_client() as client:
        answer = await _run_while(client, path, jp_root_dir, delete)
    assert not answer.is_error, answer.content[0].text
    result = answer.structured_content
    assert result["status"] == "ok" and result["execution_count"] >= 1
    assert structured_texts(result) == "before\nafter\n\n'done'"
    text = result_texts(answer)[0]
    assert "deleted" in text and "could not be loaded" not in text, text
    assert any("was deleted while the cell ran" in note for note in result["notes"]), result[
        "notes"
    ]
    assert not (jp_root_dir / path).exists()
