"""The tool list, and the tools that find, choose and read notebooks, through the real SDK client."""

from __future__ import annotations

import os
from urllib.parse import quote

import jsonschema
import nbformat
import pytest
from conftest import call_error
from support import KERNELSPEC, read_disk, write_notebook
from tool_helpers import (
    ALL_TOOLS,
    DESTRUCTIVE_TOOLS,
    NON_NOTEBOOK_TOOLS,
    READ_ONLY_TOOLS,
    cookieless_client,
    invoke,
    invoke_text,
    wait_for_disk,
)

BASE_URL = "/a%40b/"  # pytest-jupyter's jp_base_url


# -- tools/list ------------------------------------------------------------------------------


async def test_tools_list_describes_every_tool(mcp_client):
    async with mcp_client() as client:
        listing = await client.list_tools()
    tools = {tool.name: tool for tool in listing.tools}
    assert set(tools) == ALL_TOOLS
    assert len(listing.tools) == 25

    for name, tool in tools.items():
        assert tool.description and len(tool.description) > 40, name
        assert "\n" not in tool.description  # the docstring, joined into one paragraph
        assert tool.title, name
        schema = tool.input_schema
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["type"] == "object"
        assert schema["additionalProperties"] is False, (
            f"{name} would silently ignore misspelt arguments"
        )
        for prop, spec in schema["properties"].items():
            assert "type" in spec or "anyOf" in spec, f"{name}.{prop} has no type"
            assert spec.get("description"), f"{name}.{prop} has no description"
            if prop not in schema.get("required", []):
                assert "default" in spec, f"optional {name}.{prop} has no default"
        # Every tool that acts on one notebook takes an optional (or, to create one, required) notebook_path.
        if name not in NON_NOTEBOOK_TOOLS:
            assert "notebook_path" in schema["properties"], name
        out = tool.output_schema
        assert out is not None and out["type"] == "object", name
        jsonschema.Draft202012Validator.check_schema(out)
        if name not in NON_NOTEBOOK_TOOLS:
            assert "notebook_path" in out["required"], (
                f"{name}'s result does not always name its notebook"
            )
        annotations = tool.annotations
        assert annotations.read_only_hint is (name in READ_ONLY_TOOLS), name
        assert annotations.destructive_hint is (name in DESTRUCTIVE_TOOLS), name
        assert annotations.open_world_hint is False, name
    assert {n for n, t in tools.items() if t.annotations.idempotent_hint} == {
        "prepare_notebook",
        "overwrite_cell_source",
        "clear_cell_output",
        "interrupt_kernel",
    }

    # Types, defaults and bounds a client shows or validates before calling.
    props = tools["read_notebook"].input_schema["properties"]
    assert props["offset"] == {**props["offset"], "type": "integer", "default": 0, "minimum": 0}
    assert props["limit"] == {
        **props["limit"],
        "type": "integer",
        "default": 20,
        "minimum": 1,
        "maximum": 500,
    }
    assert (
        props["detail"]["enum"] == ["brief", "detailed"] and props["detail"]["default"] == "brief"
    )
    props = tools["list_files"].input_schema["properties"]
    assert (
        props["max_depth"]["default"],
        props["max_depth"]["minimum"],
        props["max_depth"]["maximum"],
    ) == (1, 1, 10)
    assert (props["limit"]["default"], props["limit"]["minimum"], props["limit"]["maximum"]) == (
        200,
        1,
        2000,
    )
    props = tools["list_notebooks"].input_schema["properties"]
    assert (props["limit"]["default"], props["limit"]["minimum"], props["limit"]["maximum"]) == (
        100,
        1,
        1000,
    )
    props = tools["insert_cell"].input_schema["properties"]
    assert (
        props["cell_type"]["enum"] == ["code", "markdown", "raw"]
        and props["cell_type"]["default"] == "code"
    )
    assert tools["insert_cell"].input_schema["required"] == ["cell_index"]
    assert sorted(tools["edit_cell_source"].input_schema["required"]) == ["new_text", "old_text"]
    assert tools["edit_cell_source"].input_schema["properties"]["replace_all"]["default"] is False
    assert tools["create_notebook"].input_schema["required"] == ["notebook_path"]
    assert tools["prepare_notebook"].input_schema["properties"]["create"]["default"] is False
    assert tools["read_cell"].input_schema["properties"]["include_outputs"]["default"] is True
    assert tools["move_cell"].input_schema["required"] == ["to_index"]
    assert "required" not in tools["read_all_cells"].input_schema  # notebook_path may be omitted
    delete_index = tools["delete_cell"].input_schema["properties"]["cell_index"]["anyOf"]
    assert {"type": "integer"} in delete_index and {
        "type": "array",
        "items": {"type": "integer"},
    } in delete_index


