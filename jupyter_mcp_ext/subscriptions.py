"""Who is subscribed to which notebook resource, and telling them when it changes, in both eras.

A subscriber is a handshake-era MCP session (``resources/subscribe``: updates go out on its GET
stream) or one 2026-07-28 ``subscriptions/listen`` stream (served here, not by the SDK's
``ListenHandler``, which tells every listener on the server whoever it belongs to). Every
subscriber belongs to one user (principal) and is told only of what it subscribed to itself, with
its own permission; the list of resources (open notebooks, the user's current one) changes per user.

Changes come from each watched notebook's revision tracker, one per live document: the documents of
notebooks someone is subscribed to, attached when subscribed or when the notebook's room opens later
(jupyter_server_ydoc's room event), and let go when the last subscriber leaves.

A client that asks so is not told of its own changes: ``_meta: {"jupyter-mcp-ext/skipOwnChanges":
true}`` on ``resources/subscribe`` or ``subscriptions/listen``; "own" means the agent's transaction
origin (its MCP session, or for a sessionless client its client name).

Each subscriber is told of one resource at most every ``MIN_INTERVAL`` seconds: the first change
at once, then one notification for whatever changed meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import mcp_types as types
from anyio.streams.memory import MemoryObjectSendStream
from jupyter_ydoc import YNotebook
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import (
    SUBSCRIPTION_ID_META_KEY,
    ResourcesListChanged,
    ResourceUpdated,
    ServerEvent,
    event_to_notification,
)

from . import revisions
from .resources import NotebookURI
from .ydoc_rooms import YDocRooms

# The _meta key by which a subscription asks not to be told of the subscriber's own changes.
SKIP_OWN_CHANGES = "jupyter-mcp-ext/skipOwnChanges"

# At most two notifications per second per resource per subscriber.
MIN_INTERVAL = 0.5

# Events a listen stream holds for a client that does not read them; beyond, the stream ends (the
# client listens again and reads anew).
MAX_BUFFERED_EVENTS = 256

# The key under which a subscriber's list notifications are throttled (no resource has it).
_LIST = ""

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Subscription:
    named: NotebookURI
    skip_origin: str | None  # changes made with this origin are not told


@dataclass(eq=False)
class Subscriber:
    """One session's (or listen stream's) subscriptions; ``notify`` delivers an event to it."""

    principal: str
    notify: Callable[[ServerEvent], None]  # never raises, never blocks
    wants_list: bool = False
    uris: dict[str, _Subscription] = field(default_factory=dict)
    _last: dict[str, float] = field(default_factory=dict)  # by uri: when it was last told
    _due: dict[str, asyncio.TimerHandle] = field(default_factory=dict)  # by uri: told later

    def tell(self, uri: str) -> None:
        """Tell of ``uri`` (a resource, or _LIST) now, or once MIN_INTERVAL has passed since the last time."""
        if uri in self._due:
            return
        loop = asyncio.get_running_loop()
        wait = self._last.get(uri, float("-inf")) + MIN_INTERVAL - loop.time()
        if wait <= 0:
            self._send(uri)
        else:
            self._due[uri] = loop.call_later(wait, self._send, uri)

    def _send(self, uri: str) -> None:
        self._due.pop(uri, None)
        self._last[uri] = asyncio.get_running_loop().time()
        self.notify(ResourcesListChanged() if uri == _LIST else ResourceUpdated(uri=uri))

    def cancel(self) -> None:
        for handle in self._due.values():
            handle.cancel()
        self._due.clear()


class Subscriptions:
    """Every subscriber of the server, the notebooks they watch, and delivery of changes to them."""

    def __init__(self, rooms: YDocRooms) -> None:
        self.rooms = rooms
        self._sessions: dict[str, Subscriber] = {}  # handshake era, by MCP session id
        self._streams: set[MemoryObjectSendStream[ServerEvent]] = set()  # 2026 listen streams
        self._subscribers: set[Subscriber] = set()
        self._by_path: dict[str, set[Subscriber]] = {}
        # By room id: the live document listened to, its path, and what stops listening.
        self._watched: dict[str, tuple[YNotebook, str, Callable[[], None]]] = {}
        self._tasks: set[asyncio.Task] = set()

    def start(self) -> None:
        self.rooms.on_room_ready(self._room_ready)

    # -- subscribing ---------------------------------------------------------------------------

    def subscribe(
        self, subscriber: Subscriber, uri: str, named: NotebookURI, skip: str | None
    ) -> None:
        self._subscribers.add(subscriber)
        subscriber.uris[uri] = _Subscription(named, skip)
        self._by_path.setdefault(named.path, set()).add(subscriber)
        room_id = self.rooms.room_id(named.path, index=False)
        if room_id is not None:
            self._watch(room_id, named.path)

    def unsubscribe(self, subscriber: Subscriber, uri: str) -> None:
        subscription = subscriber.uris.pop(uri, None)
        if subscription is None:
            return
        path = subscription.named.path
        if not any(s.named.path == path for s in subscriber.uris.values()):
            self._forget(subscriber, path)

    def drop(self, subscriber: Subscriber) -> None:
        """The subscriber is gone (its session ended, its stream closed)."""
        subscriber.cancel()
        for path in {s.named.path for s in subscriber.uris.values()}:
            self._forget(subscriber, path)
        subscriber.uris.clear()
        self._subscribers.discard(subscriber)

    def _forget(self, subscriber: Subscriber, path: str) -> None:
        subscribers = self._by_path.get(path, set())
        subscribers.discard(subscriber)
        if subscribers:
            return
        self._by_path.pop(path, None)
        for room_id, (_, watched_path, stop) in list(self._watched.items()):
            if watched_path == path:
                del self._watched[room_id]
                stop()

    # -- handshake era: subscriptions per MCP session ------------------------------------------

    def session(self, session_id: str, principal: str, session: Any) -> Subscriber:
        """The subscriber of a handshake-era session (made on its first subscription or listing)."""
        subscriber = self._sessions.get(session_id)
        if subscriber is None:

            def notify(event: ServerEvent) -> None:
                if isinstance(event, ResourceUpdated):
                    self._spawn(session.send_resource_updated(event.uri))
                else:
                    self._spawn(session.send_resource_list_changed())

            subscriber = self._sessions[session_id] = Subscriber(principal, notify)
            self._subscribers.add(subscriber)
        return subscriber

    def session_ended(self, session_id: str) -> None:
        subscriber = self._sessions.pop(session_id, None)
        if subscriber is not None:
            self.drop(subscriber)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log.warning("MCP: a resource notification could not be sent: %r", task.exception())

    # -- 2026-07-28: subscriptions/listen streams ----------------------------------------------

    async def listen(
        self,
        ctx: Any,
        principal: str,
        wants_list: bool,
        uris: list[tuple[str, NotebookURI]],
        skip: str | None,
    ) -> types.SubscriptionsListenResult:
        """Serve one listen stream (the request's response): the acknowledgment first, then its
        events, until the client goes away or the server stops. ``uris`` are checked already."""
        subscription_id = ctx.request_id
        if subscription_id is None:
            raise MCPError(types.INVALID_REQUEST, "subscriptions/listen requires a request id")
        meta: dict[str, Any] = {SUBSCRIPTION_ID_META_KEY: subscription_id}
        honored = types.SubscriptionFilter(
            resources_list_changed=True if wants_list else None,
            resource_subscriptions=[uri for uri, _ in uris] or None,
        )
        send, receive = anyio.create_memory_object_stream[ServerEvent](MAX_BUFFERED_EVENTS)

        def notify(event: ServerEvent) -> None:
            try:
                send.send_nowait(event)
            except anyio.WouldBlock:
                _log.warning("MCP: listen stream %r is not read; ending it", subscription_id)
                send.close()
            except anyio.ClosedResourceError:
                pass

        subscriber = Subscriber(principal, notify, wants_list=wants_list)
        self._subscribers.add(subscriber)
        for uri, named in uris:
            self.subscribe(subscriber, uri, named, skip)
        self._streams.add(send)
        try:
            await ctx.session.send_notification(
                types.SubscriptionsAcknowledgedNotification(
                    params=types.SubscriptionsAcknowledgedNotificationParams(
                        notifications=honored, _meta=meta
                    )
                ),
                related_request_id=subscription_id,
            )
            async for event in receive:
                await ctx.session.send_notification(
                    event_to_notification(event, meta), related_request_id=subscription_id
                )
        finally:
            self.drop(subscriber)
            self._streams.discard(send)
            send.close()
            receive.close()
        return types.SubscriptionsListenResult(_meta=meta)

    def stop(self) -> None:
        """End every listen stream gracefully (each sends its final result) and every pending timer."""
        for stream in list(self._streams):
            stream.close()
        for subscriber in self._subscribers:
            subscriber.cancel()

    # -- changes ---------------------------------------------------------------------------------

    def list_changed(self, principal: str | None = None) -> None:
        """The resource list changed for ``principal`` (None: for everyone: a notebook opened)."""
        for subscriber in list(self._subscribers):
            if subscriber.wants_list and principal in (None, subscriber.principal):
                subscriber.tell(_LIST)

    def _room_ready(self, room_id: str) -> None:
        path = self.rooms.path_of(room_id)
        if path is not None and path in self._by_path:
            self._watch(room_id, path)
        self.list_changed()

    def _watch(self, room_id: str, path: str) -> None:
        """Listen to the changes of the room's live document (again, if the room was reopened)."""
        doc = self.rooms.live_document(room_id)
        watched = self._watched.get(room_id)
        if doc is None or (watched is not None and watched[0] is doc):
            return
        if watched is not None:
            watched[2]()
        stop = revisions.tracker(doc).listen(lambda change: self._changed(path, change))
        self._watched[room_id] = (doc, path, stop)

    def _changed(self, path: str, change: revisions.Change) -> None:
        # Called for every change of a watched notebook, a person's keystrokes included: cheap,
        # and never raises (into the writer's transaction).
        try:
            for subscriber in self._by_path.get(path, ()):
                for uri, subscription in subscriber.uris.items():
                    named = subscription.named
                    if (
                        named.path == path
                        and (change.origin is None or change.origin != subscription.skip_origin)
                        and (named.cell_id is None or named.cell_id in change.cell_ids)
                    ):
                        subscriber.tell(uri)
        except Exception:  # pragma: no cover - defensive
            _log.exception("MCP: could not tell subscribers of a change of %s", path)
