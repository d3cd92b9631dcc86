"""Failures are tool results (isError) whose text names the problem and what is valid — never a
JSON-RPC error or an exception in the client (``call_error`` would raise on either)."""

from __future__ import annotations

import os

import pytest
from conftest import call_error
from support import read_disk, write_notebook
from tool_helpers import ALL_TOOLS, invoke, wait_for_disk


async def test_missing_notebook_lists_close_matches(mcp_client, make_notebook):
    make_notebook("projects/analysis.ipynb")
    make_notebook("projects/report.ipynb")
    make_notebook("zzz/unrelated.ipynb")
    async with mcp_client() as client:
        message = await call_error(
            client, "read_all_cells", notebook_path="projects/analysys.ipynb"
        )
        assert message.startswith(
            "Notebook 'projects/analysys.ipynb' does not exist. Close matches: "
        )
        assert "'projects/analysis.ipynb'" in message and "unrelated" not in message
        # Same file name in another folder.
        message = await call_error(
            client, "read_cell", notebook_path="analysis.ipynb", cell_index=0
        )
        assert "'projects/analysis.ipynb'" in message.split("Close matches:")[1]
        # Nothing close: point at list_notebooks.
        message = await call_error(
            client, "get_notebook_info", notebook_path="qqqqqqqqqqqqqqqq.ipynb"
        )
        assert "does not exist" in message and "list_notebooks" in message
        # Every notebook tool reports it the same way.
        for name, args in [
            ("append_code_cell", {"source": "x"}),
            ("delete_cell", {"cell_index": 0}),
            ("move_cell", {"cell_index": 0, "to_index": 0}),
            ("read_notebook", {}),
            ("clear_cell_output", {"all_cells": True}),
            ("prepare_notebook", {}),
        ]:
            message = await call_error(
                client, name, notebook_path="projects/analysys.ipynb", **args
            )
            assert "does not exist" in message and "projects/analysis.ipynb" in message, (
                name,
                message,
            )


async def test_out_of_range_indexes_give_the_valid_range(mcp_client, make_notebook):
    make_notebook("r.ipynb", [("code", "a"), ("code", "b"), ("code", "c")])
    async with mcp_client() as client:
        valid = "valid indexes are 0..2 (or -3..-1)"
        for name, args in [
            ("read_cell", {"cell_index": 3}),
            ("read_cell", {"cell_index": -4}),
            ("overwrite_cell_source", {"cell_index": 7, "source": "x"}),
            ("edit_cell_source", {"cell_index": 3, "old_text": "a", "new_text": "b"}),
            ("clear_cell_output", {"cell_index": 3}),
            ("move_cell", {"cell_index": 3, "to_index": 0}),
            ("delete_cell", {"cell_index": 3}),
        ]:
            message = await call_error(client, name, notebook_path="r.ipynb", **args)
            assert f"cell_index {args['cell_index']} is out of range: {valid}." == message, (
                name,
                message,
            )
        message = await call_error(
            client, "move_cell", notebook_path="r.ipynb", cell_index=0, to_index=3
        )
        assert message.startswith("to_index 3 is out of range: valid indexes are 0..2")
        message = await call_error(client, "insert_cell", notebook_path="r.ipynb", cell_index=4)
        assert message == "Insert index 4 is out of range: use 0..3 (or -1 to append)."
        message = await call_error(
            client, "read_cell", notebook_path="r.ipynb", cell_id="no-such-id"
        )
        assert (
            "No cell has id 'no-such-id'" in message
            and "3 cells" in message
            and "read_notebook" in message
        )

        await invoke(client, "delete_cell", notebook_path="r.ipynb", cell_index=[0, 1, 2])
        message = await call_error(client, "read_cell", notebook_path="r.ipynb", cell_index=0)
        assert message == "cell_index 0 is out of range: the notebook has no cells."


async def test_files_that_are_not_notebooks_are_refused(mcp_client, make_notebook, jp_root_dir):
    (jp_root_dir / "notes.txt").write_text("hello")
    (jp_root_dir / "broken.ipynb").write_text("{ this is not json")
    (jp_root_dir / "folder.ipynb").mkdir()
    async with mcp_client() as client:
        message = await call_error(client, "read_all_cells", notebook_path="notes.txt")
        assert message == "'notes.txt' is not a notebook: notebook paths end in '.ipynb'."
        message = await call_error(
            client, "prepare_notebook", notebook_path="notes.txt", create=True
        )
        assert "'notes.txt' is not a notebook path: it must end in '.ipynb'" in message

        message = await call_error(client, "read_all_cells", notebook_path="broken.ipynb")
        assert "'broken.ipynb' could not be loaded as a notebook" in message
        assert "JSON" in message and "Fix or recreate the file" in message
        assert (jp_root_dir / "broken.ipynb").read_text() == "{ this is not json"  # left as it was

        message = await call_error(client, "get_notebook_info", notebook_path="folder.ipynb")
        assert message == "'folder.ipynb' is a directory, not a notebook."
        message = await call_error(client, "list_files", path="notes.txt")
        assert message == "'notes.txt' is a file, not a directory."
        message = await call_error(client, "list_notebooks", path="nowhere")
        assert message == "Directory 'nowhere' does not exist."