# -- finding notebooks and files ---------------------------------------------------------------


async def test_list_notebooks_recursive_sorted_paged(
    mcp_client, make_notebook, jp_root_dir, tmp_path
):
    for path in [
        "b.ipynb",
        "a.ipynb",
        "sub/c.ipynb",
        "sub/deeper/d.ipynb",
        ".hidden.ipynb",
        ".hdir/e.ipynb",
    ]:
        make_notebook(path)
    (jp_root_dir / "notes.txt").write_text("not a notebook")
    outside = tmp_path / "outside"
    write_notebook(outside, "secret.ipynb")
    os.symlink(outside, jp_root_dir / "escape")

    async with mcp_client() as client:
        everything = await invoke(client, "list_notebooks")
        assert [e["path"] for e in everything["notebooks"]] == [
            "a.ipynb",
            "b.ipynb",
            "sub/c.ipynb",
            "sub/deeper/d.ipynb",
        ]  # sorted by path; no .txt, no hidden files, nothing through the symlink leaving the root
        assert (everything["total"], everything["offset"], everything["next_offset"]) == (
            4,
            0,
            None,
        )
        assert everything["current_notebook"] is None
        assert not any(
            e["current"] or e["live"] or e["browser_connections"] for e in everything["notebooks"]
        )
        assert all(e["last_modified"] for e in everything["notebooks"])

        page1 = await invoke(client, "list_notebooks", limit=3)
        assert [e["path"] for e in page1["notebooks"]] == ["a.ipynb", "b.ipynb", "sub/c.ipynb"]
        assert (page1["total"], page1["next_offset"]) == (4, 3)
        page2 = await invoke(client, "list_notebooks", limit=3, offset=page1["next_offset"])
        assert [e["path"] for e in page2["notebooks"]] == ["sub/deeper/d.ipynb"]
        assert page2["next_offset"] is None
        text = await invoke_text(client, "list_notebooks", limit=3)
        assert "offset=3" in text and "sub/c.ipynb" in text

        sub = await invoke(client, "list_notebooks", path="sub")
        assert [e["path"] for e in sub["notebooks"]] == ["sub/c.ipynb", "sub/deeper/d.ipynb"]

        # Reading a notebook opens it live in the server.
        await invoke(client, "read_all_cells", notebook_path="b.ipynb")
        live = {e["path"]: e["live"] for e in (await invoke(client, "list_notebooks"))["notebooks"]}
        assert live == {
            "a.ipynb": False,
            "b.ipynb": True,
            "sub/c.ipynb": False,
            "sub/deeper/d.ipynb": False,
        }


async def test_list_files_depth_pattern_and_paging(
    mcp_client, make_notebook, jp_root_dir, tmp_path
):
    make_notebook("nb.ipynb")
    make_notebook("data/deep/inner.ipynb")
    (jp_root_dir / "data" / "table.csv").write_text("a,b\n1,2\n")
    (jp_root_dir / "readme.md").write_text("# hi")
    (jp_root_dir / ".secret").write_text("x")
    (tmp_path / "outside").mkdir()
    os.symlink(tmp_path / "outside", jp_root_dir / "escape")

    async with mcp_client() as client:
        top = await invoke(client, "list_files")
        assert top["path"] == ""
        # Folders first, then files, each sorted by name; hidden files and escaping symlinks left out.
        assert [(f["path"], f["type"]) for f in top["files"]] == [
            ("data", "directory"),
            ("nb.ipynb", "notebook"),
            ("readme.md", "file"),
        ]
        assert top["files"][2]["size"] == 4
        assert (top["total"], top["next_offset"]) == (3, None)

        deep = await invoke(client, "list_files", max_depth=3)
        assert {f["path"] for f in deep["files"]} == {
            "data",
            "nb.ipynb",
            "readme.md",
            "data/deep",
            "data/table.csv",
            "data/deep/inner.ipynb",
        }
        csv = await invoke(client, "list_files", max_depth=3, pattern="*.csv")
        assert [f["path"] for f in csv["files"]] == ["data/table.csv"]
        assert csv["files"][0]["size"] == len("a,b\n1,2\n")
        notebooks = await invoke(client, "list_files", path="data/", max_depth=2, pattern="*.ipynb")
        assert notebooks["path"] == "data"
        assert [f["path"] for f in notebooks["files"]] == ["data/deep/inner.ipynb"]

        page = await invoke(client, "list_files", max_depth=3, limit=4, offset=2)
        assert [f["path"] for f in page["files"]] == [f["path"] for f in deep["files"]][2:6]
        assert (page["total"], page["offset"], page["next_offset"]) == (6, 2, None)
        first = await invoke(client, "list_files", max_depth=3, limit=4)
        assert first["next_offset"] == 4
        assert "offset=4" in await invoke_text(client, "list_files", max_depth=3, limit=4)


