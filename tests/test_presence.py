"""The person sees the agent in the notebook: while an agent edits, the notebook's collaboration
awareness — what JupyterLab's collaborator list and cell indicators show — has a state of it with
its name, colour and cell; it goes away after the idle time and when the agent's session ends."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import websockets
from conftest import call
from peer import notebook_room
from pycrdt import Awareness, Doc, YMessageType, create_awareness_message, read_message
from support import read_disk
from test_agents import agent
from tool_helpers import disk_sources, wait_for_disk


class AwarenessWatcher:
    """A browser tab's view of a notebook's awareness: the states of everyone in the notebook."""

    def __init__(self, send: Callable[[bytes], Awaitable[None]]) -> None:
        self.awareness = Awareness(Doc())
        self.changed = asyncio.Event()
        self._send = send

    async def say(self, state: dict[str, Any] | None) -> None:
        """Publish the tab's own state, as JupyterLab does (None: the tab closed)."""
        self.awareness.set_local_state(state)
        update = self.awareness.encode_awareness_update([self.awareness.client_id])
        await self._send(create_awareness_message(update))

    def agents(self) -> list[dict[str, Any]]:
        return [
            state
            for state in self.awareness.states.values()
            if state and " · agent of " in state.get("user", {}).get("name", "")
        ]

    def people(self) -> list[dict[str, Any]]:
        return [
            state
            for client, state in self.awareness.states.items()
            if state and state not in self.agents() and client != self.awareness.client_id
        ]

    def received(self, message: bytes) -> None:
        if message[0] == YMessageType.AWARENESS:
            self.awareness.apply_awareness_update(read_message(message[1:]), "remote")
            self.changed.set()

    async def wait_until(
        self,
        predicate: Callable[[list[dict[str, Any]]], bool],
        timeout: float,
        *,
        people: bool = False,
    ) -> float:
        """Seconds until ``predicate(agents' states)`` (or the other people's) held."""
        states = self.people if people else self.agents
        start = time.monotonic()
        while not predicate(states()):
            remaining = start + timeout - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"the states never got there: {states()}")
            self.changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)
        return time.monotonic() - start


@contextlib.asynccontextmanager
async def watching(server_url: str, token: str, path: str) -> AsyncIterator[AwarenessWatcher]:
    """The notebook at ``path`` open in a browser-like client that reads its awareness."""
    _, url = await notebook_room(server_url, token, path)
    headers = {"Authorization": f"token {token}"}
    async with websockets.connect(url, additional_headers=headers, proxy=None) as websocket:
        watcher = AwarenessWatcher(websocket.send)

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


async def test_a_person_who_turned_autosave_off_keeps_it_off_while_an_agent_works_there(
    make_notebook, server_url, mcp_url, token, jp_root_dir
):
    path = make_notebook("manual.ipynb", [("markdown", "# Saved")])
    async with (
        watching(server_url, token, path) as person,
        watching(server_url, token, path) as colleague,
        agent(mcp_url, token, "Claude Code", "legacy") as claude,
    ):
        await person.say({"user": {"name": "alice"}, "autosave": False})
        await colleague.wait_until(lambda people: len(people) == 1, timeout=5, people=True)
        await call(claude, "append_markdown_cell", notebook_path=path, source="not saved yet")
        await person.wait_until(lambda states: len(states) == 1, timeout=5)
        assert person.agents()[0]["autosave"] is False
        await asyncio.sleep(2)  # ten times the document_save_delay of these tests
        assert disk_sources(read_disk(jp_root_dir, path)) == [("markdown", "# Saved")]

        await person.say(None)  # the person closed the notebook: autosave as without anyone
        await person.wait_until(lambda states: states[0]["autosave"] is True, timeout=5)
        await call(claude, "append_markdown_cell", notebook_path=path, source="saved")
        saved = ["# Saved", "not saved yet", "saved"]
        await wait_for_disk(jp_root_dir, path, lambda nb: [s for _, s in disk_sources(nb)] == saved)