async def test_unloadable_notebook_stays_an_error_on_every_call(mcp_client, jp_root_dir):
    (jp_root_dir / "broken.ipynb").write_text("{ this is not json")
    async with mcp_client() as client:
        assert "could not be loaded" in await call_error(
            client, "read_all_cells", notebook_path="broken.ipynb"
        )
        # Asking again must not present the broken file as an empty notebook (today: 0 cells) ...
        assert "could not be loaded" in await call_error(
            client, "read_all_cells", notebook_path="broken.ipynb"
        )
        # ... nor accept an edit that can never be saved (today: "Inserted code cell 0").
        assert "could not be loaded" in await call_error(
            client, "append_code_cell", notebook_path="broken.ipynb", source="lost"
        )


async def test_notebook_fixed_on_disk_after_a_load_error_is_read_again(
    mcp_client, make_notebook, jp_root_dir
):
    (jp_root_dir / "broken.ipynb").write_text("{ this is not json")
    async with mcp_client() as client:
        message = await call_error(client, "read_all_cells", notebook_path="broken.ipynb")
        assert "Fix or recreate the file" in message
        make_notebook("broken.ipynb", [("code", "fixed")])  # the user follows the advice
        cells = (await invoke(client, "read_all_cells", notebook_path="broken.ipynb"))["cells"]
        assert [c["source"] for c in cells] == ["fixed"]  # today: []


async def test_paths_leaving_the_root_are_refused(mcp_client, make_notebook, jp_root_dir, tmp_path):
    make_notebook("inside.ipynb", [("code", "x")])
    outside = tmp_path / "outside"
    write_notebook(outside, "secret.ipynb")
    os.symlink(outside, jp_root_dir / "escape")
    os.symlink(outside / "secret.ipynb", jp_root_dir / "secret-link.ipynb")
    os.symlink(jp_root_dir / "inside.ipynb", jp_root_dir / "alias.ipynb")  # stays inside: fine

    async with mcp_client() as client:
        absolute = str(jp_root_dir / "inside.ipynb")
        message = await call_error(client, "read_all_cells", notebook_path=absolute)
        assert message.startswith(
            f"Absolute path {absolute!r} refused: paths are relative to the Jupyter server's root"
        )
        assert "Inside the root this is 'inside.ipynb'." in message
        message = await call_error(client, "create_notebook", notebook_path="/tmp/evil.ipynb")
        assert "Absolute path '/tmp/evil.ipynb' refused" in message
        assert not os.path.exists("/tmp/evil.ipynb")

        for path in [
            "../outside/secret.ipynb",
            "sub/../../outside/secret.ipynb",
            "a/../inside.ipynb",
        ]:
            message = await call_error(client, "read_all_cells", notebook_path=path)
            assert (
                message
                == f"Path {path!r} refused: '..' may not be used; paths stay inside the server root."
            )
        message = await call_error(client, "list_files", path="..")
        assert "'..' may not be used" in message

        for path in ["escape/secret.ipynb", "secret-link.ipynb"]:
            message = await call_error(client, "read_all_cells", notebook_path=path)
            assert (
                message
                == f"Path {path!r} refused: it leads outside the server root (through a symlink)."
            )
        message = await call_error(client, "create_notebook", notebook_path="escape/planted.ipynb")
        assert "leads outside the server root" in message
        message = await call_error(
            client, "prepare_notebook", notebook_path="escape/planted.ipynb", create=True
        )
        assert "leads outside the server root" in message
        assert sorted(os.listdir(outside)) == ["secret.ipynb"]
        message = await call_error(client, "list_files", path="escape")
        assert "leads outside the server root" in message

        listed = await invoke(client, "list_files", max_depth=3)
        assert {f["path"] for f in listed["files"]} == {"inside.ipynb", "alias.ipynb"}
        alias = await invoke(client, "read_all_cells", notebook_path="alias.ipynb")
        assert [c["source"] for c in alias["cells"]] == ["x"]


