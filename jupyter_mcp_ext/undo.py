"""Undo and redo of an agent's changes: per agent and live notebook, one step per tool call.

Each agent that changes a live notebook gets, there, a pycrdt ``UndoManager`` tracking only its own
transaction origin in the notebook's cells (sources, outputs, cell metadata; tools never change the
notebook's own metadata). Undoing takes back only the agent's changes: what people typed stays,
also inside the agent's cells — except a cell the step created (or, for a redo, deleted): removing
it would take along what a person typed in it since, so such a step is refused.

One tool call is one step. pycrdt cannot be told to stop capturing, so the manager's clock is a
counter that moves on when the call changes (capture timeout 1): the changes of one call, outputs
of its run included, merge into one stack item. A step keeps how many stack items it has in case
they did not merge (calls of one agent interleaving).

The history lives with the room's document: when the room closes it ends. Its undo (and redo)
transactions read as the agent's own origin, so other modules count them as the agent's changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from jupyter_ydoc import YNotebook
from pycrdt import UndoManager

from . import cells
from .agents import Agent, current_agent
from .errors import UsageError

# Tools whose step creates the cell named by its result's cell_id (a move re-creates the cell), and
# those whose step deletes cells (the result's cell_id, or its "deleted" list).
CREATES_CELL = {
    "append_markdown_cell",
    "append_code_cell",
    "insert_cell",
    "insert_execute_code_cell",
    "move_cell",
}
DELETES_CELLS = {"delete_cell", "move_cell"}

# What a step did, by tool; other tools "changed".
_VERBS = {
    "append_markdown_cell": "inserted",
    "append_code_cell": "inserted",
    "insert_cell": "inserted",
    "insert_execute_code_cell": "inserted and ran",
    "overwrite_cell_source": "edited",
    "edit_cell_source": "edited",
    "move_cell": "moved",
    "execute_cell": "ran",
    "clear_cell_output": "cleared outputs of",
    "delete_cell": "deleted",
}


# Most steps one undo or redo takes.
MAX_STEPS = 100


class UndoRefused(UsageError):
    """Undoing (or redoing) would lose what someone else did; nothing was changed."""


@dataclass(eq=False)
class Recording:
    """One tool call of an agent: the histories its changes went to, and what it returned."""

    agent: Agent
    tool: str
    result: Any = None  # the tool's structured result, once it returned
    touched: set[_History] = field(default_factory=set)


_recording: ContextVar[Recording | None] = ContextVar("jupyter_mcp_ext_undo_call", default=None)


@dataclass(eq=False)
class Step:
    description: str
    at: float  # unix time the call ended
    items: int  # the undo manager's stack items it spans
    creates: tuple[str, ...] = ()  # ids of cells undoing it removes
    deletes: tuple[str, ...] = ()  # ids of cells redoing it removes
    sources: dict[str, int] = field(default_factory=dict)  # their source hashes when left alone

    def as_json(self) -> dict[str, Any]:
        return {"description": self.description, "at": self.at}


def agent_id(agent: Agent) -> str:
    """An opaque id of the agent for people's clients (not its origin, which names its session)."""
    return hashlib.sha256(agent.origin.encode()).hexdigest()[:16]


