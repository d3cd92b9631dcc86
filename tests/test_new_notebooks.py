"""A notebook created for an agent starts with the agent's first cell: no empty cell above it (the
one jupyter_ydoc puts into a document loaded from a notebook without cells, for a person to type in)."""

from __future__ import annotations

from tool_helpers import disk_sources, invoke, wait_for_disk

PATH = "fresh.ipynb"
FIRST = ("code", "import math")


async def test_a_created_notebook_holds_exactly_the_agents_cells_live_on_disk_and_in_a_browser(
    mcp_client, browser, jp_root_dir
):
    async with mcp_client() as client:
        await invoke(client, "create_notebook", notebook_path=PATH)
        appended = await invoke(client, "append_code_cell", notebook_path=PATH, source=FIRST[1])
        assert (appended["cell_index"], appended["cell_count"]) == (0, 1)
        live = (await invoke(client, "read_all_cells", notebook_path=PATH))["cells"]
        assert [(c["cell_type"], c["source"]) for c in live] == [FIRST]
        on_disk = await wait_for_disk(jp_root_dir, PATH, lambda nb: len(nb["cells"]) >= 1)
        assert disk_sources(on_disk) == [FIRST]

        async with browser(PATH) as peer:
            assert peer.sources() == [FIRST[1]]
            assert peer.cell_ids() == [appended["cell_id"]]
            second = await invoke(
                client, "append_markdown_cell", notebook_path=PATH, source="## Results"
            )
            assert second["cell_index"] == 1
            await peer.wait_until(lambda: peer.sources() == [FIRST[1], "## Results"])
    on_disk = await wait_for_disk(jp_root_dir, PATH, lambda nb: len(nb["cells"]) == 2)
    assert disk_sources(on_disk) == [FIRST, ("markdown", "## Results")]


async def test_a_person_opening_a_new_notebook_first_keeps_the_cell_to_type_in(mcp_client, browser):
    """The empty cell stays where a browser opened the notebook first: the person may be typing there."""
    async with mcp_client() as client:
        await invoke(client, "create_notebook", notebook_path=PATH)
        async with browser(PATH) as peer:
            assert peer.sources() == [""]
            appended = await invoke(client, "append_code_cell", notebook_path=PATH, source=FIRST[1])
            assert appended["cell_index"] == 1
            await peer.wait_until(lambda: peer.sources() == ["", FIRST[1]])
