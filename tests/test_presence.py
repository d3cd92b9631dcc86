"""The person sees the agent in the notebook: while an agent edits, the notebook's collaboration
awareness — what JupyterLab's collaborator list and cell indicators show — has a state of it with
its name, colour and cell; it goes away after the idle time and when the agent's session ends."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import websockets
from conftest import call
from peer import notebook_room
from pycrdt import Awareness, Doc, YMessageType, read_message
from test_agents import agent


class AwarenessWatcher:
    """A browser tab's view of a notebook's awareness: the states of everyone in the notebook."""

    def __init__(self) -> None:
        self.awareness = Awareness(Doc())
        self.changed = asyncio.Event()

    def agents(self) -> list[dict[str, Any]]:
        return [
            state
            for state in self.awareness.states.values()
            if state and " · agent of " in state.get("user", {}).get("name", "")
        ]

    def received(self, message: bytes) -> None:
        if message[0] == YMessageType.AWARENESS:
            self.awareness.apply_awareness_update(read_message(message[1:]), "remote")
            self.changed.set()

    async def wait_until(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float
    ) -> float:
        """Seconds until ``predicate(agents' states)`` held."""
        start = time.monotonic()
        while not predicate(self.agents()):
            remaining = start + timeout - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"the agents' states never got there: {self.agents()}")
            self.changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)
        return time.monotonic() - start


@contextlib.asynccontextmanager
async def watching(server_url: str, token: str, path: str) -> AsyncIterator[AwarenessWatcher]:
    """The notebook at ``path`` open in a browser-like client that reads its awareness."""
    _, url = await notebook_room(server_url, token, path)
    headers = {"Authorization": f"token {token}"}
    watcher = AwarenessWatcher()
    async with websockets.connect(url, additional_headers=headers, proxy=None) as websocket:

        async def read() -> None:
            async for message in websocket:
                if isinstance(message, bytes):
                    watcher.received(message)

        reader = asyncio.create_task(read())
        try:
            yield watcher
        finally:
            reader.cancel()


async def test_the_person_sees_the_agent_with_its_name_and_cell_while_it_edits(
    make_notebook, server_url, mcp_url, token
):
    path = make_notebook("seen.ipynb", [("markdown", "# Title"), ("code", "x = 1")])
    async with (
        watching(server_url, token, path) as watcher,
        agent(mcp_url, token, "Claude Code", "legacy") as claude,
    ):
        edited = await call(
            claude, "overwrite_cell_source", notebook_path=path, cell_index=1, source="x = 2"
        )
        await watcher.wait_until(lambda states: len(states) == 1, timeout=5)
        [state] = watcher.agents()
        assert state["user"]["name"].startswith("Claude Code · agent of ")
        assert state["user"]["color"]
        assert state["cell"] == {"cellId": edited["cell_id"], "action": "editing"}
        assert state["cursors"][0]["anchor"]  # a Yjs relative position in the cell's source

        appended = await call(claude, "append_markdown_cell", notebook_path=path, source="more")
        await watcher.wait_until(
            lambda states: states[0]["cell"]["cellId"] == appended["cell_id"], timeout=5
        )

        await call(claude, "clear_cell_output", notebook_path=path, cell_index=1)
        await watcher.wait_until(
            lambda states: states[0]["cell"]["cellId"] == edited["cell_id"], timeout=5
        )


@pytest.mark.parametrize(
    "jp_server_config",
    [{"MCPExtensionApp": {"presence_idle_time": 1}}],
    indirect=True,
    ids=["idle-1s"],
)
async def test_the_agent_leaves_the_notebook_after_the_idle_time(
    make_notebook, server_url, mcp_url, token
):
    path = make_notebook("idle.ipynb")
    async with (
        watching(server_url, token, path) as watcher,
        agent(mcp_url, token, "Cursor", "2026-07-28") as cursor,
    ):
        await call(cursor, "append_markdown_cell", notebook_path=path, source="hello")
        await watcher.wait_until(lambda states: len(states) == 1, timeout=5)
        left_after = await watcher.wait_until(lambda states: states == [], timeout=10)
    assert left_after >= 0.5  # not before it was idle


@pytest.mark.parametrize(
    "jp_server_config",
    [{"MCPExtensionApp": {"presence_idle_time": 1}}],
    indirect=True,
    ids=["idle-1s"],
)
async def test_an_agent_running_a_cell_longer_than_the_idle_time_stays_until_the_run_ends(
    make_notebook, server_url, mcp_url, token
):
    path = make_notebook("run.ipynb")
    async with (
        watching(server_url, token, path) as watcher,
        agent(mcp_url, token, "Claude Code", "legacy") as claude,
    ):
        run = asyncio.create_task(
            call(
                claude,
                "insert_execute_code_cell",
                notebook_path=path,
                source="import time\ntime.sleep(3)",
            )
        )
        await watcher.wait_until(
            lambda states: [state["cell"]["action"] for state in states] == ["running"],
            timeout=60,  # a kernel starts first
        )
        await asyncio.sleep(2)  # twice the idle time, the cell still running
        assert [state["cell"]["action"] for state in watcher.agents()] == ["running"]
        ran = await run
        assert ran["status"] == "ok"
        await watcher.wait_until(lambda states: states == [], timeout=10)


async def test_the_agent_leaves_the_notebook_when_its_session_is_deleted(
    make_notebook, server_url, mcp_url, token
):
    path = make_notebook("session.ipynb")
    async with watching(server_url, token, path) as watcher:
        async with agent(mcp_url, token, "Claude Code", "legacy") as claude:
            await call(claude, "append_markdown_cell", notebook_path=path, source="hello")
            await watcher.wait_until(lambda states: len(states) == 1, timeout=5)
        # The client deleted its session on leaving; the idle time (60 s) is far off.
        await watcher.wait_until(lambda states: states == [], timeout=5)


async def test_two_agents_are_two_collaborators_with_different_colours(
    make_notebook, server_url, mcp_url, token
):
    path = make_notebook("two.ipynb", [("markdown", "one"), ("markdown", "two")])
    async with (
        watching(server_url, token, path) as watcher,
        agent(mcp_url, token, "Claude Code", "legacy") as claude,
        agent(mcp_url, token, "Codex", "legacy") as codex,
    ):
        await call(claude, "overwrite_cell_source", notebook_path=path, cell_index=0, source="a")
        await call(codex, "overwrite_cell_source", notebook_path=path, cell_index=1, source="b")
        await watcher.wait_until(lambda states: len(states) == 2, timeout=5)
        users = {state["user"]["name"].split(" · ")[0]: state["user"] for state in watcher.agents()}
        assert set(users) == {"Claude Code", "Codex"}
        assert users["Claude Code"]["color"] != users["Codex"]["color"]