class _History:
    """One agent's steps in one live notebook."""

    def __init__(self, nb: YNotebook, agent: Agent, size: int) -> None:
        self.nb = nb
        self.agent = agent
        self.id = agent_id(agent)
        self.size = size
        self.undo: list[Step] = []
        self.redo: list[Step] = []
        self.running: set[Recording] = set()  # calls that changed the notebook and have not ended
        self._clock = 0
        self._last: Recording | bool | None = False  # the call of the last change
        self._pushed = 0  # stack items pushed since the last settle
        self._replaying = False
        self.manager = self._manager([], [])

    def _manager(self, undo_stack: list[Any], redo_stack: list[Any]) -> UndoManager:
        manager = UndoManager(
            scopes=[self.nb.ycells],
            capture_timeout_millis=1,
            timestamp=self._timestamp,
            undo_stack=undo_stack,
            redo_stack=redo_stack,
        )
        manager.include_origin(self.agent.origin)
        # pycrdt reads a transaction's origin through this map: the manager's undo and redo
        # transactions then read as the agent's (a private attribute of pycrdt 0.14's Doc).
        self.nb.ydoc._origins[manager.origin] = self.agent.origin
        return manager

    def _timestamp(self) -> int:
        # Called by pycrdt inside each of the agent's transactions: cheap, and never raises.
        if self._replaying:
            return self._clock
        call = _recording.get()
        if call is not self._last:
            # pycrdt starts a new stack item exactly when the clock moves on.
            self._last = call
            self._clock += 2
            self._pushed += 1
        if call is not None:
            call.touched.add(self)
            self.running.add(call)
        return self._clock

    # -- recording ------------------------------------------------------------------------------

    def settle(self, call: Recording | None) -> None:
        """Make the stack items not yet in a step one step of ``call`` (None: changes outside calls)."""
        self.running.discard(call)
        new, self._pushed = self._pushed, 0
        if new == 0:
            return
        self.redo.clear()  # pycrdt dropped its redo stack at the first new change
        result = _plain(call.result) if call is not None else {}
        tool = call.tool if call is not None else "change"
        step = Step(
            description=_describe(tool, result),
            at=time.time(),
            items=new,
            creates=_created(tool, result),
            deletes=_deleted(tool, result),
        )
        step.sources = self._sources(step.creates, result.get("cell_index"))
        self.undo.append(step)
        if len(self.undo) > self.size + self.size // 4:
            self._trim()

    def undoable(self) -> list[Step]:
        """The steps that can be undone: the latest ``size`` (older ones are dropped in batches)."""
        return self.undo[-self.size :]

    def _trim(self) -> None:
        """Forget the oldest steps beyond the history size (pycrdt drops no stack items: a new
        manager takes the stacks without them)."""
        dropped = self.undo[: len(self.undo) - self.size]
        del self.undo[: len(dropped)]
        skip = sum(step.items for step in dropped)
        old = self.manager
        undo_stack, redo_stack = old.undo_stack[skip:], old.redo_stack
        self.nb.ydoc._origins.pop(old.origin, None)
        self.manager = self._manager(undo_stack, redo_stack)

    @staticmethod
    def _match(steps: list[Step], items: int) -> None:
        """Drop the top steps whose stack items are gone (pycrdt drops the redo stack at a new change)."""
        while steps and sum(step.items for step in steps) > items:
            excess = sum(step.items for step in steps) - items
            if steps[-1].items > excess:
                steps[-1].items -= excess
            else:
                steps.pop()

    def _sources(self, ids: tuple[str, ...], hint: int | None = None) -> dict[str, int]:
        found = {}
        for cell_id in ids:
            cell = cells.find_cell(self.nb, cell_id, hint if isinstance(hint, int) else None)
            if cell is not None:
                found[cell_id] = hash(str(cell[1].get("source")))
        return found

    # -- undoing --------------------------------------------------------------------------------

    def replay(self, undo: bool) -> Step | None:
        """Undo (or redo) the top step; None if it had nothing left to change."""
        steps, other = (self.undo, self.redo) if undo else (self.redo, self.undo)
        step = steps[-1]
        self._check(step, step.creates if undo else step.deletes)
        manager = self.manager
        stack, back = (
            (manager.undo_stack, manager.redo_stack)
            if undo
            else (manager.redo_stack, manager.undo_stack)
        )
        target, before = len(stack) - step.items, len(back)
        apply, revert = (manager.undo, manager.redo) if undo else (manager.redo, manager.undo)
        self._replaying = True
        try:
            left = len(stack)
            while left > target and apply():
                left = len(manager.undo_stack if undo else manager.redo_stack)
            if left < target:
                # pycrdt skips items with nothing left to change and went on into an older step:
                # put that one back.
                revert()
        finally:
            self._replaying = False
            self._last = False  # pycrdt starts a new stack item after an undo
            cells.forget_positions(self.nb)
        steps.pop()
        self._match(steps, len(manager.undo_stack if undo else manager.redo_stack))
        done = len(manager.redo_stack if undo else manager.undo_stack) - before
        if done <= 0:
            return None
        step.items = done
        step.sources = self._sources(step.deletes if undo else step.creates)
        other.append(step)
        return step

    def _check(self, step: Step, removed: tuple[str, ...]) -> None:
        """Refuse a step that would remove a cell someone changed since the agent left it."""
        for cell_id in removed:
            found = cells.find_cell(self.nb, cell_id)
            if found is None:
                continue
            if hash(str(found[1].get("source"))) != step.sources.get(cell_id):
                raise UndoRefused(
                    f"Cannot take back '{step.description}': it would remove cell {found[0]} "
                    f"(id {cell_id}), and someone else (a person) changed that cell since. "
                    "Their text would be lost, so nothing was changed. Edit or delete the cell "
                    "instead."
                )

    def listing(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.agent.name,
            "undo": [step.as_json() for step in reversed(self.undoable())],
            "redo": [step.as_json() for step in reversed(self.redo)],
        }


