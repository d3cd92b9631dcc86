"""The editing tools: every change is visible to the reading tools and reaches the .ipynb file."""

from __future__ import annotations

import nbformat
import pytest
from conftest import call_error
from support import read_disk, write_notebook
from tool_helpers import disk_sources, invoke, invoke_text, wait_for_disk


async def test_append_cells_reach_reads_and_disk(mcp_client, make_notebook, jp_root_dir):
    make_notebook("app.ipynb", [("code", "first")])
    async with mcp_client() as client:
        md = await invoke(
            client, "append_markdown_cell", notebook_path="app.ipynb", source="## Notes\n*text*"
        )
        assert (md["cell_index"], md["cell_count"]) == (1, 2)
        code = await invoke(
            client, "append_code_cell", notebook_path="app.ipynb", source="import math\nmath.pi"
        )
        assert (code["cell_index"], code["cell_count"]) == (2, 3)
        assert md["cell_id"] and code["cell_id"] and md["cell_id"] != code["cell_id"]
        text = await invoke_text(client, "append_code_cell", notebook_path="app.ipynb", source="")
        assert "cell 3" in text and "4 cells" in text

        cells = (await invoke(client, "read_all_cells", notebook_path="app.ipynb"))["cells"]
        assert [(c["cell_type"], c["source"]) for c in cells] == [
            ("code", "first"),
            ("markdown", "## Notes\n*text*"),
            ("code", "import math\nmath.pi"),
            ("code", ""),
        ]
        # The returned ids address the new cells; a new code cell is not run.
        by_id = (
            await invoke(client, "read_cell", notebook_path="app.ipynb", cell_id=code["cell_id"])
        )["cell"]
        assert (by_id["index"], by_id["execution_count"], by_id["output_count"]) == (2, None, 0)

    on_disk = await wait_for_disk(jp_root_dir, "app.ipynb", lambda nb: len(nb["cells"]) == 4)
    assert disk_sources(on_disk) == [
        ("code", "first"),
        ("markdown", "## Notes\n*text*"),
        ("code", "import math\nmath.pi"),
        ("code", ""),
    ]
    assert [c["id"] for c in on_disk["cells"]][1:3] == [md["cell_id"], code["cell_id"]]
    assert on_disk["cells"][2]["outputs"] == [] and on_disk["cells"][2]["execution_count"] is None
    assert nbformat.validate(nbformat.reads((jp_root_dir / "app.ipynb").read_text(), 4)) is None


