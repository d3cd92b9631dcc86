"""A browser stand-in: a real pycrdt peer on the collaboration websocket, as JupyterLab joins a notebook."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote

import httpx2
import pytest
import websockets
from jupyter_ydoc import YNotebook
from pycrdt import Channel, Doc, Provider, Text
from websockets.exceptions import ConnectionClosed

HUMAN_ORIGIN = "human"


# -- the browser stand-in ----------------------------------------------------------------------


class WebsocketChannel(Channel):
    """A pycrdt ``Channel`` over a ``websockets`` client connection.

    ``Provider`` iterates the channel until ``StopAsyncIteration``; ``websockets`` raises
    ``ConnectionClosed`` instead, which would crash the provider's task group, so it is turned
    into the end of the iteration (as pycrdt's own ``HttpxWebsocket`` does).

    ``hold()``/``release()`` let a test take the peer off the network without closing the
    connection: messages to send are kept, received ones are not applied, until released.
    Edits made meanwhile are truly concurrent with the server's.
    """

    def __init__(self, websocket: Any, path: str) -> None:
        self._websocket = websocket
        self._path = path
        self._send_lock = asyncio.Lock()  # the provider sends from two tasks
        self._online = asyncio.Event()
        self._online.set()
        self._held: list[bytes] = []

    @property
    def path(self) -> str:
        return self._path

    async def __anext__(self) -> bytes:
        try:
            return await self.recv()
        except ConnectionClosed:
            raise StopAsyncIteration() from None

    async def send(self, message: bytes) -> None:
        async with self._send_lock:
            if not self._online.is_set():
                self._held.append(message)
                return
            await self._websocket.send(message)

    async def recv(self) -> bytes:
        while True:
            message = await self._websocket.recv()
            await self._online.wait()
            if isinstance(message, bytes):
                return message

    def hold(self) -> None:
        self._online.clear()

    async def release(self) -> None:
        async with self._send_lock:
            for message in self._held:
                await self._websocket.send(message)
            self._held.clear()
            self._online.set()


class Peer:
    """A browser tab with a notebook open: the Y document it edits, kept in sync by a provider."""

    def __init__(self, nb: YNotebook, channel: WebsocketChannel, room_id: str) -> None:
        self.nb = nb
        self.channel = channel
        self.room_id = room_id
        self._changed = asyncio.Event()
        # Kept, like the observed object (nb keeps ycells): see Deltas.
        self._subscription = nb.ycells.observe_deep(lambda events: self._changed.set())

    def sources(self) -> list[str]:
        return [str(cell["source"]) for cell in self.nb.ycells]

    def source(self, cell_id: str) -> str:
        for cell in self.nb.ycells:
            if cell.get("id") == cell_id:
                return str(cell["source"])
        raise KeyError(cell_id)

    def cell_ids(self) -> list[str]:
        return [str(cell.get("id")) for cell in self.nb.ycells]

    def text(self, cell_id: str) -> Text:
        for cell in self.nb.ycells:
            if cell.get("id") == cell_id:
                return cell["source"]
        raise KeyError(cell_id)

    def type_at_end(self, cell_id: str, typed: str) -> None:
        ytext = self.text(cell_id)
        with self.nb.ydoc.transaction(origin=HUMAN_ORIGIN):
            ytext.insert(len(ytext), typed)

    def insert_cell(self, index: int, source: str) -> str:
        ycell = self.nb.create_ycell({"cell_type": "markdown", "source": source, "metadata": {}})
        with self.nb.ydoc.transaction(origin=HUMAN_ORIGIN):
            self.nb.ycells.insert(index, ycell)
        return str(ycell["id"])

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``predicate()`` holds for the peer's document (re-checked on every change)."""
        deadline = time.monotonic() + timeout
        while True:
            self._changed.clear()
            if predicate():
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"the peer's document never got there; its sources: {self.sources()}"
                )
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    @contextlib.asynccontextmanager
    async def offline(self) -> AsyncIterator[None]:
        """Edits made inside are sent, and the server's changes applied, only on exit."""
        self.channel.hold()
        try:
            yield
        finally:
            await self.channel.release()


async def notebook_room(server_url: str, token: str, path: str) -> tuple[str, str]:
    """(room id, websocket URL) of the collaboration room of the notebook at ``path``, asked for as
    JupyterLab asks (connect with the header ``Authorization: token <token>``)."""
    headers = {"Authorization": f"token {token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        response = await http.put(
            f"{server_url}api/collaboration/session/{quote(path)}",
            json={"format": "json", "type": "notebook"},
        )
    assert response.status_code in (200, 201), response.text
    session = response.json()
    room_id = f"json:notebook:{session['fileId']}"
    url = (
        "ws"
        + server_url.removeprefix("http")
        + f"api/collaboration/room/{room_id}?sessionId={session['sessionId']}"
    )
    return room_id, url


@contextlib.asynccontextmanager
async def open_peer(server_url: str, token: str, path: str) -> AsyncIterator[Peer]:
    """A browser-like peer with the notebook at ``path`` open, as JupyterLab joins it."""
    room_id, url = await notebook_room(server_url, token, path)
    headers = {"Authorization": f"token {token}"}
    async with websockets.connect(url, additional_headers=headers, proxy=None) as websocket:
        doc = Doc()
        nb = YNotebook(doc)
        channel = WebsocketChannel(websocket, room_id)
        async with Provider(doc, channel) as provider:
            # The server answers the provider's SYNC_STEP1 with the whole document.
            await asyncio.wait_for(provider.synced.wait(), 10)
            yield Peer(nb, channel, room_id)


@pytest.fixture
def browser(server_url: str, token: str):
    """``async with browser(path) as peer:`` — a browser-like peer with the notebook open."""

    def open_notebook(path: str) -> contextlib.AbstractAsyncContextManager[Peer]:
        return open_peer(server_url, token, path)

    return open_notebook
