"""Agents as collaborators: while an agent works in a notebook, the people in it see it there.

Each agent working in a notebook has an awareness state in the notebook's room, like a browser's:
its name ("Claude Code · agent of alice"), a colour of its own and where it is — the cell it
edits or runs, as ``cell`` and as a cursor at the start of the cell's source (Yjs relative
positions: pycrdt's ``StickyIndex`` JSON, with the fields it leaves out set to null as Yjs
needs). So JupyterLab's collaborator list and cell indicators show it with nothing new in the UI.

jupyter_server_ydoc autosaves a notebook unless every state in its room says ``autosave: false``.
An agent's state leaves that to the people: false while a person is in the notebook (their own
states decide), true when only agents are (autosaved, as without presence).

The state is renewed while the agent works (Yjs clients drop a state not renewed within 30 s) and
taken away ``idle_time`` after the end of the agent's last call that touched a cell there, and
when the agent's MCP session ends. Presence never fails or delays a tool call: its errors are logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pycrdt import Assoc, Awareness, Doc, StickyIndex

from .agents import Agent
from .ydoc_rooms import GLOBAL_AWARENESS_ROOM, YDocRooms

# Colours of agents, far apart from each other; an agent keeps its colour while it is present.
PALETTE = (
    "#d81b60",
    "#1e88e5",
    "#43a047",
    "#fb8c00",
    "#8e24aa",
    "#00897b",
    "#6d4c41",
    "#3949ab",
)

# Renew states well within the 30 s after which Yjs clients and the room drop them.
RENEW_EVERY = 10.0

# An agent's moves within this many seconds are shown as one update.
SHOW_AFTER = 0.1

ACTIONS = {"edit": "editing", "execute": "running"}


@dataclass
class _Shown:
    """One agent's state in one notebook's room."""

    agent: Agent
    awareness: Awareness  # the agent's own (its client id), whose updates the room applies
    where: tuple[str, ...] = ()  # what the state shows: (cell id, action), or (path,)
    last_active: float = 0.0
    last_sent: float = 0.0


@dataclass
class _Watched:
    """A notebook room's awareness, watched for people coming and going while agents are in it."""

    awareness: Awareness
    subscription: str