async def test_insert_cell_at_start_middle_and_end(mcp_client, make_notebook, jp_root_dir):
    make_notebook("ins.ipynb", [("code", "a"), ("code", "b")])
    async with mcp_client() as client:
        first = await invoke(
            client,
            "insert_cell",
            notebook_path="ins.ipynb",
            cell_index=0,
            cell_type="markdown",
            source="# top",
        )
        assert (first["cell_index"], first["cell_count"]) == (0, 3)
        middle = await invoke(
            client,
            "insert_cell",
            notebook_path="ins.ipynb",
            cell_index=2,
            cell_type="raw",
            source="raw!",
        )
        assert middle["cell_index"] == 2
        last = await invoke(
            client, "insert_cell", notebook_path="ins.ipynb", cell_index=-1, source="end"
        )
        assert (last["cell_index"], last["cell_count"]) == (4, 5)
        at_count = await invoke(
            client, "insert_cell", notebook_path="ins.ipynb", cell_index=5
        )  # = append
        assert (at_count["cell_index"], at_count["cell_count"]) == (5, 6)

        cells = (await invoke(client, "read_all_cells", notebook_path="ins.ipynb"))["cells"]
        expected = [
            ("markdown", "# top"),
            ("code", "a"),
            ("raw", "raw!"),
            ("code", "b"),
            ("code", "end"),
            ("code", ""),
        ]
        assert [(c["cell_type"], c["source"]) for c in cells] == expected
        assert cells[2]["cell_id"] == middle["cell_id"]

    on_disk = await wait_for_disk(jp_root_dir, "ins.ipynb", lambda nb: len(nb["cells"]) == 6)
    assert disk_sources(on_disk) == expected


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_overwrite_and_edit_cell_source(mcp_client, jp_root_dir, mode):
    stream = nbformat.v4.new_output("stream", text="3\n")
    write_notebook(
        jp_root_dir,
        "src.ipynb",
        [
            nbformat.v4.new_code_cell(
                "x = 1\ny = 2\nprint(x + y)", execution_count=1, outputs=[stream]
            ),
            nbformat.v4.new_markdown_cell("# Title\nold words, old ideas"),
        ],
    )
    async with mcp_client(mode) as client:
        assert (client.protocol_version >= "2026") == (mode == "auto")
        code_id = (await invoke(client, "read_cell", notebook_path="src.ipynb", cell_index=0))[
            "cell"
        ]["cell_id"]

        changed = await invoke(
            client,
            "overwrite_cell_source",
            notebook_path="src.ipynb",
            cell_index=0,
            source="x = 10\ny = 2\nprint(x + y)",
        )
        assert changed.pop("revision")  # the notebook's revision after the edit
        assert changed == {
            "notebook_path": "src.ipynb",
            "cell_index": 0,
            "cell_id": code_id,
            "cell_count": 2,
            "chars_removed": 0,
            "chars_inserted": 1,
        }  # a minimal edit: one '0' typed
        cell = (await invoke(client, "read_cell", notebook_path="src.ipynb", cell_id=code_id))[
            "cell"
        ]
        assert cell["source"] == "x = 10\ny = 2\nprint(x + y)"
        assert (cell["execution_count"], cell["outputs"]) == (
            1,
            [{"output_type": "stream", "text": "3\n", "omitted": []}],
        )  # outputs left alone
        same = await invoke(
            client,
            "overwrite_cell_source",
            notebook_path="src.ipynb",
            cell_id=code_id,
            source="x = 10\ny = 2\nprint(x + y)",
        )
        assert (same["chars_removed"], same["chars_inserted"]) == (0, 0)  # idempotent

        edited = await invoke(
            client,
            "edit_cell_source",
            notebook_path="src.ipynb",
            cell_index=-1,
            old_text="# Title",
            new_text="# Better title",
        )
        assert (edited["cell_index"], edited["replacements"]) == (1, 1)
        # Only the differing characters change: "T" becomes "Better t".
        assert (edited["chars_removed"], edited["chars_inserted"]) == (1, 8)
        everywhere = await invoke(
            client,
            "edit_cell_source",
            notebook_path="src.ipynb",
            cell_index=1,
            old_text="old",
            new_text="new",
            replace_all=True,
        )
        assert everywhere["replacements"] == 2
        by_id = await invoke(
            client,
            "edit_cell_source",
            notebook_path="src.ipynb",
            cell_id=code_id,
            old_text="print(x + y)",
            new_text="print(x * y)",
        )
        assert by_id["cell_index"] == 0
        assert "Replaced 1 occurrence(s) in cell 0" in await invoke_text(
            client,
            "edit_cell_source",
            notebook_path="src.ipynb",
            cell_index=0,
            old_text="y = 2",
            new_text="y = 3",
        )

        cells = (await invoke(client, "read_all_cells", notebook_path="src.ipynb"))["cells"]
        assert [c["source"] for c in cells] == [
            "x = 10\ny = 3\nprint(x * y)",
            "# Better title\nnew words, new ideas",
        ]

    on_disk = await wait_for_disk(
        jp_root_dir,
        "src.ipynb",
        lambda nb: (
            "".join(nb["cells"][0]["source"]).endswith("print(x * y)")
            and "new ideas" in "".join(nb["cells"][1]["source"])
        ),
    )
    assert disk_sources(on_disk) == [
        ("code", "x = 10\ny = 3\nprint(x * y)"),
        ("markdown", "# Better title\nnew words, new ideas"),
    ]
    assert "".join(on_disk["cells"][0]["outputs"][0]["text"]) == "3\n"


