"""The person (and the agent) can take the agent's changes back: each agent tool call that changed a
notebook is one undo step of that agent, undone on the shared document by its origin, so what the
person typed — before, during or after — stays. A pycrdt peer on the collaboration websocket is the
person's JupyterLab; agents are SDK clients (two sessions are two agents)."""

from __future__ import annotations

import httpx2
import pytest
from conftest import call, call_error
from test_agents import agent

SOURCES = [("code", f"cell_{i} = {i}") for i in range(6)]


async def test_undo_restores_the_agents_cell_and_keeps_every_character_the_person_typed(
    make_notebook, mcp_client, browser
):
    path = make_notebook("typing.ipynb", SOURCES)
    async with browser(path) as peer, mcp_client("legacy") as client:
        person_cell = peer.cell_ids()[2]
        typed = ""
        for word in ("  # the", " person", " types"):
            peer.type_at_end(person_cell, word)
            typed += word
            await call(
                client,
                "overwrite_cell_source",
                notebook_path=path,
                cell_index=5,
                source=f"cell_5 = 'agent{len(typed)}'",
            )
        last = f"cell_5 = 'agent{len(typed)}'"
        peer.type_at_end(person_cell, " more")
        typed += " more"
        await peer.wait_until(lambda: peer.sources()[5] == last)

        result = await call(client, "undo", notebook_path=path, steps=3)

        assert len(result["done"]) == 3
        assert all(d.startswith("overwrite_cell_source: edited cell 5") for d in result["done"])
        assert result["undoable"] == [] and len(result["redoable"]) == 3
        await peer.wait_until(lambda: peer.sources()[5] == "cell_5 = 5")
        assert peer.sources()[2] == "cell_2 = 2" + typed


async def test_undo_of_an_executed_insert_removes_the_cell_and_redo_brings_it_back(
    make_notebook, mcp_client, browser
):
    path = make_notebook("run.ipynb", [("code", "a = 1")])
    async with browser(path) as peer, mcp_client() as client:
        ran = await call(
            client, "insert_execute_code_cell", notebook_path=path, source="print('hi')"
        )
        await peer.wait_until(lambda: len(peer.cell_ids()) == 2)

        undone = await call(client, "undo", notebook_path=path)

        assert undone["done"] == [
            f"insert_execute_code_cell: inserted and ran cell 1 (id {ran['cell_id']})"
        ]
        await peer.wait_until(lambda: peer.sources() == ["a = 1"])

        redone = await call(client, "redo", notebook_path=path)

        assert redone["done"] == undone["done"] and redone["redoable"] == []
        await peer.wait_until(lambda: peer.sources() == ["a = 1", "print('hi')"])
        cell = peer.nb.get_cell(1)
        assert [o.get("text") for o in cell["outputs"]] == ["hi\n"]


async def test_undo_of_a_delete_brings_the_cells_back_with_their_ids_and_outputs(
    make_notebook, mcp_client, browser
):
    path = make_notebook("delete.ipynb", [("code", "a = 1")])
    async with browser(path) as peer, mcp_client() as client:
        ran = await call(client, "insert_execute_code_cell", notebook_path=path, source="print(7)")
        await peer.wait_until(lambda: len(peer.cell_ids()) == 2)
        before = peer.nb.get_cell(1)
        await call(client, "delete_cell", notebook_path=path, cell_id=ran["cell_id"])
        await peer.wait_until(lambda: len(peer.cell_ids()) == 1)

        undone = await call(client, "undo", notebook_path=path)

        assert undone["done"] == [f"delete_cell: deleted cell 1 (id {ran['cell_id']})"]
        await peer.wait_until(lambda: len(peer.cell_ids()) == 2)
        restored = peer.nb.get_cell(1)
        assert restored["id"] == ran["cell_id"]
        assert restored["outputs"] == before["outputs"] and restored["outputs"]
        assert restored["execution_count"] == before["execution_count"]


async def test_two_agents_each_undo_only_their_own_changes(
    jp_serverapp, mcp_url, token, make_notebook, browser
):
    path = make_notebook("two.ipynb", [("code", "x = 0")])
    async with (
        browser(path) as peer,
        agent(mcp_url, token, "Claude Code", "legacy") as first,
        agent(mcp_url, token, "Claude Code", "legacy") as second,
    ):
        await call(first, "append_code_cell", notebook_path=path, source="first = 1")
        await call(second, "append_code_cell", notebook_path=path, source="second = 2")
        await call(first, "overwrite_cell_source", notebook_path=path, cell_index=0, source="x = 1")

        await call(second, "undo", notebook_path=path)
        await peer.wait_until(lambda: peer.sources() == ["x = 1", "first = 1"])
        assert "Nothing to undo" in await call_error(second, "undo", notebook_path=path)

        result = await call(first, "undo", notebook_path=path, steps=2)
        assert len(result["done"]) == 2
        await peer.wait_until(lambda: peer.sources() == ["x = 0"])