# -- the current notebook ----------------------------------------------------------------------


async def test_current_notebook_is_chosen_with_prepare_notebook(
    mcp_client, make_notebook, jp_root_dir
):
    make_notebook("one.ipynb", [("code", "print('one')")])
    make_notebook("dir/two.ipynb", [("markdown", "# two")])

    async with mcp_client("legacy") as client:
        # No notebook_path and no current notebook: the error says what to do.
        for name, args in [
            ("read_all_cells", {}),
            ("get_notebook_info", {}),
            ("append_code_cell", {"source": "x"}),
            ("read_cell", {"cell_index": 0}),
            ("delete_cell", {"cell_index": 0}),
        ]:
            message = await call_error(client, name, **args)
            assert "notebook_path" in message and "prepare_notebook" in message, (name, message)
        assert (await invoke(client, "list_notebooks"))["current_notebook"] is None

        prepared = await invoke(client, "prepare_notebook", notebook_path="one.ipynb")
        assert prepared == {
            "notebook_path": "one.ipynb",
            "url": f"{BASE_URL}lab/tree/one.ipynb",
            "created": False,
        }

        # Path-less calls now act on it, and every result says so.
        cells = await invoke(client, "read_all_cells", expect_path="one.ipynb")
        assert [c["source"] for c in cells["cells"]] == ["print('one')"]
        appended = await invoke(
            client, "append_markdown_cell", source="added", expect_path="one.ipynb"
        )
        assert appended["cell_index"] == 1
        info = await invoke(client, "get_notebook_info", expect_path="one.ipynb")
        assert info["cell_count"] == 2
        cell = await invoke(client, "read_cell", cell_index=-1, expect_path="one.ipynb")
        assert cell["cell"]["source"] == "added"
        # An explicit notebook_path still wins, and does not change the current notebook.
        other = await invoke(client, "read_all_cells", notebook_path="dir/two.ipynb")
        assert [c["source"] for c in other["cells"]] == ["# two"]

        listed = await invoke(client, "list_notebooks")
        assert listed["current_notebook"] == "one.ipynb"
        assert {e["path"]: e["current"] for e in listed["notebooks"]} == {
            "dir/two.ipynb": False,
            "one.ipynb": True,
        }
        assert "one.ipynb (current)" in await invoke_text(client, "list_notebooks")

        # Choosing another notebook moves the current one (the path is normalised).
        await invoke(
            client,
            "prepare_notebook",
            notebook_path="./dir//two.ipynb",
            expect_path="dir/two.ipynb",
        )
        assert (await invoke(client, "list_notebooks"))["current_notebook"] == "dir/two.ipynb"
        await invoke(
            client,
            "overwrite_cell_source",
            cell_index=0,
            source="# TWO",
            expect_path="dir/two.ipynb",
        )
        await wait_for_disk(
            jp_root_dir, "dir/two.ipynb", lambda nb: "".join(nb["cells"][0]["source"]) == "# TWO"
        )
        await wait_for_disk(jp_root_dir, "one.ipynb", lambda nb: len(nb["cells"]) == 2)

        # A notebook that cannot be chosen leaves the current one as it was.
        assert "does not exist" in await call_error(
            client, "prepare_notebook", notebook_path="nope.ipynb"
        )
        assert (await invoke(client, "list_notebooks"))["current_notebook"] == "dir/two.ipynb"

        # The current notebook disappearing on disk is reported, not silently replaced.
        await invoke(client, "prepare_notebook", notebook_path="one.ipynb")
        (jp_root_dir / "one.ipynb").unlink()
        message = await call_error(client, "read_all_cells")
        assert "'one.ipynb' does not exist" in message