@dataclass
class Presence:
    """Shows agents in the awareness of the notebooks they work in, and takes them away."""

    rooms: YDocRooms
    log: logging.Logger
    idle_time: float  # seconds without a call at a cell after which an agent is taken away
    _shown: dict[tuple[str, str], _Shown] = field(default_factory=dict)  # by (origin, room id)
    _colours: dict[str, str] = field(default_factory=dict)  # by origin, of present agents
    _busy: dict[str, int] = field(default_factory=dict)  # by origin: the agent's calls running
    _moves: dict[tuple[Agent, str], tuple[str, int, str]] = field(default_factory=dict)
    _shower: asyncio.Task | None = None  # shows the moves, SHOW_AFTER after the first
    _ticker: asyncio.Task | None = None
    _watched: dict[str, _Watched] = field(default_factory=dict)  # by room id
    _people_changed_in: set[str] = field(default_factory=set)  # room ids
    _autosaver: asyncio.Task | None = None  # brings agents' autosave in line with who is there

    @contextlib.contextmanager
    def working(self, agent: Agent | None) -> Iterator[None]:
        """A call of the agent runs: it is not idle until the call ends (a long run included)."""
        if agent is None:
            yield
            return
        origin = agent.origin
        self._busy[origin] = self._busy.get(origin, 0) + 1
        try:
            yield
        finally:
            if self._busy[origin] > 1:
                self._busy[origin] -= 1
            else:
                del self._busy[origin]
            now = time.monotonic()
            for (shown_origin, _), shown in self._shown.items():
                if shown_origin == origin:
                    shown.last_active = now

    def at_cell(self, agent: Agent | None, path: str, cell_id: str, index: int, why: str) -> None:
        """The agent works at a cell ("edit" or "execute"): show it there, shortly after the call
        (so a burst of calls costs one update, none of them waiting for it)."""
        if agent is None:
            return
        self._moves[(agent, path)] = (cell_id, index, ACTIONS.get(why, why))
        if self._shower is None or self._shower.done():
            self._shower = asyncio.get_running_loop().create_task(
                self._show_moves(), name="jupyter-mcp-ext presence moves"
            )

    async def _show_moves(self) -> None:
        while self._moves:
            await asyncio.sleep(SHOW_AFTER)
            moves, self._moves = self._moves, {}
            for (agent, path), (cell_id, index, action) in moves.items():
                try:
                    self._show(agent, path, cell_id, index, action)
                except BaseException as error:  # pycrdt panics are BaseExceptions
                    if isinstance(error, (KeyboardInterrupt, SystemExit)):
                        raise
                    self.log.warning(
                        "MCP: could not show agent %s in %s: %r", agent.name, path, error
                    )

    def _show(self, agent: Agent, path: str, cell_id: str, index: int, action: str) -> None:
        room_id = self.rooms.room_id(path, index=False)
        if room_id is None:
            return
        self._watch_people(room_id)
        self._present(
            agent,
            room_id,
            (cell_id, action),
            lambda: {
                "user": self._user(agent),
                "cell": {"cellId": cell_id, "action": action},
                "cursors": _cursors(self.rooms, room_id, cell_id, index),
                "autosave": not self._person_in(room_id),
            },
        )
        # JupyterLab's collaborators panel lists the server-wide awareness, with each one's notebook.
        self._present(
            agent,
            GLOBAL_AWARENESS_ROOM,
            (path,),
            lambda: {"user": self._user(agent), "current": f"notebook:{path}", "documents": [path]},
        )
        self._ensure_ticker()

    def _present(
        self, agent: Agent, room_id: str, where: tuple[str, ...], state: Callable[[], dict]
    ) -> None:
        """Show the agent in a room; a new ``state()`` is sent only when ``where`` changed (or is
        due to be renewed)."""
        now = time.monotonic()
        key = (agent.origin, room_id)
        shown = self._shown.get(key)
        if shown is None:
            shown = self._shown[key] = _Shown(agent, Awareness(Doc()))
        shown.last_active = now
        if shown.where == where and now - shown.last_sent < RENEW_EVERY:
            return
        shown.where = where
        self._send(room_id, shown, state(), now)

    def session_ended(self, session_id: str) -> None:
        """An MCP session ended (the client deleted it, or it idled out): its agent leaves."""
        for agent, path in list(self._moves):
            if agent.session == session_id:
                del self._moves[(agent, path)]
        for key, shown in list(self._shown.items()):
            if shown.agent.session == session_id:
                self._leave(key, shown)

    def stop(self) -> None:
        self._moves.clear()
        for key, shown in list(self._shown.items()):
            self._leave(key, shown)
        for task in (self._shower, self._ticker, self._autosaver):
            if task is not None:
                task.cancel()

    # -- states ---------------------------------------------------------------------------------

    def _user(self, agent: Agent) -> dict[str, Any]:
        """The ``user`` of the state, as JupyterLab's identity: what collaborator lists show."""
        return {
            "username": agent.origin,
            "name": agent.name,
            "display_name": agent.name,
            "initials": "".join(word[0] for word in agent.client.split()[:2]).upper() or "AI",
            "color": self._colour(agent.origin),
            "avatar_url": None,
        }

    def _colour(self, origin: str) -> str:
        """The agent's colour: stable while it is present, different from the other agents' then."""
        colour = self._colours.get(origin)
        if colour is None:
            taken = set(self._colours.values())
            start = zlib.crc32(origin.encode())
            free = [
                PALETTE[(start + i) % len(PALETTE)]
                for i in range(len(PALETTE))
                if PALETTE[(start + i) % len(PALETTE)] not in taken
            ]
            colour = self._colours[origin] = free[0] if free else PALETTE[start % len(PALETTE)]
        return colour

    def _send(self, room_id: str, shown: _Shown, state: dict[str, Any] | None, now: float) -> None:
        """Set the agent's state (None: take it away) and have the room tell every client."""
        shown.awareness.set_local_state(state)
        shown.last_sent = now
        self.rooms.apply_awareness(
            room_id, shown.awareness.encode_awareness_update([shown.awareness.client_id])
        )

    def _leave(self, key: tuple[str, str], shown: _Shown) -> None:
        del self._shown[key]
        if not any(origin == key[0] for origin, _ in self._shown):
            self._colours.pop(key[0], None)
        if not any(room_id == key[1] for _, room_id in self._shown):
            self._unwatch_people(key[1])
        try:
            self._send(key[1], shown, None, time.monotonic())
        except Exception as error:
            self.log.warning("MCP: could not take agent %s away: %r", shown.agent.name, error)

    # -- autosave: the people's choice -----------------------------------------------------------

    def _person_in(self, room_id: str) -> bool:
        """Whether a state in the room is someone's other than this server's agents'."""
        awareness = self.rooms.awareness(room_id)
        if awareness is None:
            return False
        agents = {
            shown.awareness.client_id for (_, r), shown in self._shown.items() if r == room_id
        }
        return any(state for client, state in awareness.states.items() if client not in agents)

    def _watch_people(self, room_id: str) -> None:
        """Watch the room's awareness (again, if the room was opened anew) while agents are there."""
        awareness = self.rooms.awareness(room_id)
        watched = self._watched.get(room_id)
        if watched is not None and watched.awareness is awareness:
            return
        self._unwatch_people(room_id)
        if awareness is None:
            return

        def changed(topic: str, event: tuple[dict[str, Any], Any]) -> None:
            if topic == "change" and event[1] != "local":  # not the agents' own states
                self._people_changed_in.add(room_id)
                if self._autosaver is None or self._autosaver.done():
                    self._autosaver = asyncio.get_running_loop().create_task(
                        self._follow_people(), name="jupyter-mcp-ext presence autosave"
                    )

        self._watched[room_id] = _Watched(awareness, awareness.observe(changed))

    def _unwatch_people(self, room_id: str) -> None:
        watched = self._watched.pop(room_id, None)
        if watched is not None:
            watched.awareness.unobserve(watched.subscription)

    async def _follow_people(self) -> None:
        """Someone came or went: agents' states say autosave false if a person is there now.
        (Runs without an await: changes told meanwhile start the next run.)"""
        rooms, self._people_changed_in = self._people_changed_in, set()
        for (_, room_id), shown in list(self._shown.items()):
            state = shown.awareness.get_local_state()
            if room_id not in rooms or not state:
                continue
            autosave = not self._person_in(room_id)
            if state.get("autosave") != autosave:
                try:
                    self._send(room_id, shown, {**state, "autosave": autosave}, time.monotonic())
                except Exception:
                    self.log.exception(
                        "MCP: presence of %s in %s failed", shown.agent.name, room_id
                    )

    # -- renewing and idling out ----------------------------------------------------------------

    def _ensure_ticker(self) -> None:
        if self._ticker is None or self._ticker.done():
            self._ticker = asyncio.create_task(self._tick(), name="jupyter-mcp-ext presence")

    async def _tick(self) -> None:
        interval = max(0.05, min(RENEW_EVERY, self.idle_time) / 4)
        while self._shown:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for key, shown in list(self._shown.items()):
                try:
                    idle = key[0] not in self._busy and now - shown.last_active >= self.idle_time
                    if idle or not self.rooms.exists(key[1]):
                        self._leave(key, shown)
                    elif now - shown.last_sent >= RENEW_EVERY:
                        self._send(key[1], shown, shown.awareness.get_local_state(), now)
                except Exception:
                    self.log.exception("MCP: presence of %s in %s failed", shown.agent.name, key[1])


def _cursors(rooms: YDocRooms, room_id: str, cell_id: str, index: int) -> list[dict[str, Any]]:
    """A cursor at the start of the cell's source, as JupyterLab's editors publish theirs."""
    source = rooms.cell_source(room_id, cell_id, index)
    if source is None:
        return []
    # Yjs tells absent fields by null: pycrdt leaves them out.
    start = {"type": None, "tname": None, "item": None}
    start.update(StickyIndex.new(source, 0, Assoc.BEFORE).to_json())
    return [{"anchor": start, "head": start, "primary": True, "empty": True}]
