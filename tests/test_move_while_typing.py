"""Moving a cell while a person types into it: a move re-creates the cell (a Y array has no move),
so keystrokes still on their way to the server would land in the deleted copy. Nothing typed may be
lost: a move of a cell the agent saw being typed in is refused, saying why; a move the agent makes
before it could see the typing (its very first call) goes ahead, and the keystroke still on its way
is carried over to the moved cell; a cell left alone moves as before."""

from __future__ import annotations

import asyncio

import pytest
from tool_helpers import invoke, wait_for_disk

PATH = "mv.ipynb"
CELLS = [("markdown", "# Title"), ("code", "b = 1"), ("markdown", "Notes")]


async def server_source(client, cell_id: str) -> str:
    return (await invoke(client, "read_cell", notebook_path=PATH, cell_id=cell_id))["cell"][
        "source"
    ]


async def wait_for_server_source(client, cell_id: str, expected: str) -> None:
    for _ in range(200):
        if await server_source(client, cell_id) == expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(
        f"the server never saw {expected!r}; it has {await server_source(client, cell_id)!r}"
    )


@pytest.mark.parametrize(
    "agent_looked_first", [True, False], ids=["after-a-read", "as-the-first-call"]
)
async def test_moving_a_cell_while_a_person_types_into_it_loses_nothing_they_typed(
    make_notebook, mcp_client, browser, jp_root_dir, agent_looked_first
):
    make_notebook(PATH, CELLS)
    async with mcp_client() as client, browser(PATH) as peer, browser(PATH) as onlooker:
        ids = peer.cell_ids()
        typed_in = ids[1]
        if agent_looked_first:
            await invoke(client, "read_notebook", notebook_path=PATH)
        peer.type_at_end(typed_in, " # typed")
        await onlooker.wait_until(
            lambda: onlooker.source(typed_in) == "b = 1 # typed"
        )  # the server has it
        async with (
            peer.offline()
        ):  # the next keystroke is still on its way while the agent moves the cell
            peer.type_at_end(typed_in, " # on its way")
            moved = await client.call_tool(
                "move_cell", {"notebook_path": PATH, "cell_id": typed_in, "to_index": -1}
            )
        expected = "b = 1 # typed # on its way"
        await peer.wait_until(lambda: expected in peer.sources())
        await wait_for_server_source(client, typed_in, expected)
        order = [
            c["cell_id"]
            for c in (await invoke(client, "read_all_cells", notebook_path=PATH))["cells"]
        ]
        text = moved.content[0].text
        if agent_looked_first:  # refused, saying why and that nothing changed
            assert moved.is_error and "typing" in text and "Nothing was moved" in text, text
            assert order == ids
        else:  # moved, and the late keystroke carried over to the moved cell
            assert not moved.is_error, text
            assert order == [ids[0], ids[2], typed_in]
        assert peer.sources() == [await server_source(client, cell_id) for cell_id in order]
    await wait_for_disk(
        jp_root_dir, PATH, lambda nb: expected in ["".join(c["source"]) for c in nb["cells"]]
    )


async def test_a_cell_nobody_is_typing_in_moves_while_a_person_types_elsewhere(
    make_notebook, mcp_client, browser, jp_root_dir, monkeypatch
):
    from jupyter_mcp_ext import recent_edits

    monkeypatch.setattr(recent_edits, "QUIET_SECONDS", 0.5)
    make_notebook(PATH, CELLS)
    async with mcp_client() as client, browser(PATH) as peer:
        ids = peer.cell_ids()
        await invoke(client, "read_notebook", notebook_path=PATH)
        await asyncio.sleep(0.6)  # what the person did before the agent came is behind them
        peer.type_at_end(ids[2], " and more")
        await wait_for_server_source(client, ids[2], "Notes and more")
        moved = await invoke(client, "move_cell", notebook_path=PATH, cell_id=ids[0], to_index=-1)
        assert (moved["from_index"], moved["cell_index"]) == (0, 2)
        expected = ["b = 1", "Notes and more", "# Title"]
        await peer.wait_until(lambda: peer.sources() == expected)
        assert peer.cell_ids() == [ids[1], ids[2], ids[0]]
    await wait_for_disk(
        jp_root_dir, PATH, lambda nb: ["".join(c["source"]) for c in nb["cells"]] == expected
    )


async def test_a_refused_move_succeeds_once_the_person_has_left_the_cell_alone(
    make_notebook, mcp_client, browser, monkeypatch
):
    from jupyter_mcp_ext import recent_edits

    monkeypatch.setattr(recent_edits, "QUIET_SECONDS", 0.5)
    make_notebook(PATH, CELLS)
    async with mcp_client() as client, browser(PATH) as peer:
        ids = peer.cell_ids()
        await invoke(client, "read_notebook", notebook_path=PATH)
        await asyncio.sleep(0.6)
        peer.type_at_end(ids[1], " # typed")
        await wait_for_server_source(client, ids[1], "b = 1 # typed")
        refused = await client.call_tool(
            "move_cell", {"notebook_path": PATH, "cell_id": ids[1], "to_index": 0}
        )
        assert refused.is_error and "typing" in refused.content[0].text
        await asyncio.sleep(0.6)
        moved = await invoke(client, "move_cell", notebook_path=PATH, cell_id=ids[1], to_index=0)
        assert (moved["from_index"], moved["cell_index"]) == (1, 0)
        await peer.wait_until(lambda: peer.sources() == ["b = 1 # typed", "# Title", "Notes"])