async def test_current_notebook_is_shared_by_connections_with_the_same_token(
    mcp_client, make_notebook
):
    make_notebook("one.ipynb", [("code", "print('one')")])
    async with mcp_client("legacy") as client:
        await invoke(client, "prepare_notebook", notebook_path="one.ipynb")
    # The same user (the one token) connects again, e.g. after the agent restarted.
    async with mcp_client("auto") as client:
        listed = await invoke(client, "list_notebooks")
        assert listed["current_notebook"] == "one.ipynb"
        cells = await invoke(client, "read_all_cells", expect_path="one.ipynb")
        assert [c["source"] for c in cells["cells"]] == ["print('one')"]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_current_notebook_with_a_client_that_keeps_no_cookies(
    mcp_url, token, make_notebook, mode
):
    make_notebook("one.ipynb", [("code", "print('one')")])
    async with cookieless_client(mcp_url, token, mode) as client:
        await invoke(client, "prepare_notebook", notebook_path="one.ipynb")
        cells = await invoke(client, "read_all_cells", expect_path="one.ipynb")
        assert [c["source"] for c in cells["cells"]] == ["print('one')"]


async def test_prepare_notebook_can_create_the_notebook(mcp_client, make_notebook, jp_root_dir):
    path = "new folder/sub/Résumé 1.ipynb"
    async with mcp_client() as client:
        message = await call_error(client, "prepare_notebook", notebook_path=path)
        assert "does not exist" in message
        assert not (jp_root_dir / "new folder").exists()

        created = await invoke(client, "prepare_notebook", notebook_path=path, create=True)
        assert created["created"] is True
        assert created["url"] == f"{BASE_URL}lab/tree/new%20folder/sub/R%C3%A9sum%C3%A9%201.ipynb"
        assert created["url"] == BASE_URL + "lab/tree/" + quote(path)
        on_disk = read_disk(jp_root_dir, path)  # parent folders were created
        assert on_disk["metadata"]["kernelspec"] == KERNELSPEC
        assert on_disk["nbformat"] == 4 and on_disk["cells"] == []
        assert (await invoke(client, "list_notebooks"))["current_notebook"] == path

        # It is now current: a path-less append goes into it and reaches the file.
        appended = await invoke(client, "append_code_cell", source="1 + 1", expect_path=path)
        assert appended["cell_count"] == appended["cell_index"] + 1
        await wait_for_disk(
            jp_root_dir, path, lambda nb: "".join(nb["cells"][-1]["source"]) == "1 + 1"
        )

        # create=true on an existing notebook selects it and leaves its content alone.
        make_notebook("existing.ipynb", [("code", "keep me")])
        again = await invoke(
            client, "prepare_notebook", notebook_path="existing.ipynb", create=True
        )
        assert again == {
            "notebook_path": "existing.ipynb",
            "url": f"{BASE_URL}lab/tree/existing.ipynb",
            "created": False,
        }
        assert "".join(read_disk(jp_root_dir, "existing.ipynb")["cells"][0]["source"]) == "keep me"

        # An unknown kernel is refused before anything is created, listing the kernels there are.
        message = await call_error(
            client,
            "prepare_notebook",
            notebook_path="k/other.ipynb",
            create=True,
            kernel_name="no-such-kernel",
        )
        assert "No kernel named 'no-such-kernel'" in message and "python3" in message
        assert not (jp_root_dir / "k").exists()
        assert (await invoke(client, "list_notebooks"))["current_notebook"] == "existing.ipynb"