async def test_delete_one_or_several_cells(mcp_client, make_notebook, jp_root_dir):
    make_notebook(
        "del.ipynb", [("code", f"c{i}") if i % 2 else ("markdown", f"m{i}") for i in range(7)]
    )
    ids = [cell["id"] for cell in read_disk(jp_root_dir, "del.ipynb")["cells"]]
    async with mcp_client() as client:
        one = await invoke(client, "delete_cell", notebook_path="del.ipynb", cell_index=1)
        assert one["deleted"] == [{"index": 1, "cell_id": ids[1], "cell_type": "code"}]
        assert one["cell_count"] == 6
        last = await invoke(client, "delete_cell", notebook_path="del.ipynb", cell_index=-1)
        assert last["deleted"] == [{"index": 5, "cell_id": ids[6], "cell_type": "markdown"}]
        # Several indexes at once refer to the cells as they were before the deletion.
        several = await invoke(client, "delete_cell", notebook_path="del.ipynb", cell_index=[0, 3])
        assert several["deleted"] == [
            {"index": 0, "cell_id": ids[0], "cell_type": "markdown"},
            {"index": 3, "cell_id": ids[4], "cell_type": "markdown"},
        ]
        assert several["cell_count"] == 3
        text = await invoke_text(client, "delete_cell", notebook_path="del.ipynb", cell_id=ids[5])
        assert f"(id {ids[5]})" in text and "2 cells" in text
        remaining = (await invoke(client, "read_all_cells", notebook_path="del.ipynb"))["cells"]
        assert [(c["cell_id"], c["source"]) for c in remaining] == [(ids[2], "m2"), (ids[3], "c3")]
        by_ids = await invoke(
            client, "delete_cell", notebook_path="del.ipynb", cell_id=[ids[3], ids[2]]
        )
        assert [d["cell_id"] for d in by_ids["deleted"]] == [ids[3], ids[2]]
        assert by_ids["cell_count"] == 0
        assert (await invoke(client, "get_notebook_info", notebook_path="del.ipynb"))[
            "cell_count"
        ] == 0

    await wait_for_disk(jp_root_dir, "del.ipynb", lambda nb: nb["cells"] == [])


async def test_move_cell_keeps_id_source_and_outputs(mcp_client, jp_root_dir):
    write_notebook(
        jp_root_dir,
        "mv.ipynb",
        [
            nbformat.v4.new_code_cell(
                "print('a')",
                execution_count=4,
                outputs=[nbformat.v4.new_output("stream", text="a\n")],
            ),
            nbformat.v4.new_markdown_cell("b"),
            nbformat.v4.new_markdown_cell("c"),
        ],
    )
    ids = [cell["id"] for cell in read_disk(jp_root_dir, "mv.ipynb")["cells"]]
    async with mcp_client() as client:
        moved = await invoke(
            client, "move_cell", notebook_path="mv.ipynb", cell_index=0, to_index=-1
        )
        assert moved.pop("revision")
        assert moved == {
            "notebook_path": "mv.ipynb",
            "cell_index": 2,
            "cell_id": ids[0],
            "cell_count": 3,
            "from_index": 0,
        }
        cells = (await invoke(client, "read_all_cells", notebook_path="mv.ipynb"))["cells"]
        assert [c["cell_id"] for c in cells] == [ids[1], ids[2], ids[0]]
        assert cells[2]["source"] == "print('a')" and cells[2]["execution_count"] == 4
        assert cells[2]["outputs"] == [{"output_type": "stream", "text": "a\n", "omitted": []}]

        back = await invoke(
            client, "move_cell", notebook_path="mv.ipynb", cell_id=ids[0], to_index=1
        )
        assert (back["from_index"], back["cell_index"]) == (2, 1)
        still = await invoke(
            client, "move_cell", notebook_path="mv.ipynb", cell_id=ids[1], to_index=0
        )
        assert (still["from_index"], still["cell_index"]) == (0, 0)  # already there: nothing moves
        text = await invoke_text(
            client, "move_cell", notebook_path="mv.ipynb", cell_index=-1, to_index=0
        )
        assert f"Moved cell {ids[2]}" in text and "from index 2 to 0" in text

    on_disk = await wait_for_disk(
        jp_root_dir,
        "mv.ipynb",
        lambda nb: [c["id"] for c in nb["cells"]] == [ids[2], ids[1], ids[0]],
    )
    assert "".join(on_disk["cells"][2]["outputs"][0]["text"]) == "a\n"
    assert on_disk["cells"][2]["execution_count"] == 4


