"""A person's keystrokes still on their way when an agent moves the cell reach the moved cell.

A move re-creates the cell (a Y array has no move). The peer holds its updates back while the
agent's move happens, as a browser whose message is still in flight would: its edit is made to
the old copy, which the server has already deleted.
"""

from __future__ import annotations

from conftest import call
from tool_helpers import wait_for_disk


async def test_typing_held_back_during_a_move_lands_in_the_moved_cell_everywhere(
    make_notebook, mcp_client, browser, jp_root_dir
):
    path = make_notebook(
        "race.ipynb", [("markdown", "# Notes"), ("code", "x = 1"), ("code", "y = 2")]
    )
    async with browser(path) as peer, mcp_client() as client:
        notes, x, y = peer.cell_ids()
        async with peer.offline():
            peer.type_at_end(notes, " typed while moving")
            moved = await call(client, "move_cell", notebook_path=path, cell_id=notes, to_index=2)
            assert moved["from_index"] == 0 and moved["cell_index"] == 2
        expected = "# Notes typed while moving"
        await peer.wait_until(
            lambda: peer.cell_ids() == [x, y, notes] and peer.source(notes) == expected
        )
        cells = (await call(client, "read_all_cells", notebook_path=path))["cells"]
        assert [(c["cell_id"], c["source"]) for c in cells] == [
            (x, "x = 1"),
            (y, "y = 2"),
            (notes, expected),
        ]
    await wait_for_disk(jp_root_dir, path, lambda nb: "".join(nb["cells"][2]["source"]) == expected)


async def test_held_back_typing_and_an_agent_edit_of_the_moved_cell_are_both_kept(
    make_notebook, mcp_client, browser
):
    path = make_notebook("race2.ipynb", [("code", "a = 1\nb = 2"), ("code", "c = 3")])
    async with browser(path) as peer, mcp_client() as client:
        first, second = peer.cell_ids()
        async with peer.offline():
            peer.type_at_end(first, "  # person")
            await call(client, "move_cell", notebook_path=path, cell_id=first, to_index=1)
            await call(
                client,
                "edit_cell_source",
                notebook_path=path,
                cell_id=first,
                old_text="a = 1",
                new_text="a = 10",
            )
        expected = "a = 10\nb = 2  # person"
        await peer.wait_until(
            lambda: peer.cell_ids() == [second, first] and peer.source(first) == expected
        )