async def test_create_notebook_writes_kernelspec_and_never_overwrites(
    mcp_client, make_notebook, jp_root_dir
):
    async with mcp_client() as client:
        created = await invoke(client, "create_notebook", notebook_path="a/b/c/new.ipynb")
        assert created["kernelspec"] == KERNELSPEC
        assert created["url"] == f"{BASE_URL}lab/tree/a/b/c/new.ipynb"
        on_disk = read_disk(jp_root_dir, "a/b/c/new.ipynb")
        assert on_disk["metadata"]["kernelspec"] == KERNELSPEC
        assert on_disk["metadata"]["language_info"] == {"name": "python"}
        assert on_disk["cells"] == []
        # create_notebook does not change the current notebook.
        assert (await invoke(client, "list_notebooks"))["current_notebook"] is None

        info = await invoke(client, "get_notebook_info", notebook_path="a/b/c/new.ipynb")
        assert info["kernelspec"] == KERNELSPEC

        explicit = await invoke(
            client, "create_notebook", notebook_path="k.ipynb", kernel_name="python3"
        )
        assert explicit["kernelspec"]["name"] == "python3"

        make_notebook("taken.ipynb", [("code", "precious")])
        before = (jp_root_dir / "taken.ipynb").read_text()
        message = await call_error(client, "create_notebook", notebook_path="taken.ipynb")
        assert "'taken.ipynb' already exists" in message and "not overwritten" in message
        assert (jp_root_dir / "taken.ipynb").read_text() == before
        (jp_root_dir / "data.txt").write_text("text")
        message = await call_error(client, "create_notebook", notebook_path="data.txt")
        assert "must end in '.ipynb'" in message
        assert (jp_root_dir / "data.txt").read_text() == "text"

        message = await call_error(
            client, "create_notebook", notebook_path="x/y.ipynb", kernel_name="nope"
        )
        assert message.startswith("No kernel named 'nope'. Available kernels: ")
        assert "python3" in message.split("Available kernels: ")[1]
        assert not (jp_root_dir / "x").exists()


# -- reading ---------------------------------------------------------------------------------


async def test_get_notebook_info_counts_and_liveness(mcp_client, make_notebook, jp_root_dir):
    make_notebook("info.ipynb", [("code", "a"), ("markdown", "b"), ("code", "c"), ("raw", "d")])
    size = (jp_root_dir / "info.ipynb").stat().st_size
    async with mcp_client() as client:
        first = await invoke(client, "get_notebook_info", notebook_path="info.ipynb")
        assert first["cell_count"] == 4
        assert first["cells_by_type"] == {"code": 2, "markdown": 1, "raw": 1}
        assert first["kernelspec"] == KERNELSPEC
        assert first["url"] == f"{BASE_URL}lab/tree/info.ipynb"
        assert first["size_bytes"] == size
        assert first["last_modified"]
        assert (first["live"], first["browser_connections"]) == (False, 0)
        text = await invoke_text(client, "get_notebook_info", notebook_path="info.ipynb")
        assert "4 cells (2 code, 1 markdown, 1 raw)" in text and "kernel python3" in text
        second = await invoke(client, "get_notebook_info", notebook_path="info.ipynb")
        assert second["live"] is True  # opened by the first call, kept open for a while

        await invoke(client, "append_markdown_cell", notebook_path="info.ipynb", source="more")
        after = await invoke(client, "get_notebook_info", notebook_path="info.ipynb")
        assert after["cell_count"] == 5 and after["cells_by_type"]["markdown"] == 2


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_read_all_cells_and_read_cell(mcp_client, jp_root_dir, mode):
    cells = [
        nbformat.v4.new_markdown_cell("# Title\ntext"),
        nbformat.v4.new_code_cell(
            "x = 41\nx + 1",
            execution_count=7,
            outputs=[
                nbformat.v4.new_output(
                    "execute_result", data={"text/plain": "42"}, execution_count=7
                )
            ],
        ),
        nbformat.v4.new_raw_cell("raw stuff"),
        nbformat.v4.new_code_cell("pass"),
    ]
    write_notebook(jp_root_dir, "r.ipynb", cells)
    ids = [cell["id"] for cell in read_disk(jp_root_dir, "r.ipynb")["cells"]]

    async with mcp_client(mode) as client:
        assert (client.protocol_version >= "2026") == (mode == "auto")
        everything = await invoke(client, "read_all_cells", notebook_path="r.ipynb")
        assert everything["cell_count"] == 4
        assert everything["cells"] == [
            {"index": 0, "cell_id": ids[0], "cell_type": "markdown", "source": "# Title\ntext"},
            {
                "index": 1,
                "cell_id": ids[1],
                "cell_type": "code",
                "source": "x = 41\nx + 1",
                "execution_count": 7,
                "output_count": 1,
                "outputs": [{"output_type": "execute_result", "text": "42", "omitted": []}],
            },
            {"index": 2, "cell_id": ids[2], "cell_type": "raw", "source": "raw stuff"},
            {
                "index": 3,
                "cell_id": ids[3],
                "cell_type": "code",
                "source": "pass",
                "execution_count": None,
                "output_count": 0,
                "outputs": [],
            },
        ]
        text = await invoke_text(client, "read_all_cells", notebook_path="r.ipynb")
        assert f"--- cell 1 [code] id={ids[1]} execution_count=7" in text
        assert "x = 41\nx + 1" in text and ">>> execute_result:\n42" in text

        by_index = await invoke(client, "read_cell", notebook_path="r.ipynb", cell_index=1)
        assert by_index["cell"] == everything["cells"][1]
        by_negative = await invoke(client, "read_cell", notebook_path="r.ipynb", cell_index=-4)
        assert by_negative["cell"] == everything["cells"][0]
        by_id = await invoke(client, "read_cell", notebook_path="r.ipynb", cell_id=ids[2])
        assert by_id["cell"] == everything["cells"][2]
        no_outputs = await invoke(
            client, "read_cell", notebook_path="r.ipynb", cell_index=1, include_outputs=False
        )
        assert no_outputs["cell"]["output_count"] == 1
        assert no_outputs["cell"].get("outputs") is None
        text = await invoke_text(
            client, "read_cell", notebook_path="r.ipynb", cell_index=1, include_outputs=False
        )
        assert "(1 outputs not shown)" in text and ">>> execute_result" not in text