async def test_clear_cell_output_one_cell_or_all(mcp_client, jp_root_dir):
    def run(source, n):
        return nbformat.v4.new_code_cell(
            source,
            execution_count=n,
            outputs=[
                nbformat.v4.new_output("stream", text=f"{source}\n"),
                nbformat.v4.new_output(
                    "execute_result", data={"text/plain": str(n)}, execution_count=n
                ),
            ],
        )

    write_notebook(
        jp_root_dir,
        "clr.ipynb",
        [run("a", 1), nbformat.v4.new_markdown_cell("text"), run("b", 2), run("c", 3)],
    )
    ids = [cell["id"] for cell in read_disk(jp_root_dir, "clr.ipynb")["cells"]]
    async with mcp_client() as client:
        one = await invoke(client, "clear_cell_output", notebook_path="clr.ipynb", cell_index=0)
        assert one["cleared"] == [{"index": 0, "cell_id": ids[0], "outputs_removed": 2}]
        cell = (await invoke(client, "read_cell", notebook_path="clr.ipynb", cell_index=0))["cell"]
        assert (cell["source"], cell["execution_count"], cell["output_count"], cell["outputs"]) == (
            "a",
            None,
            0,
            [],
        )
        by_id = await invoke(client, "clear_cell_output", notebook_path="clr.ipynb", cell_id=ids[2])
        assert by_id["cleared"] == [{"index": 2, "cell_id": ids[2], "outputs_removed": 2}]

        everything = await invoke(
            client, "clear_cell_output", notebook_path="clr.ipynb", all_cells=True
        )
        removed = {c["cell_id"]: c["outputs_removed"] for c in everything["cleared"]}
        assert removed[ids[3]] == 2 and removed[ids[0]] == removed[ids[2]] == 0
        assert sum(removed.values()) == 2
        again = await invoke_text(
            client, "clear_cell_output", notebook_path="clr.ipynb", cell_index=3
        )
        assert "Cleared 0 output(s) in 1 cell(s) of clr.ipynb" in again  # idempotent
        cells = (await invoke(client, "read_all_cells", notebook_path="clr.ipynb"))["cells"]
        assert [c["source"] for c in cells] == ["a", "text", "b", "c"]  # sources untouched
        assert all(
            c["outputs"] == [] and c["execution_count"] is None
            for c in cells
            if c["cell_type"] == "code"
        )

    on_disk = await wait_for_disk(
        jp_root_dir, "clr.ipynb", lambda nb: all(c.get("outputs", []) == [] for c in nb["cells"])
    )
    assert [c.get("execution_count") for c in on_disk["cells"]] == [None, None, None, None]
    assert disk_sources(on_disk) == [
        ("code", "a"),
        ("markdown", "text"),
        ("code", "b"),
        ("code", "c"),
    ]


# -- defects ---------------------------------------------------------------------------------


async def test_overwrite_cell_source_after_non_ascii_text(mcp_client, make_notebook, jp_root_dir):
    make_notebook("u.ipynb", [("code", "é = 1\nx = 2")])
    async with mcp_client() as client:
        await invoke(
            client,
            "overwrite_cell_source",
            notebook_path="u.ipynb",
            cell_index=0,
            source="é = 1\nx = 3",
        )
        cell = (await invoke(client, "read_cell", notebook_path="u.ipynb", cell_index=0))["cell"]
        assert cell["source"] == "é = 1\nx = 3"  # today: 'é = 1\nx =32'