class UndoHistories:
    """The agents' undo histories of the live notebooks."""

    def __init__(self, size: int) -> None:
        self.size = size  # steps kept per agent per notebook
        self._histories: WeakKeyDictionary[YNotebook, dict[str, _History]] = WeakKeyDictionary()

    @contextlib.contextmanager
    def recording(self, agent: Agent | None, tool: str) -> Iterator[Recording | None]:
        """A tool call of ``agent``: what it changes in notebooks becomes one step of its history."""
        if agent is None:
            yield None
            return
        call = Recording(agent, tool)
        token = _recording.set(call)
        try:
            yield call
        finally:
            _recording.reset(token)
            for history in call.touched:
                history.settle(call)

    def track(self, nb: YNotebook) -> None:
        """The acting agent is about to change ``nb``: start its history there (before its first
        transaction, which would otherwise not be tracked)."""
        agent = current_agent()
        if agent is None:
            return
        histories = self._histories.setdefault(nb, {})
        if agent.origin not in histories:
            histories[agent.origin] = _History(nb, agent, self.size)

    def agents(self, nb: YNotebook | None) -> list[dict[str, Any]]:
        """The agents with something to undo or redo in ``nb``, with their steps, latest first."""
        if nb is None:
            return []
        listed = []
        for history in self._histories.get(nb, {}).values():
            if not history.running:
                history.settle(None)
            if history.undoable() or history.redo:
                listed.append(history.listing())
        return listed

    def find(self, nb: YNotebook | None, *, origin: str = "", id: str = "") -> _History | None:
        for history in self._histories.get(nb, {}).values() if nb is not None else ():
            if history.agent.origin == origin or history.id == id:
                return history
        return None

    def replay(
        self, history: _History | None, *, undo: bool, steps: int, name: str = "the agent"
    ) -> list[str]:
        """Undo (or redo) up to ``steps`` steps of ``history``: the descriptions of those done.

        Each step is checked just before it is taken back: a refused one ends the run (the steps
        before it stay done; with one step, nothing changed).
        """
        action = "undo" if undo else "redo"
        if history is None:
            raise UsageError(f"Nothing to {action}: {name} has no changes to {action} here.")
        busy = history.running - {_recording.get()}
        if busy:
            raise UsageError(
                f"{history.agent.name} is still changing this notebook ({next(iter(busy)).tool}): "
                f"{action} once that call has ended."
            )
        history.settle(None)
        left = history.undoable if undo else lambda: history.redo
        if not left():
            raise UsageError(f"Nothing to {action}: {name} has no changes to {action} here.")
        done: list[str] = []
        while len(done) < steps and left():
            try:
                step = history.replay(undo)
            except UndoRefused as refused:
                if not done:
                    raise
                raise UndoRefused(
                    f"Did {action}: {'; '.join(done)}. Then stopped: {refused}"
                ) from None
            if step is not None:
                done.append(step.description)
        if not done:
            raise UsageError(
                f"Nothing to {action}: the changes of {name} here were already taken back by others."
            )
        return done


def _plain(result: Any) -> dict[str, Any]:
    if hasattr(result, "model_dump"):
        return result.model_dump(mode="json")
    return result if isinstance(result, dict) else {}


def _describe(tool: str, result: dict[str, Any]) -> str:
    """What a step did, from its call's result: e.g. 'insert_cell: inserted cell 3 (id ab12)'."""
    verb = _VERBS.get(tool, "changed")
    named = [
        (entry.get("index", entry.get("cell_index")), entry.get("cell_id"))
        for entry in result.get("deleted") or result.get("cleared") or result.get("cells") or []
        if isinstance(entry, dict)
    ]
    if "cell_id" in result:
        named = [(result.get("cell_index"), result["cell_id"])]
    if not named:
        return f"{tool}: {verb} the notebook"
    cells_text = ", ".join(
        f"{index} (id {cell_id})" if index is not None else f"(id {cell_id})"
        for index, cell_id in named[:5]
    )
    more = f" and {len(named) - 5} more" if len(named) > 5 else ""
    plural = "cells" if len(named) > 1 else "cell"
    moved = f" from {result['from_index']}" if "from_index" in result else ""
    return f"{tool}: {verb} {plural} {cells_text}{more}{moved}"


def _created(tool: str, result: dict[str, Any]) -> tuple[str, ...]:
    return (str(result["cell_id"]),) if tool in CREATES_CELL and "cell_id" in result else ()


def _deleted(tool: str, result: dict[str, Any]) -> tuple[str, ...]:
    if tool not in DELETES_CELLS:
        return ()
    if "cell_id" in result:
        return (str(result["cell_id"]),)
    return tuple(str(entry.get("cell_id")) for entry in result.get("deleted") or [])