async def test_hidden_notebooks_are_refused_by_default(mcp_client, make_notebook, jp_root_dir):
    make_notebook(".hidden.ipynb", [("code", "secret")])
    make_notebook(".config/inner.ipynb")
    async with mcp_client() as client:
        message = await call_error(client, "read_all_cells", notebook_path=".hidden.ipynb")
        assert message == (
            "'.hidden.ipynb' is hidden (a name starting with '.'); the server does not serve hidden "
            "files (ContentsManager.allow_hidden is False)."
        )
        message = await call_error(client, "prepare_notebook", notebook_path=".config/inner.ipynb")
        assert "'.config/inner.ipynb' is hidden" in message
        message = await call_error(client, "create_notebook", notebook_path=".new.ipynb")
        assert "is hidden" in message
        assert not (jp_root_dir / ".new.ipynb").exists()
        message = await call_error(client, "list_files", path=".config")
        assert "is hidden" in message
        assert (await invoke(client, "list_notebooks"))["total"] == 0


async def test_invalid_arguments_name_the_problem_and_the_accepted_arguments(
    mcp_client, make_notebook
):
    make_notebook("a.ipynb", [("code", "x")])
    async with mcp_client() as client:
        message = await call_error(
            client, "read_cell", notebook_path="a.ipynb", cell_index=0, cel_id="x"
        )
        assert message == (
            "Invalid arguments for read_cell: unknown argument 'cel_id'. "
            "Accepted arguments: notebook_path?, cell_index?, cell_id?, include_outputs?."
        )
        message = await call_error(client, "read_cell", notebook_path="a.ipynb", cell_index="first")
        assert message.startswith(
            "Invalid arguments for read_cell: cell_index: Input should be a valid integer"
        )
        message = await call_error(client, "read_all_cells", notebook_path=5)
        assert "notebook_path: Input should be a valid string" in message
        message = await call_error(
            client, "append_code_cell", notebook_path="a.ipynb"
        )  # source missing
        assert (
            "source: Field required" in message
            and "Accepted arguments: notebook_path?, source." in message
        )
        message = await call_error(client, "read_notebook", notebook_path="a.ipynb", limit=0)
        assert "limit: Input should be greater than or equal to 1" in message
        message = await call_error(client, "read_notebook", notebook_path="a.ipynb", limit=501)
        assert "limit: Input should be less than or equal to 500" in message
        message = await call_error(client, "read_notebook", notebook_path="a.ipynb", detail="full")
        assert "detail: Input should be 'brief' or 'detailed'" in message
        message = await call_error(
            client, "insert_cell", notebook_path="a.ipynb", cell_index=0, cell_type="heading"
        )
        assert "cell_type: Input should be 'code', 'markdown' or 'raw'" in message
        message = await call_error(client, "list_files", max_depth=11)
        assert "max_depth: Input should be less than or equal to 10" in message
        message = await call_error(
            client, "delete_cell", notebook_path="a.ipynb", cell_index=[0, "x"]
        )
        assert message.startswith("Invalid arguments for delete_cell: ")
        message = await call_error(
            client, "read_cell", notebook_path="a.ipynb", cell_index=0, x=1, y=2
        )
        assert "unknown argument 'x'" in message and "unknown argument 'y'" in message
        # Nothing was changed by any of them.
        assert len((await invoke(client, "read_all_cells", notebook_path="a.ipynb"))["cells"]) == 1


async def test_cells_need_exactly_one_of_cell_index_and_cell_id(mcp_client, make_notebook):
    make_notebook("a.ipynb", [("code", "x = 1")])
    async with mcp_client() as client:
        cell_id = (await invoke(client, "read_cell", notebook_path="a.ipynb", cell_index=0))[
            "cell"
        ]["cell_id"]
        expected = "Address the cell with exactly one of cell_index (0-based; negative counts from the end) or cell_id."
        for name, args in [
            ("read_cell", {}),
            ("overwrite_cell_source", {"source": "y"}),
            ("edit_cell_source", {"old_text": "1", "new_text": "2"}),
            ("move_cell", {"to_index": 0}),
            ("clear_cell_output", {}),
        ]:
            assert await call_error(client, name, notebook_path="a.ipynb", **args) == expected, name
            both = await call_error(
                client, name, notebook_path="a.ipynb", cell_index=0, cell_id=cell_id, **args
            )
            assert both == expected, name
        for args in [{}, {"cell_index": 0, "cell_id": cell_id}]:
            message = await call_error(client, "delete_cell", notebook_path="a.ipynb", **args)
            assert message == (
                "Give exactly one of cell_index (an index or a list of indexes) "
                "or cell_id (an id or a list)."
            )
        message = await call_error(
            client, "clear_cell_output", notebook_path="a.ipynb", all_cells=True, cell_index=0
        )
        assert (
            message
            == "all_cells=true clears every cell: do not give cell_index or cell_id with it."
        )
        assert (await invoke(client, "read_cell", notebook_path="a.ipynb", cell_id=cell_id))[
            "cell"
        ]["source"] == "x = 1"