async def test_edit_cell_source_after_non_ascii_text(mcp_client, make_notebook, jp_root_dir):
    make_notebook("u.ipynb", [("markdown", "é hi")])
    async with mcp_client() as client:
        await invoke(
            client,
            "edit_cell_source",
            notebook_path="u.ipynb",
            cell_index=0,
            old_text="hi",
            new_text="yo",
        )
        cell = (await invoke(client, "read_cell", notebook_path="u.ipynb", cell_index=0))["cell"]
        assert cell["source"] == "é yo"  # today: 'éyoi'


async def test_edit_after_an_emoji_is_answered(mcp_client, make_notebook):
    # The offset falls inside the emoji's UTF-8 bytes: pycrdt panics (a BaseException the server's
    # `except Exception` does not catch) and the tools/call request is never answered.
    make_notebook("u.ipynb", [("markdown", "😀 hi")])
    async with mcp_client() as client:
        result = await client.call_tool(
            "edit_cell_source",
            {"notebook_path": "u.ipynb", "cell_index": 0, "old_text": "hi", "new_text": "bye"},
            read_timeout_seconds=2,
        )
        assert not result.is_error, result.content[0].text
        cell = (await invoke(client, "read_cell", notebook_path="u.ipynb", cell_index=0))["cell"]
        assert cell["source"] == "😀 bye"


async def test_move_cell_negative_to_index_is_consistent(mcp_client, make_notebook):
    make_notebook("m.ipynb", [("code", "a"), ("code", "b"), ("code", "c")])
    async with mcp_client() as client:
        result = await client.call_tool(
            "move_cell", {"notebook_path": "m.ipynb", "cell_index": 0, "to_index": -2}
        )
        if result.is_error:  # refusing is fine, as long as the message does not call -2 valid
            assert "-3..-1" not in result.content[0].text, result.content[0].text
        else:
            assert result.structured_content["cell_index"] == 1


async def test_clear_all_outputs_reports_code_cells_only(mcp_client, make_notebook):
    make_notebook("c.ipynb", [("code", "a"), ("markdown", "b"), ("raw", "c")])
    async with mcp_client() as client:
        result = await invoke(client, "clear_cell_output", notebook_path="c.ipynb", all_cells=True)
        assert [c["index"] for c in result["cleared"]] == [0]
        assert "in 1 cell(s)" in await invoke_text(
            client, "clear_cell_output", notebook_path="c.ipynb", all_cells=True
        )


async def test_edits_are_refused_without_changing_anything(mcp_client, make_notebook, jp_root_dir):
    """Failed edits (see test_tools_errors for the messages) leave the live notebook as it was."""
    make_notebook("keep.ipynb", [("code", "a = 1\na = 1"), ("markdown", "m")])
    async with mcp_client() as client:
        before = (await invoke(client, "read_all_cells", notebook_path="keep.ipynb"))["cells"]
        await call_error(
            client,
            "edit_cell_source",
            notebook_path="keep.ipynb",
            cell_index=0,
            old_text="a = 1",
            new_text="b",
        )
        await call_error(
            client,
            "edit_cell_source",
            notebook_path="keep.ipynb",
            cell_index=0,
            old_text="zzz",
            new_text="b",
        )
        await call_error(client, "delete_cell", notebook_path="keep.ipynb", cell_index=[0, 2])
        await call_error(client, "move_cell", notebook_path="keep.ipynb", cell_index=0, to_index=5)
        await call_error(
            client, "insert_cell", notebook_path="keep.ipynb", cell_index=3, source="x"
        )
        await call_error(
            client, "overwrite_cell_source", notebook_path="keep.ipynb", cell_index=2, source="x"
        )
        after = (await invoke(client, "read_all_cells", notebook_path="keep.ipynb"))["cells"]
        assert after == before
