"""Notebooks as MCP resources, and subscriptions to them in both protocol eras: a real server, the
SDK client, and a pycrdt peer as the person typing in JupyterLab."""

from __future__ import annotations

import json

import pytest
from conftest import call
from mcp import MCPError
from mcp_types import INVALID_PARAMS
from support import eventually

MODES = ["legacy", "auto"]  # the handshake era, and 2026-07-28


async def read_json(client, uri: str) -> dict:
    result = await client.read_resource(uri, cache_mode="bypass")
    (content,) = result.contents
    assert content.mime_type == "application/json"
    return json.loads(content.text)


@pytest.mark.parametrize("mode", MODES)
async def test_a_notebook_and_one_of_its_cells_read_as_resources_show_the_live_cells(
    mode, make_notebook, mcp_client, browser
):
    path = make_notebook("dir with space/a?b#c.ipynb", [("markdown", "# Title"), ("code", "x = 1")])
    async with browser(path) as peer, mcp_client(mode) as client:
        peer.type_at_end(peer.cell_ids()[1], "  # typed, unsaved")
        uri = "notebook://dir%20with%20space/a%3Fb%23c.ipynb"
        listed = await client.list_resources(cache_mode="bypass")
        assert uri in [resource.uri for resource in listed.resources]
        notebook = await eventually_read(client, uri, lambda nb: "typed" in nb["cells"][1]["source"])
        cell_id = notebook["cells"][1]["cell_id"]
        cell = await read_json(client, f"{uri}?cell={cell_id}")

    assert notebook["notebook_path"] == path and notebook["cell_count"] == 2
    assert [(c["cell_type"], c["source"]) for c in notebook["cells"]] == [
        ("markdown", "# Title"),
        ("code", "x = 1  # typed, unsaved"),
    ]
    assert cell["cell"]["cell_id"] == cell_id and cell["cell"]["index"] == 1
    assert cell["cell"]["source"] == "x = 1  # typed, unsaved" and cell["cell"]["outputs"] == []


async def eventually_read(client, uri: str, until) -> dict:
    return await eventually(lambda: read_json(client, uri), f"{uri} as expected", until=until)


@pytest.mark.parametrize("mode", MODES)
async def test_the_resource_list_has_the_open_notebooks_and_the_current_one(
    mode, make_notebook, mcp_client, browser
):
    opened = make_notebook("opened.ipynb")
    chosen = make_notebook("sub/chosen.ipynb")
    make_notebook("closed.ipynb")
    async with browser(opened), mcp_client(mode) as client:
        await call(client, "prepare_notebook", notebook_path=chosen)
        listed = (await client.list_resources(cache_mode="bypass")).resources
        templates = (await client.list_resource_templates(cache_mode="bypass")).resource_templates

    by_uri = {resource.uri: resource for resource in listed}
    assert set(by_uri) == {"notebook://opened.ipynb", "notebook://sub/chosen.ipynb"}
    assert by_uri["notebook://sub/chosen.ipynb"].description == "your current notebook"
    assert {t.uri_template for t in templates} == {
        "notebook://{+path}",
        "notebook://{+path}?cell={cell_id}",
    }


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("notebook://../outside.ipynb", "'..' may not be used"),
        ("notebook:///etc/passwd.ipynb", "Absolute path"),
        ("notebook://notes.txt", "is not a notebook"),
        ("notebook://missing.ipynb", "does not exist"),
        ("notebook://real.ipynb?cell=nope", "No cell has id 'nope'"),
        ("notebook://real.ipynb?line=3", "unknown query"),
        ("file:///real.ipynb", "Unknown resource"),
    ],
)
async def test_reading_a_resource_that_is_no_notebook_of_the_server_is_a_clear_invalid_params_error(
    mode, uri, message, make_notebook, mcp_client, jp_root_dir
):
    make_notebook("real.ipynb", [("code", "1")])
    (jp_root_dir / "notes.txt").write_text("not a notebook")
    async with mcp_client(mode) as client:
        with pytest.raises(MCPError) as refused:
            await client.read_resource(uri, cache_mode="bypass")
        assert (await call(client, "list_kernels")) is not None  # the server still answers
    assert refused.value.code == INVALID_PARAMS
    assert message in refused.value.message, refused.value.message
    assert str(jp_root_dir) not in refused.value.message