async def test_edit_cell_source_needs_the_old_text_exactly_once(
    mcp_client, make_notebook, jp_root_dir
):
    make_notebook("e.ipynb", [("code", "total = 0\ntotal += 1\nprint(total)")])
    async with mcp_client() as client:
        message = await call_error(
            client,
            "edit_cell_source",
            notebook_path="e.ipynb",
            cell_index=0,
            old_text="Total",
            new_text="count",
        )
        assert message.startswith("old_text was not found in cell 0 (id ")
        assert "exactly" in message and "read_cell" in message
        message = await call_error(
            client,
            "edit_cell_source",
            notebook_path="e.ipynb",
            cell_index=0,
            old_text="total",
            new_text="count",
        )
        assert "old_text occurs 3 times in cell 0" in message and "replace_all" in message
        message = await call_error(
            client,
            "edit_cell_source",
            notebook_path="e.ipynb",
            cell_index=0,
            old_text="",
            new_text="count",
        )
        assert message.startswith("old_text is empty")
        cell = (await invoke(client, "read_cell", notebook_path="e.ipynb", cell_index=0))["cell"]
        assert cell["source"] == "total = 0\ntotal += 1\nprint(total)"  # nothing changed

        # Made unique with more context, or all replaced at once.
        one = await invoke(
            client,
            "edit_cell_source",
            notebook_path="e.ipynb",
            cell_index=0,
            old_text="print(total)",
            new_text="print(total, 'done')",
        )
        assert one["replacements"] == 1
        every = await invoke(
            client,
            "edit_cell_source",
            notebook_path="e.ipynb",
            cell_index=0,
            old_text="total",
            new_text="count",
            replace_all=True,
        )
        assert (every["replacements"], every["chars_removed"], every["chars_inserted"]) == (
            3,
            15,
            15,
        )
        cell = (await invoke(client, "read_cell", notebook_path="e.ipynb", cell_index=0))["cell"]
        assert cell["source"] == "count = 0\ncount += 1\nprint(count, 'done')"
    await wait_for_disk(
        jp_root_dir,
        "e.ipynb",
        lambda nb: (
            "".join(nb["cells"][0]["source"]) == "count = 0\ncount += 1\nprint(count, 'done')"
        ),
    )


async def test_delete_cell_with_one_invalid_target_deletes_nothing(
    mcp_client, make_notebook, jp_root_dir
):
    make_notebook("d.ipynb", [("code", "a"), ("code", "b"), ("code", "c")])
    ids = [cell["id"] for cell in read_disk(jp_root_dir, "d.ipynb")["cells"]]
    async with mcp_client() as client:
        message = await call_error(
            client, "delete_cell", notebook_path="d.ipynb", cell_index=[0, 1, 3]
        )
        assert message == "cell_index 3 is out of range: valid indexes are 0..2 (or -3..-1)."
        message = await call_error(
            client, "delete_cell", notebook_path="d.ipynb", cell_id=[ids[0], "gone"]
        )
        assert "No cell has id 'gone'" in message
        message = await call_error(
            client, "delete_cell", notebook_path="d.ipynb", cell_index=[1, -2]
        )
        assert message == "The same cell is named more than once; name each cell once."
        message = await call_error(client, "delete_cell", notebook_path="d.ipynb", cell_id=[])
        assert message == "No cells given: cell_index or cell_id is an empty list."
        cells = (await invoke(client, "read_all_cells", notebook_path="d.ipynb"))["cells"]
        assert [(c["cell_id"], c["source"]) for c in cells] == list(
            zip(ids, ["a", "b", "c"], strict=True)
        )


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_unknown_tool_is_a_tool_error(mcp_client, mode):
    async with mcp_client(mode) as client:
        message = await call_error(client, "run_cell", cell_index=0)
        assert message.startswith("Unknown tool 'run_cell'. Available tools: ")
        assert set(message.split("Available tools: ")[1].rstrip(".").split(", ")) == ALL_TOOLS
