"""Live notebooks: the shared documents of jupyter_server_ydoc rooms, looked up by contents path.

Every read and edit goes through the room's live ``YNotebook`` — the document JupyterLab
shows — never through the ``.ipynb`` file. When no browser has a notebook open, the room
is opened here, kept while in use, and closed after an idle delay with the agent's edits
saved first; rooms a browser joined are left to jupyter_server_ydoc's own cleanup. The rooms
themselves are reached through ``YDocRooms`` (the one place that knows jupyter_server_ydoc's
internals); this module keeps the policy: which rooms are ours, when they close, saves retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_ydoc import YNotebook

from . import late_edits
from .agents import current_origin
from .errors import UsageError
from .saves import SaveWatch
from .ydoc_rooms import FileWriter, YDocRooms


@dataclass
class _OwnedRoom:
    """A room this extension opened because no browser had the notebook open."""

    path: str
    in_use: int = 0
    last_used: float = 0.0
    edited: bool = False  # agent edits since the last flush
    doc: YNotebook | None = None  # the document last used, for the save at server shutdown


@dataclass
class HeldNotebook:
    """A notebook held by ``LiveNotebooks.hold``: its live document, whatever its path becomes."""

    live: LiveNotebooks
    room_id: str
    held_as: str  # the path it had when it was held

    def document(self, *, edit: bool = False) -> contextlib.AbstractAsyncContextManager[YNotebook]:
        return self.live.document(self.held_as, edit=edit, room_id=self.room_id)

    def path(self) -> str | None:
        """Its path now: the new one if it was renamed, None if it was deleted."""
        return self.live.path_of(self.room_id)


@dataclass
class _SaveRetry:
    """When to try again to save a notebook whose save failed (doubling delays, capped)."""

    attempts: int = 0
    due: float = 0.0

    FIRST_DELAY = 1.0
    MAX_DELAY = 30.0

    def failed(self, now: float) -> None:
        self.due = now + min(self.MAX_DELAY, self.FIRST_DELAY * 2**self.attempts)
        self.attempts += 1


class LiveNotebooks:
    def __init__(
        self,
        rooms: YDocRooms,
        contents_manager: Any,
        log: logging.Logger,
        *,
        idle_close_delay: float,
        on_edit: Callable[[YNotebook], None] | None = None,
    ) -> None:
        self.rooms = rooms
        self.on_edit = on_edit  # told before a document is handed out for editing (undo.py)
        self.contents_manager = contents_manager
        self.log = log
        self.idle_close_delay = idle_close_delay
        self._owned: dict[str, _OwnedRoom] = {}  # by room id
        self._closing: set[str] = set()  # room ids being saved and deleted here
        self._retries: dict[str, _SaveRetry] = {}  # by room id: rooms whose changes are not on disk
        self._reaper: asyncio.Task | None = None
        self._stopped = False
        # A failed save starts the reaper, which saves again: also for a room a browser opened.
        self.saves = SaveWatch(contents_manager, log, on_failure=self._ensure_reaper)

    def room_state(self, path: str) -> tuple[bool, int]:
        """(is the notebook's room in memory, how many browser connections it has)."""
        return self.rooms.state(self.rooms.room_id(path, index=False))

    def has_browser(self, path: str) -> bool:
        """Whether a browser has ``path`` open; without any browser connected this costs no lookup."""
        if not self.rooms.any_connections():
            return False
        return self.room_state(path)[1] > 0

    @contextlib.asynccontextmanager
    async def document(
        self, path: str, *, edit: bool = False, room_id: str | None = None
    ) -> AsyncIterator[YNotebook]:
        """The live document of ``path`` (a checked contents path), kept open while in use.

        Fetched anew for every operation: a document object from a room that has since
        closed is detached, and edits to it would never reach disk. ``room_id``: the notebook's
        room when it is followed by its file id (see ``hold``), ``path`` then names it in messages.
        """
        room_id = room_id or self.rooms.room_id(path, index=True)
        assert room_id is not None
        owned = self._owned.get(room_id)
        if owned is None and (room_id in self._closing or not self.rooms.exists(room_id)):
            # A room being closed here counts as absent: this call gets (and owns) the next one.
            owned = self._owned[room_id] = _OwnedRoom(path=path)
        if owned is not None:
            owned.in_use += 1
        try:
            try:
                doc = await self.rooms.document(room_id, create=True)
            except Exception as error:
                self.log.warning("MCP: could not open notebook %s: %r", path, error)
                self._discard_failed_room(room_id)
                reason = getattr(error, "log_message", None) or str(error) or type(error).__name__
                raise UsageError(
                    f"{path!r} could not be loaded as a notebook: {reason}. "
                    "Is it valid notebook JSON (nbformat 4)? Fix or recreate the file."
                ) from error
            if not isinstance(doc, YNotebook):
                raise UsageError(f"{path!r} is not open as a notebook document.")
            self.rooms.watch_saves(room_id, self.saves.outcome)
            self.rooms.listen_to_clients(room_id, doc, late_edits.on_client_message)
            if owned is not None:
                if owned.doc is None:
                    await self._drop_placeholder_cell(path, doc)
                owned.doc = doc
            if edit and self.on_edit is not None:
                self.on_edit(doc)
            yield doc
        finally:
            if owned is not None:
                owned.in_use -= 1
                owned.last_used = time.monotonic()
                owned.edited = owned.edited or edit
                self._ensure_reaper()

    @contextlib.asynccontextmanager
    async def hold(self, path: str) -> AsyncIterator[HeldNotebook]:
        """The notebook at ``path`` (a checked contents path), followed by its file id while held.

        For operations that write for a long time (a cell run): renamed or deleted meanwhile,
        it is still the same room and document, kept open until the operation ends.
        """
        room_id = self.rooms.room_id(path, index=True)
        assert room_id is not None
        async with self.document(path, room_id=room_id):
            yield HeldNotebook(self, room_id, path)

    def path_of(self, room_id: str) -> str | None:
        """The contents path of a notebook's room now (after a rename: the new one); None once deleted."""
        return self.rooms.path_of(room_id)

    async def _drop_placeholder_cell(self, path: str, doc: YNotebook) -> None:
        """Take out the empty cell jupyter_ydoc puts into a room loaded from a notebook without cells.

        It is there for a person to type into; in a room opened for an agent nobody sees it,
        and the agent's first cell should be the notebook's first cell. (A room a browser
        opened keeps it: the person may be typing into it.)
        """
        if len(doc.ycells) != 1 or doc.get_cell(0) != _placeholder_like(doc.get_cell(0)):
            return
        model = await ensure_async(self.contents_manager.get(path, content=True, type="notebook"))
        if model["content"].get("cells"):
            return
        with doc.ydoc.transaction(origin=current_origin()):
            del doc.ycells[0]

    def save_problem(self, path: str) -> str | None:
        """Why the changes to ``path`` are not on disk, while its saves fail; else None."""
        if not self.saves.failing():
            return None
        room_id = self.rooms.room_id(path, index=False)
        return self.saves.failure(room_id) if room_id else None

    def _discard_failed_room(self, room_id: str) -> None:
        """Forget a room whose document could not be loaded, so the next call reads the file again."""
        self._owned.pop(room_id, None)
        self.rooms.discard_failed(room_id)

    # -- closing the rooms opened here -------------------------------------------------------

    def _ensure_reaper(self) -> None:
        if self._stopped:
            return
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.create_task(
                self._reap_idle_rooms(), name="jupyter-mcp-ext room reaper"
            )

    async def _reap_idle_rooms(self) -> None:
        interval = min(5.0, max(0.05, self.idle_close_delay / 4))
        while self._owned or self.saves.failing():
            await asyncio.sleep(interval)
            now = time.monotonic()
            for room_id, owned in list(self._owned.items()):
                retry = self._retries.get(room_id)
                if (
                    owned.in_use
                    or now - owned.last_used < self.idle_close_delay
                    or (retry and now < retry.due)
                ):
                    continue
                try:
                    await self._close_room(room_id, owned)
                except Exception:
                    self.log.exception("MCP: failed to close idle room %s", room_id)
            await self._retry_failed_saves(now)

    async def _retry_failed_saves(self, now: float) -> None:
        """Save again the rooms (a browser's too) whose changes are not on disk, when due."""
        for room_id in self.saves.failing():
            if room_id in self._owned or room_id in self._closing:
                continue  # saved when the room closes
            retry = self._retries.setdefault(room_id, _SaveRetry())
            if now < retry.due:
                continue
            doc = await self.rooms.document(room_id, create=False)
            if not isinstance(doc, YNotebook) or not self.rooms.has_file(
                room_id
            ):  # the room is gone
                self.saves.forget(room_id)
                self._retries.pop(room_id, None)
                continue
            if await self._save(room_id, doc, self.rooms.path_of(room_id) or room_id):
                self._retries.pop(room_id, None)
            else:
                retry.failed(time.monotonic())

    async def _close_room(self, room_id: str, owned: _OwnedRoom) -> None:
        self._closing.add(room_id)
        try:
            doc = await self.rooms.document(room_id, create=False)
            async with self.rooms.lock(room_id):
                if self._owned.get(room_id) is owned:
                    del self._owned[room_id]
                if not isinstance(doc, YNotebook) or not self.rooms.exists(room_id):
                    return
                if self.rooms.browser_joined(room_id):
                    # A browser joined (and may have left): the room is jupyter_server_ydoc's to close,
                    # after its autosave has written what the browser and the agent did.
                    return
                if owned.in_use:  # used again while waiting for the lock
                    self._owned.setdefault(room_id, owned)
                    return
                unsaved = self.saves.failure(room_id) is not None
                if (owned.edited or unsaved) and not await self._save(room_id, doc, owned.path):
                    # Closing would lose the changes: keep the room, and try again later.
                    self._owned.setdefault(room_id, owned)
                    self._retries.setdefault(room_id, _SaveRetry()).failed(time.monotonic())
                    return
                self._retries.pop(room_id, None)
                self.log.info("MCP: closing idle notebook room %s (%s)", room_id, owned.path)
                await self.rooms.delete(room_id)
            await self.rooms.release_file(room_id)
        finally:
            self._closing.discard(room_id)

    async def _save(self, room_id: str, doc: YNotebook, path: str) -> bool:
        """Write the document to its file, the way the room's autosave does.

        True when the document is on disk (or the file changed on disk meanwhile: the room
        then takes the file's content, as jupyter_server_ydoc does).
        """
        self.rooms.watch_saves(room_id, self.saves.outcome)
        return await self._write(room_id, self.rooms.file_writer(room_id), path, doc.get())

    async def _write(
        self, room_id: str, write: FileWriter, path: str, content: dict[str, Any]
    ) -> bool:
        try:
            written = await write(content)
        except Exception as error:  # recorded by the save watch
            self.log.debug("MCP: saving %s failed: %r", path, error)
            return False
        if not written:
            self.log.warning("MCP: did not save %s: the file changed on disk meanwhile", path)
            return True
        return self.saves.failure(room_id) is None

    async def stop(self) -> None:
        """Save agent edits of rooms opened here (server shutdown), then stop the reaper."""
        # Snapshot before the first await: jupyter_server_ydoc stops its rooms concurrently.
        pending = []
        for room_id, owned in self._owned.items():
            unsaved = self.saves.failure(room_id) is not None
            if (owned.edited or unsaved) and owned.doc is not None:
                pending.append(
                    (room_id, self.rooms.file_writer(room_id), owned.path, owned.doc.get())
                )
        self._owned.clear()
        self._stopped = True
        if self._reaper is not None:
            self._reaper.cancel()
        for room_id, write, path, content in pending:
            if not await self._write(room_id, write, path, content):
                self.log.error(
                    "MCP: the changes to %s are lost: they could not be saved before the server stopped",
                    path,
                )


def _placeholder_like(cell: dict[str, Any]) -> dict[str, Any]:
    """The cell jupyter_ydoc's YNotebook.set adds to a notebook without cells, with ``cell``'s id."""
    return {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"trusted": True},
        "outputs": [],
        "source": "",
        "id": cell.get("id"),
    }
