"""Every agent's changes carry an origin of its own on the shared document — two MCP sessions are
two agents even from one client and one user — so presence, undo and "who changed what" can tell
them apart from each other and from the people in the notebook."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx2
import mcp_types as types
from conftest import call
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from pycrdt import Array

from jupyter_mcp_ext.agents import AGENT_ORIGIN, agent_of


@contextlib.asynccontextmanager
async def agent(mcp_url: str, token: str, name: str, mode: str) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
        Client(
            streamable_http_client(mcp_url, http_client=http),
            mode=mode,
            client_info=types.Implementation(name=name, version="1.0"),
        ) as client,
    ):
        yield client


async def origins_of_edits(jp_serverapp, path: str, edits) -> list[str]:
    """The origins of the transactions that changed the notebook's cells during ``edits()``."""
    settings = jp_serverapp.web_app.settings
    file_id = settings["file_id_manager"].index(path)
    room = settings["jupyter_server_ydoc"].ywebsocket_server.rooms[f"json:notebook:{file_id}"]
    seen: list[str] = []
    ycells = room.ydoc.get("cells", type=Array)
    watch = ycells.observe_deep(lambda events, txn: seen.append(txn.origin))
    try:
        await edits()
    finally:
        ycells.unobserve(watch)
    return seen


async def test_two_sessions_of_one_client_edit_with_two_origins_and_keep_them_across_calls(
    jp_serverapp, mcp_url, token, make_notebook
):
    path = make_notebook("agents.ipynb")
    async with (
        agent(mcp_url, token, "Claude Code", "legacy") as first,
        agent(mcp_url, token, "Claude Code", "legacy") as second,
    ):
        await call(first, "append_markdown_cell", notebook_path=path, source="opened")

        async def edits() -> None:
            await call(first, "append_markdown_cell", notebook_path=path, source="one")
            await call(second, "append_markdown_cell", notebook_path=path, source="two")
            await call(first, "append_markdown_cell", notebook_path=path, source="three")

        origins = await origins_of_edits(jp_serverapp, path, edits)

    assert len(origins) == 3, origins
    assert all(origin.startswith(AGENT_ORIGIN + ":") for origin in origins)
    assert origins[0] == origins[2] != origins[1]


async def test_a_sessionless_client_is_one_agent_per_client_name(
    jp_serverapp, mcp_url, token, make_notebook
):
    path = make_notebook("clients.ipynb")
    async with (
        agent(mcp_url, token, "Cursor", "2026-07-28") as cursor,
        agent(mcp_url, token, "VS Code", "2026-07-28") as vscode,
    ):
        await call(cursor, "append_markdown_cell", notebook_path=path, source="opened")

        async def edits() -> None:
            await call(cursor, "append_markdown_cell", notebook_path=path, source="a")
            await call(vscode, "append_markdown_cell", notebook_path=path, source="b")
            await call(cursor, "append_markdown_cell", notebook_path=path, source="c")

        origins = await origins_of_edits(jp_serverapp, path, edits)

    assert origins[0] == origins[2] != origins[1]
    assert "client=Cursor" in origins[0] and "client=VS Code" in origins[1]


def test_an_agent_is_named_for_what_it_is_and_for_whom():
    class Info:
        name = "claude-code"
        title = "Claude Code"

    named = agent_of("alice", "Alice", Info(), "4f2c")
    unnamed = agent_of("bob", "", None, None)

    assert named.name == "Claude Code · agent of Alice"
    assert unnamed.name == "MCP client · agent of bob"
    assert named.origin != agent_of("alice", "Alice", Info(), "9a01").origin
