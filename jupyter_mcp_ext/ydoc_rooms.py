"""The rooms of jupyter_server_ydoc, reached the way live notebooks need them.

Private API of jupyter-server-ydoc 3.x: the one place to check on upgrade. Everything else in
this package goes through ``YDocRooms``: the extension's room registry and room locks, the rooms'
file loaders, ``room.cleaner``/``ready``/``clients``, deleting rooms. Rooms are named by
jupyter_server_ydoc's room ids (``json:notebook:<file id>``), which follow a notebook through
renames. Presence and undo reach a room's awareness (``room.awareness``) and its document's undo
manager through here too: one method each.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from jupyter_server_ydoc.utils import (
    JUPYTER_COLLABORATION_EVENTS_URI,
    OutOfBandChanges,
    decode_file_path,
    encode_file_path,
    room_id_from_encoded_path,
)

from .errors import UsageError
from .paths import describe_contents_error

if TYPE_CHECKING:
    from jupyter_server_ydoc.app import YDocExtension
    from jupyter_server_ydoc.loaders import FileLoader
    from jupyter_ydoc import YNotebook
    from jupyter_ydoc.ybasedoc import YBaseDoc
    from pycrdt import Awareness

# Told the outcome of each save of a room's file: (room id, path, content saved, why the save
# failed, or None when the file holds the content or changed on disk and the room takes it over).
SaveListener = Callable[[str, str, Any, str | None], Awaitable[None]]

# Writes a notebook's content to its file; False when the file changed on disk meanwhile (the
# room then takes the file's content, as its autosave does). Raises when the write failed.
FileWriter = Callable[[dict[str, Any]], Awaitable[bool]]

# Told each message a client sends to a notebook's room: (the room's document, the message).
ClientListener = Callable[["YNotebook", bytes], None]

# Told the id of each notebook room once its document is loaded (a browser or this extension opened it).
RoomListener = Callable[[str], None]

NOTEBOOK_ROOM_PREFIX = "json:notebook:"

# The room of JupyterLab's server-wide awareness: who is on the server, in which notebook.
GLOBAL_AWARENESS_ROOM = "JupyterLab:globalAwareness"

_WATCHED = "_jupyter_mcp_ext_save_listener"
_LISTENS_TO = "_jupyter_mcp_ext_listens_to"
_log = logging.getLogger(__name__)


class YDocRooms:
    """The notebook rooms of jupyter_server_ydoc: lookup, documents, locks, deletion, file saves."""

    def __init__(self, serverapp: Any) -> None:
        self.serverapp = serverapp

    @property
    def _ext(self) -> YDocExtension:
        try:
            return self.serverapp.web_app.settings["jupyter_server_ydoc"]
        except KeyError:
            raise UsageError(
                "Live notebooks are unavailable: the jupyter_server_ydoc extension (jupyter-collaboration) "
                "is not enabled on this server."
            ) from None

    @property
    def _rooms(self) -> dict[str, Any]:
        return getattr(self._ext.ywebsocket_server, "rooms", {})

    # -- names ---------------------------------------------------------------------------------

    def room_id(self, path: str, *, index: bool) -> str | None:
        """The room id of the notebook at ``path``; None if its file has no id and ``index`` is False."""
        file_ids = self.serverapp.web_app.settings["file_id_manager"]
        file_id = file_ids.index(path) if index else file_ids.get_id(path)
        if file_id is None:
            return None
        return room_id_from_encoded_path(encode_file_path("json", "notebook", file_id))

    def path_of(self, room_id: str) -> str | None:
        """The contents path of a room's file now (after a rename: the new one); None once deleted."""
        return self.serverapp.web_app.settings["file_id_manager"].get_path(_file_id(room_id))

    # -- rooms ---------------------------------------------------------------------------------

    def exists(self, room_id: str) -> bool:
        return self._ext.ywebsocket_server.room_exists(room_id)

    def state(self, room_id: str | None) -> tuple[bool, int]:
        """(is the room in memory, how many browser connections it has)."""
        room = self._rooms.get(room_id) if room_id else None
        return room is not None, len(getattr(room, "clients", ()) or ())

    def any_connections(self) -> bool:
        """Whether a browser is connected to any room (no lookup of a file id)."""
        return any(getattr(room, "clients", None) for room in self._rooms.values())

    def notebook_rooms(self) -> list[str]:
        """The ids of the notebook rooms in memory now: opened by a browser or by this extension."""
        return [
            room_id
            for room_id in self._rooms
            if room_id.startswith(NOTEBOOK_ROOM_PREFIX)
            and getattr(self._rooms[room_id], "ready", False)
        ]

    def live_document(self, room_id: str) -> YNotebook | None:
        """The document of a loaded notebook room (no lock, no await: for observers), else None."""
        room = self._rooms.get(room_id)
        if room is None or not getattr(room, "ready", False):
            return None
        return getattr(room, "_document", None)

    def on_room_ready(self, listener: RoomListener) -> None:
        """Tell ``listener`` the id of every notebook room whose document is loaded from now on.

        Through jupyter_server_ydoc's "initialize" event (its event logger runs listeners as tasks,
        so shortly after the room is ready).
        """

        async def on_event(logger: Any, schema_id: str, data: dict[str, Any]) -> None:
            room_id = data.get("room")
            if (
                data.get("action") == "initialize"
                and isinstance(room_id, str)
                and room_id.startswith(NOTEBOOK_ROOM_PREFIX)
            ):
                listener(room_id)

        self.serverapp.event_logger.add_listener(
            schema_id=JUPYTER_COLLABORATION_EVENTS_URI, listener=on_event
        )

    def browser_joined(self, room_id: str) -> bool:
        """Whether a browser is connected to the room, or was: its cleanup is then scheduled."""
        room = self._rooms.get(room_id)
        return room is not None and bool(room.clients or room.cleaner is not None)

    async def document(self, room_id: str, *, create: bool) -> YBaseDoc | None:
        """The room's live document (not a copy); None if there is no room and ``create`` is False."""
        return await self._ext.get_document(room_id=room_id, copy=False, create=create)

    def lock(self, room_id: str) -> asyncio.Lock:
        """The lock jupyter_server_ydoc takes to open and close the room."""
        return self._ext._room_locks[room_id]

    async def delete(self, room_id: str) -> None:
        """Stop the room and take it out of the registry (its autosave does not run again)."""
        server = self._ext.ywebsocket_server
        await server.delete_room(room=server.rooms[room_id])

    async def release_file(self, room_id: str) -> None:
        """Stop watching the room's file, unless another room still uses it."""
        file_id, loaders = _file_id(room_id), self._ext.file_loaders
        if file_id in loaders and loaders[file_id].number_of_subscriptions == 0:
            await loaders.remove(file_id)

    def discard_failed(self, room_id: str) -> None:
        """Forget a room whose document could not be loaded, so the next request reads the file again.

        jupyter_server_ydoc stops such a room but leaves it registered, empty.
        """
        rooms = self._rooms
        room = rooms.get(room_id)
        if room is not None and not room.clients and not room.ready:
            # Already stopped: deleting it through the server would stop it twice.
            del rooms[room_id]

    def listen_to_clients(self, room_id: str, doc: YNotebook, listener: ClientListener) -> None:
        """Show ``listener`` every message a client sends to the room, before the room applies it.

        Through pycrdt-websocket's ``YRoom.on_message`` filter (unused by jupyter_server_ydoc); a
        filter another extension set is left in place, and then nothing is shown.
        """
        room = self._rooms.get(room_id)
        if room is None or getattr(room.on_message, _LISTENS_TO, None) is doc:
            return
        if room.on_message is not None:
            _log.debug(
                "MCP: room %s already filters its messages; not listening to its clients", room_id
            )
            return

        def on_message(message: bytes) -> bool:
            listener(doc, message)
            return False  # never filtered out: the room applies every message as before

        setattr(on_message, _LISTENS_TO, doc)
        room.on_message = on_message

    # -- awareness -----------------------------------------------------------------------------

    def awareness(self, room_id: str) -> Awareness | None:
        """The room's awareness: everyone's states in the notebook (None: no such room)."""
        room = self._rooms.get(room_id)
        return None if room is None else room.awareness

    def apply_awareness(self, room_id: str, update: bytes) -> None:
        """Apply an awareness update of the server's own (an agent's state) and send it to every client.

        pycrdt-websocket's room broadcasts the updates of its awareness whose origin is "local",
        with anyio's ``start_soon``: call this from inside a task (not from a loop callback).
        """
        awareness = self.awareness(room_id)
        if awareness is not None:
            awareness.apply_awareness_update(update, "local")

    def cell_source(self, room_id: str, cell_id: str, index: int) -> Any:
        """The source (pycrdt Text) of the cell at ``index`` if it still has id ``cell_id``, else None."""
        room = self._rooms.get(room_id)
        ycells = getattr(getattr(room, "_document", None), "ycells", None)
        if ycells is None or not 0 <= index < len(ycells):
            return None
        cell = ycells[index]
        return cell.get("source") if cell.get("id") == cell_id else None

    # -- saves ---------------------------------------------------------------------------------

    def has_file(self, room_id: str) -> bool:
        """Whether the room's file is watched (gone with the room, or when the server stops)."""
        return _file_id(room_id) in self._ext.file_loaders

    def watch_saves(self, room_id: str, listener: SaveListener) -> None:
        """Tell ``listener`` the outcome of every save of the room's file: its autosave's and ours.

        jupyter_server_ydoc's autosave only logs a failed save, and its file loader silently skips
        a file the contents manager reports read-only.
        """
        loader = self._ext.file_loaders[_file_id(room_id)]
        if getattr(loader, _WATCHED, None) == listener:
            return
        save: Callable[[dict[str, Any]], Awaitable[Any]] = loader.maybe_save_content

        async def maybe_save_content(model: dict[str, Any]) -> dict[str, Any] | None:
            content = model.get("content")
            try:
                saved = await save(model)
            except OutOfBandChanges:
                # The file changed on disk: the room takes it over, as designed.
                await listener(room_id, loader.path, content, None)
                raise
            except Exception as error:
                await listener(room_id, loader.path, content, describe_contents_error(error))
                raise
            # None is what the loader returns when the file is not writable.
            await listener(
                room_id, loader.path, content, "the file is read-only" if saved is None else None
            )
            return saved

        loader.maybe_save_content = maybe_save_content
        setattr(loader, _WATCHED, listener)

    def file_writer(self, room_id: str) -> FileWriter:
        """What writes the room's file the way its autosave does, taken now.

        Taken before jupyter_server_ydoc drops its file loaders at server shutdown, it still writes
        after; a loader made anew would refuse to (it has never read the file).
        """
        loader: FileLoader = self._ext.file_loaders[_file_id(room_id)]

        async def write(content: dict[str, Any]) -> bool:
            try:
                await loader.maybe_save_content(
                    {"format": "json", "type": "notebook", "content": content}
                )
            except OutOfBandChanges:
                return False
            return True

        return write


def _file_id(room_id: str) -> str:
    return decode_file_path(room_id)[2]