async def test_read_notebook_pages_brief_and_detailed(mcp_client, jp_root_dir):
    cells = [nbformat.v4.new_markdown_cell(f"# Part {i}\nbody {i}") for i in range(4)]
    cells.append(
        nbformat.v4.new_code_cell(
            "print('hi')\nprint('there')",
            outputs=[nbformat.v4.new_output("stream", text="hi\nthere\n")],
        )
    )
    write_notebook(jp_root_dir, "p.ipynb", cells)

    async with mcp_client() as client:
        page = await invoke(client, "read_notebook", notebook_path="p.ipynb", limit=2)
        assert (page["cell_count"], page["offset"], page["next_offset"]) == (5, 0, 2)
        assert [(c["index"], c["source"]) for c in page["cells"]] == [
            (0, "# Part 0 …"),
            (1, "# Part 1 …"),
        ]
        text = await invoke_text(client, "read_notebook", notebook_path="p.ipynb", limit=2)
        assert "call again with offset=2" in text

        seen, offset = [], 0
        for _ in range(5):
            if offset is None:
                break
            page = await invoke(
                client, "read_notebook", notebook_path="p.ipynb", offset=offset, limit=2
            )
            seen += [c["index"] for c in page["cells"]]
            offset = page["next_offset"]
        assert (seen, offset) == ([0, 1, 2, 3, 4], None)

        brief = await invoke(client, "read_notebook", notebook_path="p.ipynb", offset=4)
        code = brief["cells"][0]
        assert (code["source"], code["output_count"], code.get("outputs")) == (
            "print('hi') …",
            1,
            None,
        )
        assert brief["next_offset"] is None
        assert "(1 outputs not shown)" in await invoke_text(
            client, "read_notebook", notebook_path="p.ipynb", offset=4
        )

        detailed = await invoke(
            client, "read_notebook", notebook_path="p.ipynb", offset=3, detail="detailed"
        )
        assert [c["source"] for c in detailed["cells"]] == [
            "# Part 3\nbody 3",
            "print('hi')\nprint('there')",
        ]
        assert detailed["cells"][1]["outputs"] == [
            {"output_type": "stream", "text": "hi\nthere\n", "omitted": []}
        ]

        default = await invoke(
            client, "read_notebook", notebook_path="p.ipynb"
        )  # limit 20: everything
        assert len(default["cells"]) == 5 and default["next_offset"] is None
        beyond = await invoke(client, "read_notebook", notebook_path="p.ipynb", offset=50)
        assert (beyond["cells"], beyond["cell_count"], beyond["next_offset"]) == ([], 5, None)
