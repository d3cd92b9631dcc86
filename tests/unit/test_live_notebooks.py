"""The room policy of ``LiveNotebooks``, against a fake of its jupyter_server_ydoc adapter: rooms
opened for agents close when idle with their edits saved, rooms a browser joined are left alone,
changes that could not be saved are kept and saved again, and the server's stop saves what is left.

The fake keeps files in a dict and rooms in memory (as jupyter-collaboration tests its loaders
against fake managers); the real adapter is exercised by the server tests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import nbformat
import pytest
from jupyter_ydoc import YNotebook

from jupyter_mcp_ext import notebooks
from jupyter_mcp_ext.errors import UsageError
from jupyter_mcp_ext.notebooks import LiveNotebooks

IDLE = 0.01  # seconds; the policy then looks at its rooms every 50 ms


def notebook(*sources: str) -> dict[str, Any]:
    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])


class FakeContents:
    """A contents manager over a dict of notebooks, by path."""

    def __init__(self) -> None:
        self.files: dict[str, dict[str, Any]] = {}

    def get(self, path: str, *, content: bool, type: str) -> dict[str, Any]:
        return {"path": path, "type": type, "content": self.files[path]}


class FakeRoom:
    def __init__(self, doc: YNotebook) -> None:
        self.doc = doc
        self.clients = 0
        self.browser_was_here = False  # jupyter_server_ydoc then has its cleanup scheduled


class FakeRooms:
    """What ``LiveNotebooks`` uses of ``YDocRooms``, without a server."""

    def __init__(self, contents: FakeContents) -> None:
        self.contents = contents
        self.paths: dict[str, str] = {}  # by room id
        self.rooms: dict[str, FakeRoom] = {}
        self.locks: dict[str, asyncio.Lock] = {}
        self.listeners: dict[str, Any] = {}
        self.writes: list[str] = []  # paths, in the order they were written
        self.save_problem: str | None = None  # set: every save fails, for this reason
        self.load_problem: Exception | None = None
        self.deleted: list[str] = []
        self.released: list[str] = []

    def room_id(self, path: str, *, index: bool) -> str | None:
        room_id = f"json:notebook:{path}-id"
        if not index and room_id not in self.paths:
            return None
        self.paths[room_id] = path
        return room_id

    def path_of(self, room_id: str) -> str | None:
        return self.paths.get(room_id)

    def exists(self, room_id: str) -> bool:
        return room_id in self.rooms

    def state(self, room_id: str | None) -> tuple[bool, int]:
        room = self.rooms.get(room_id or "")
        return room is not None, room.clients if room else 0

    def any_connections(self) -> bool:
        return any(room.clients for room in self.rooms.values())

    def browser_joined(self, room_id: str) -> bool:
        room = self.rooms.get(room_id)
        return room is not None and bool(room.clients or room.browser_was_here)

    async def document(self, room_id: str, *, create: bool) -> YNotebook | None:
        if room_id not in self.rooms:
            if not create:
                return None
            if self.load_problem is not None:
                raise self.load_problem
            doc = YNotebook()
            doc.set(self.contents.files[self.paths[room_id]])
            self.rooms[room_id] = FakeRoom(doc)
        return self.rooms[room_id].doc

    def lock(self, room_id: str) -> asyncio.Lock:
        return self.locks.setdefault(room_id, asyncio.Lock())

    async def delete(self, room_id: str) -> None:
        del self.rooms[room_id]
        self.deleted.append(room_id)

    async def release_file(self, room_id: str) -> None:
        self.released.append(room_id)

    def discard_failed(self, room_id: str) -> None:
        self.rooms.pop(room_id, None)

    def has_file(self, room_id: str) -> bool:
        return room_id in self.rooms

    def watch_saves(self, room_id: str, listener: Any) -> None:
        self.listeners[room_id] = listener

    def listen_to_clients(self, room_id: str, doc: YNotebook, listener: Any) -> None:
        pass  # no clients here

    def file_writer(self, room_id: str) -> Callable[[dict[str, Any]], Any]:
        async def write(content: dict[str, Any]) -> bool:
            await self.save(room_id, content)
            return True

        return write

    async def save(self, room_id: str, content: dict[str, Any]) -> None:
        """A save of the room's file (ours or the room's autosave), told to the save listener."""
        path = self.paths[room_id]
        listener = self.listeners.get(room_id)
        if self.save_problem is not None:
            if listener:
                await listener(room_id, path, content, self.save_problem)
            raise PermissionError(self.save_problem)
        self.contents.files[path] = content
        self.writes.append(path)
        if listener:
            await listener(room_id, path, content, None)

    # -- what a browser does

    def browser_opens(self, path: str) -> FakeRoom:
        room_id = self.room_id(path, index=True)
        assert room_id is not None
        doc = YNotebook()
        doc.set(self.contents.files[path])
        room = self.rooms[room_id] = FakeRoom(doc)
        room.clients = 1
        room.browser_was_here = True
        return room


@pytest.fixture
def contents() -> FakeContents:
    contents = FakeContents()
    contents.files["a.ipynb"] = notebook("x = 1")
    return contents


@pytest.fixture
def rooms(contents: FakeContents) -> FakeRooms:
    return FakeRooms(contents)


class RecordedLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def log() -> RecordedLog:
    return RecordedLog()


@pytest.fixture
def new_live(rooms, contents, log, jp_asyncio_loop) -> Iterator[Callable[..., LiveNotebooks]]:
    """Makes a ``LiveNotebooks`` on the fake rooms; its reaper is stopped at the end of the test."""
    logger = logging.Logger("live-notebooks")
    logger.addHandler(log)
    made: list[LiveNotebooks] = []

    def new(idle_close_delay: float = IDLE) -> LiveNotebooks:
        made.append(LiveNotebooks(rooms, contents, logger, idle_close_delay=idle_close_delay))
        return made[-1]

    yield new
    for live in made:
        jp_asyncio_loop.run_until_complete(live.stop())


@pytest.fixture
def live(new_live) -> LiveNotebooks:
    return new_live()


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notebooks._SaveRetry, "FIRST_DELAY", 0.05)


async def edit(live: LiveNotebooks, path: str, source: str) -> None:
    async with live.document(path, edit=True) as nb:
        nb.set_cell(0, source=source)


def disk_sources(contents: FakeContents, path: str) -> list[str]:
    return ["".join(cell["source"]) for cell in contents.files[path]["cells"]]


async def eventually(predicate: Callable[[], bool], what: str, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting until {what}")
        await asyncio.sleep(0.005)


async def test_a_room_opened_for_an_agent_closes_when_idle_with_its_edits_saved(
    live, rooms, contents
):
    await edit(live, "a.ipynb", "x = 2")
    assert disk_sources(contents, "a.ipynb") == ["x = 1"]  # the room's, until it closes

    await eventually(lambda: not rooms.rooms, "the idle room closed")
    assert disk_sources(contents, "a.ipynb") == ["x = 2"]
    assert rooms.released == ["json:notebook:a.ipynb-id"]


async def test_a_room_an_agent_only_read_closes_without_writing_the_file(live, rooms):
    async with live.document("a.ipynb") as nb:
        assert nb.get_cell(0)["source"] == "x = 1"
    await eventually(lambda: not rooms.rooms, "the idle room closed")
    assert rooms.writes == []


async def test_a_room_in_use_stays_open_past_the_idle_delay(live, rooms):
    async with live.document("a.ipynb", edit=True):
        await asyncio.sleep(10 * IDLE + 0.1)
        assert rooms.exists("json:notebook:a.ipynb-id")
    await eventually(lambda: not rooms.rooms, "the room closed once no longer in use")


async def test_a_room_a_browser_joined_is_left_to_jupyter_server_ydoc(live, rooms, contents):
    await edit(live, "a.ipynb", "x = 2")
    room = rooms.rooms["json:notebook:a.ipynb-id"]
    room.clients, room.browser_was_here = 1, True
    assert live.has_browser("a.ipynb") and live.room_state("a.ipynb") == (True, 1)

    await eventually(lambda: not live._owned, "the policy gave the room up")
    await asyncio.sleep(0.1)
    assert rooms.rooms["json:notebook:a.ipynb-id"] is room and rooms.deleted == []
    assert rooms.writes == []  # the room's autosave writes the edits, not the policy


async def test_a_room_a_browser_had_open_is_never_closed_by_the_agents_use(live, rooms):
    room = rooms.browser_opens("a.ipynb")
    await edit(live, "a.ipynb", "x = 2")
    assert live._owned == {}
    await asyncio.sleep(0.1)
    assert rooms.rooms["json:notebook:a.ipynb-id"] is room and rooms.writes == []


async def test_a_room_whose_save_fails_is_kept_and_saved_again_when_saving_works(
    live, rooms, contents, quick_retries
):
    rooms.save_problem = "the file is read-only"
    await edit(live, "a.ipynb", "x = 2")
    await eventually(lambda: live.save_problem("a.ipynb") is not None, "the policy tried to save")
    assert live.save_problem("a.ipynb") == "the file is read-only"
    await asyncio.sleep(0.1)
    assert rooms.exists("json:notebook:a.ipynb-id"), "closing the room would lose the agent's edit"

    rooms.save_problem = None
    await eventually(lambda: not rooms.rooms, "the room closed after a save worked", timeout=5)
    assert disk_sources(contents, "a.ipynb") == ["x = 2"]
    assert live.save_problem("a.ipynb") is None


async def test_a_failed_autosave_of_a_room_a_browser_has_open_is_retried_until_it_is_on_disk(
    live, rooms, contents, quick_retries
):
    rooms.browser_opens("a.ipynb")
    await edit(live, "a.ipynb", "x = 2")
    await asyncio.sleep(0.1)  # the agent's call is over before the room's autosave runs
    room_id = "json:notebook:a.ipynb-id"
    rooms.save_problem = "the disk is full"
    with pytest.raises(PermissionError):
        await rooms.save(room_id, rooms.rooms[room_id].doc.get())  # the autosave, failing
    assert live.save_problem("a.ipynb") == "the disk is full"

    rooms.save_problem = None
    await eventually(lambda: live.save_problem("a.ipynb") is None, "a save worked", timeout=5)
    assert disk_sources(contents, "a.ipynb") == ["x = 2"]
    assert rooms.exists(room_id), "the browser's room stays open"


def test_save_retries_wait_twice_as_long_each_time_up_to_a_cap():
    retry = notebooks._SaveRetry()
    waits = []
    for _ in range(8):
        retry.failed(100.0)
        waits.append(retry.due - 100.0)
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


async def test_stop_saves_the_agents_edits_of_rooms_opened_here(new_live, rooms, contents):
    contents.files["b.ipynb"] = notebook("y = 1")
    live = new_live(idle_close_delay=60)
    await edit(live, "a.ipynb", "x = 2")
    async with live.document("b.ipynb"):
        pass

    await live.stop()
    assert disk_sources(contents, "a.ipynb") == ["x = 2"]
    assert rooms.writes == ["a.ipynb"]  # b.ipynb was only read
    assert live._owned == {}


async def test_stop_says_which_changes_are_lost_when_they_cannot_be_saved(
    new_live, rooms, contents, log
):
    live = new_live(idle_close_delay=60)
    await edit(live, "a.ipynb", "x = 2")
    rooms.save_problem = "the file is read-only"
    await live.stop()
    assert (
        "MCP: the changes to a.ipynb are lost: they could not be saved before the server stopped"
        in log.messages
    )
    assert disk_sources(contents, "a.ipynb") == ["x = 1"]


async def test_a_notebook_that_cannot_be_loaded_is_an_error_and_read_again_next_time(live, rooms):
    rooms.load_problem = ValueError("Expecting value: line 1 column 1")
    with pytest.raises(
        UsageError, match=r"'a.ipynb' could not be loaded as a notebook: Expecting value"
    ):
        async with live.document("a.ipynb"):
            pass
    assert live._owned == {}

    rooms.load_problem = None
    async with live.document("a.ipynb") as nb:
        assert nb.get_cell(0)["source"] == "x = 1"


async def test_a_room_opened_for_an_agent_on_an_empty_notebook_has_no_placeholder_cell(
    live, contents
):
    contents.files["empty.ipynb"] = notebook()
    async with live.document("empty.ipynb") as nb:
        assert len(nb.ycells) == 0