async def test_nothing_to_undo_is_a_clear_error(make_notebook, mcp_client):
    path = make_notebook("empty.ipynb", [("code", "x = 0")])
    async with mcp_client() as client:
        error = await call_error(client, "undo", notebook_path=path)
        assert "Nothing to undo" in error
        await call(client, "append_code_cell", notebook_path=path, source="y")
        await call(client, "undo", notebook_path=path)
        assert "Nothing to undo" in await call_error(client, "undo", notebook_path=path)
        assert "Invalid arguments" in await call_error(client, "undo", notebook_path=path, steps=0)


async def test_undo_is_refused_when_a_person_typed_in_the_cell_the_agent_inserted(
    make_notebook, mcp_client, browser
):
    path = make_notebook("refused.ipynb", [("code", "x = 0")])
    async with browser(path) as peer, mcp_client() as client:
        inserted = await call(client, "append_code_cell", notebook_path=path, source="y = 1")
        await peer.wait_until(lambda: len(peer.cell_ids()) == 2)
        peer.type_at_end(inserted["cell_id"], "  # mine")

        async def typed_reached_server() -> bool:
            text = (await call(client, "read_cell", notebook_path=path, cell_index=1))["cell"]
            return text["source"].endswith("# mine")

        for _ in range(50):
            if await typed_reached_server():
                break

        error = await call_error(client, "undo", notebook_path=path)

        assert f"cell 1 (id {inserted['cell_id']})" in error
        assert "person" in error and "nothing was changed" in error
        assert peer.sources() == ["x = 0", "y = 1  # mine"]


async def test_the_person_lists_and_undoes_the_agents_steps_over_http(
    make_notebook, mcp_client, browser, server_url, token
):
    path = make_notebook("http.ipynb", [("code", "x = 0")])
    endpoint = f"{server_url}mcp/agent-undo"
    async with (
        browser(path) as peer,
        mcp_client("legacy") as client,
        httpx2.AsyncClient(headers={"Authorization": f"token {token}"}, timeout=30) as http,
    ):
        empty = await http.get(endpoint, params={"path": path})
        assert empty.status_code == 200 and empty.json() == {"path": path, "agents": []}
        added = await call(client, "append_code_cell", notebook_path=path, source="y = 1")

        listed = (await http.get(endpoint, params={"path": path})).json()

        [entry] = listed["agents"]
        assert " · agent of " in entry["name"] and "jupyter-mcp-ext" not in entry["id"]
        assert [s["description"] for s in entry["undo"]] == [
            f"append_code_cell: inserted cell 1 (id {added['cell_id']})"
        ]
        assert isinstance(entry["undo"][0]["at"], float) and entry["redo"] == []

        undone = await http.post(
            endpoint, json={"path": path, "agent": entry["id"], "action": "undo", "steps": 1}
        )

        assert undone.status_code == 200, undone.text
        assert undone.json()["done"] == [s["description"] for s in entry["undo"]]
        assert undone.json()["agents"][0]["redo"][0]["description"] == undone.json()["done"][0]
        await peer.wait_until(lambda: peer.sources() == ["x = 0"])
        # The person's undo is the agent's history: the agent can redo it.
        await call(client, "redo", notebook_path=path)
        await peer.wait_until(lambda: peer.sources() == ["x = 0", "y = 1"])

        again = await http.post(endpoint, json={"path": path, "agent": "nobody", "action": "undo"})
        assert again.status_code == 409 and "Nothing to undo" in again.json()["message"]
        bad = await http.post(endpoint, json={"path": path, "agent": entry["id"], "action": "x"})
        assert bad.status_code == 400 and "'action'" in bad.json()["message"]
        no_path = await http.post(endpoint, json={"agent": entry["id"], "action": "undo"})
        assert no_path.status_code == 400 and "'path'" in no_path.json()["message"]
        outside = await http.get(endpoint, params={"path": "../outside.ipynb"})
        assert 400 <= outside.status_code < 500
        missing = await http.get(endpoint, params={"path": "missing.ipynb"})
        assert missing.status_code == 404


@pytest.mark.parametrize("auth", [None, "token wrong"])
async def test_the_undo_api_refuses_requests_without_the_token(make_notebook, server_url, auth):
    path = make_notebook("auth.ipynb")
    headers = {"Authorization": auth} if auth else {}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        listed = await http.get(f"{server_url}mcp/agent-undo", params={"path": path})
        undone = await http.post(
            f"{server_url}mcp/agent-undo", json={"path": path, "agent": "x", "action": "undo"}
        )
    assert listed.status_code in (401, 403)
    assert undone.status_code in (401, 403)
