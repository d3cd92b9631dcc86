"""What changed in a live notebook, when and by whom: its revisions.

Each live document has one ``Tracker``. Its revision grows with every transaction that changes
the cells or the notebook metadata, whoever makes it (a person typing, an agent, a run's
outputs). Agents get revisions as tokens ("<revision>@<epoch>") with every read and edit; with one
they ask what changed since (``changes_since``) or make an edit that is refused if someone else
changed that cell since (``check_unchanged``). The epoch is new for every live document: after
the room was closed and opened again, old tokens are refused instead of answered wrongly.

One deep observer of the cells (and one of the metadata) sees every transaction, a person's
keystrokes too: it only notes which cells changed, who changed them, and where cells are.
Sources are read when a token is handed out (``checkpoint``), and only those of cells changed
since the last one. Kept for the last ``keep`` tokens: the order of the cells, and each cell's
states since (a cell unchanged for a long time has one state, shared by every token).
"""

from __future__ import annotations

import asyncio
import difflib
import json
import logging
import secrets
import time
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple
from weakref import WeakKeyDictionary

from jupyter_ydoc import YNotebook
from pycrdt import Map

from .agents import AGENT_ORIGIN, current_agent, is_agent_origin
from .errors import UsageError

_log = logging.getLogger(__name__)

# What part of a cell a change touched: its source, the rest of it (outputs, execution count,
# metadata, type), or its place (added, deleted, moved).
SOURCE, CELL, PLACE = "source", "cell", "place"

# Bounds of what get_notebook_changes returns.
MAX_DIFF_LINES = 40
MAX_DIFF_CHARS = 4000
MAX_CELLS_REPORTED = 200

# A person's last change of a cell is remembered for recent_edits; old ones are dropped from
# this many cells on.
_FORGET_PERSONS_CHANGES_ABOVE = 1000
_PERSONS_CHANGES_KEPT_SECONDS = 60.0


@dataclass(frozen=True)
class Change:
    """One transaction that changed a notebook."""

    revision: int
    origin: str | None  # the agent's transaction origin; None: a person
    cell_ids: frozenset[str]  # the cells it changed, added or deleted (empty: notebook metadata)


class _CellState(NamedTuple):
    """A cell as an agent was shown it: shared by every kept revision it did not change in."""

    cell_type: str
    source: str
    execution_count: int | None
    output_count: int
    outputs_hash: int


def _state(cell: dict[str, Any]) -> _CellState:
    source = cell.get("source")
    outputs = cell.get("outputs") or []
    count = cell.get("execution_count")
    return _CellState(
        cell_type=str(cell.get("cell_type")),
        source="".join(map(str, source)) if isinstance(source, list) else str(source or ""),
        execution_count=int(count) if isinstance(count, (int, float)) and count == count else None,
        output_count=len(outputs) if isinstance(outputs, list) else 0,
        outputs_hash=hash(json.dumps(outputs, sort_keys=True)) if outputs else 0,
    )


# -- what changed -------------------------------------------------------------------------


ChangeKind = Literal["added", "deleted", "moved", "edited", "executed"]


@dataclass
class CellChange:
    cell_id: str
    kind: ChangeKind
    index: int | None  # where it is now (None: deleted)
    by: list[str | None]  # origins of who did it (None: a person)
    cell_type: str
    diff: str = ""  # edited: the source's unified diff, bounded
    execution_count: int | None = None  # executed
    output_count: int | None = None  # executed


@dataclass
class NotebookChanges:
    since: str
    revision: str
    changes: list[CellChange] = field(default_factory=list)
    metadata_by: list[str | None] = field(default_factory=list)  # who changed notebook metadata
    omitted: int = 0  # changed cells not listed (beyond MAX_CELLS_REPORTED)


def source_diff(old: str, new: str) -> str:
    """Unified-diff lines (no file headers) turning ``old`` into ``new``, cut to a bounded length."""
    lines = list(difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=1))[2:]
    shown = lines[:MAX_DIFF_LINES]
    text = "\n".join(shown)
    if len(text) > MAX_DIFF_CHARS:
        text = text[:MAX_DIFF_CHARS] + "…"
    if len(lines) > len(shown):
        text += f"\n… ({len(lines) - len(shown)} more diff lines: read the cell)"
    return text


def _longest_kept_order(ids: list[str], rank: dict[str, int]) -> set[str]:
    """Of cells present before and after, the largest set still in their old relative order."""
    tails: list[int] = []
    tail_ids: list[int] = []
    previous: list[int] = [-1] * len(ids)
    for position, cell_id in enumerate(ids):
        value = rank[cell_id]
        at = bisect_left(tails, value)
        if at == len(tails):
            tails.append(value)
            tail_ids.append(position)
        else:
            tails[at] = value
            tail_ids[at] = position
        previous[position] = tail_ids[at - 1] if at else -1
    kept: set[str] = set()
    position = tail_ids[-1] if tail_ids else -1
    while position != -1:
        kept.add(ids[position])
        position = previous[position]
    return kept


# -- the tracker ----------------------------------------------------------------------------


class Tracker:
    """Revisions of one live notebook; see the module's docstring."""

    def __init__(self, nb: YNotebook) -> None:
        self.epoch = secrets.token_hex(3)
        self.revision = 0
        self._ycells = nb.ycells
        self._listeners: list[Callable[[Change], None]] = []
        # Per cell id: (part, origin) -> the last revision that changed that part of it.
        self._touched: dict[str, dict[tuple[str, str | None], int]] = {}
        self._metadata_touched: dict[str | None, int] = {}
        self._names: dict[str, str] = {}  # agent origin -> the agent's name
        # Per cell id: when a person last changed its content (time.monotonic); see recent_edits.
        self.persons_changes: dict[str, float] = {}
        self._dirty: set[str] = set()  # cells changed since their state was last read
        # Revision given out -> the order of the cells then (a tuple shared while none moves).
        self._snapshots: OrderedDict[int, tuple[str, ...]] = OrderedDict()
        self._order_now: tuple[str, ...] | None = None
        # Per cell id: (revision, state read at that revision), oldest first.
        self._history: dict[str, list[tuple[int, _CellState]]] = {}
        self._ymaps: dict[str, Map] = {}  # the live cells, by id: read without a walk
        self._order: list[str] = []
        self._resync()
        # Kept: an observer stops firing once its Subscription is no longer referenced.
        self._subscriptions = [
            self._ycells.observe_deep(self._on_cells),
            nb.ydoc.get("meta", type=Map).observe_deep(self._on_metadata),
        ]

    # -- observing (runs inside every transaction's commit: cheap, and never raises) --------

    def _on_cells(self, events: list[Any], txn: Any) -> None:
        try:
            self._record(events, txn.origin)
        except Exception:  # pragma: no cover - defensive
            _log.debug("MCP: could not record a change of a live notebook", exc_info=True)
            self._resync()

    def _on_metadata(self, events: list[Any], txn: Any) -> None:
        # Counted apart from the cells: the rare transaction that changes both counts twice.
        try:
            origin = self._author(txn.origin)
            self.revision += 1
            self._metadata_touched[origin] = self.revision
            self._notify(Change(self.revision, origin, frozenset()))
        except Exception:  # pragma: no cover - defensive
            _log.debug("MCP: could not record a metadata change", exc_info=True)

    def _author(self, origin: Any) -> str | None:
        if not is_agent_origin(origin):
            return None
        if origin not in self._names:
            agent = current_agent()
            if agent is not None and agent.origin == origin:
                self._names[origin] = agent.name
        return str(origin)

    def _record(self, events: list[Any], raw_origin: Any) -> None:
        origin = self._author(raw_origin)
        self.revision += 1
        revision = self.revision
        changed: set[str] = set()
        order = self._order
        for event in events:
            if not event.path:  # cells inserted, deleted or moved
                changed.update(self._apply_delta(event.delta, origin, revision))
        touched = self._touched
        person = origin is None
        if person:
            now = time.monotonic()
            if len(self.persons_changes) > _FORGET_PERSONS_CHANGES_ABOVE:
                self.persons_changes = {
                    key: at
                    for key, at in self.persons_changes.items()
                    if now - at < _PERSONS_CHANGES_KEPT_SECONDS
                }
        for event in events:
            path = event.path
            if not path:
                continue
            cell_id = order[path[0]]
            if len(path) > 1:
                part = SOURCE if path[1] == "source" else CELL
            else:
                part = SOURCE if "source" in event.keys else CELL
            marks = touched.get(cell_id)
            if marks is None:
                marks = touched[cell_id] = {}
            marks[part, origin] = revision
            changed.add(cell_id)
            if person:
                self.persons_changes[cell_id] = now
        self._dirty.update(changed)
        self._notify(Change(revision, origin, frozenset(changed)))

    def _apply_delta(
        self, delta: list[dict[str, Any]], origin: str | None, revision: int
    ) -> set[str]:
        """Follow cells inserted and deleted in ``self._order``; returns the ids concerned."""
        order = self._order
        position = 0
        concerned: set[str] = set()
        for step in delta:
            if "retain" in step:
                position += step["retain"]
            elif "delete" in step:
                count = step["delete"]
                concerned.update(order[position : position + count])
                for cell_id in order[position : position + count]:
                    self._ymaps.pop(cell_id, None)
                del order[position : position + count]
            elif "insert" in step:
                ids = []
                for ycell in step["insert"]:
                    cell_id = str(ycell.get("id"))
                    ids.append(cell_id)
                    self._ymaps[cell_id] = ycell
                order[position:position] = ids
                concerned.update(ids)
                position += len(ids)
        self._order_now = None
        for cell_id in concerned:
            self._touched.setdefault(cell_id, {})[PLACE, origin] = revision
        return concerned

    def _resync(self) -> None:
        """Read the cells and their order (at first, and if an observer failed to follow it)."""
        plain = json.loads(str(self._ycells))
        self._order = [str(cell.get("id")) for cell in plain]
        self._order_now = None
        self._ymaps = dict(zip(self._order, self._ycells, strict=True))
        for cell_id, cell in zip(self._order, plain, strict=True):
            self._store(cell_id, _state(cell))
        self._dirty.clear()

    def _store(self, cell_id: str, state: _CellState) -> None:
        """Note a cell's state at the current revision (if it changed), dropping states no kept
        token needs."""
        history = self._history.get(cell_id)
        if history is None:
            self._history[cell_id] = [(self.revision, state)]
            return
        if history[-1][1] == state:
            return
        history.append((self.revision, state))
        oldest = next(iter(self._snapshots), self.revision)
        while len(history) > 1 and history[1][0] <= oldest:
            del history[0]

    def _notify(self, change: Change) -> None:
        if not self._listeners:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        loop.call_soon(self._deliver, change)

    def _deliver(self, change: Change) -> None:
        for callback in list(self._listeners):
            try:
                callback(change)
            except Exception:
                _log.exception("MCP: a listener of notebook changes failed")

    def listen(self, callback: Callable[[Change], None]) -> Callable[[], None]:
        """Call ``callback`` with every change, soon after its transaction; returns "stop listening"."""
        self._listeners.append(callback)

        def stop() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return stop

    # -- revisions handed to agents ------------------------------------------------------------

    def token(self, revision: int | None = None) -> str:
        return f"{self.revision if revision is None else revision}@{self.epoch}"

    def checkpoint(self, keep: int, plain: list[dict[str, Any]] | None = None) -> str:
        """The current revision as a token for an agent, the cells as they are now kept with it.

        Call it in the same synchronous section as the read or edit it reports on. ``plain``: all
        cells, just read (saves reading them again). Only the last ``keep`` tokens' cells are kept.
        """
        if self._dirty:
            self._refresh(plain)
        if self.revision not in self._snapshots:
            if self._order_now is None:
                self._order_now = tuple(self._order)
            self._snapshots[self.revision] = self._order_now
            while len(self._snapshots) > max(1, keep):
                self._snapshots.popitem(last=False)
            self._prune()
        return self.token()

    def _refresh(self, plain: list[dict[str, Any]] | None) -> None:
        """Read again the cells changed since they were last read."""
        dirty, self._dirty = self._dirty, set()
        if plain is not None and len(plain) == len(self._order):
            for cell_id, cell in zip(self._order, plain, strict=True):
                if cell_id in dirty:
                    self._store(cell_id, _state(cell))
            return
        for cell_id in dirty:
            ycell = self._ymaps.get(cell_id)
            if ycell is not None:
                self._store(cell_id, _state(json.loads(str(ycell))))

    def _prune(self) -> None:
        """Forget who changed cells that are gone, once no kept token can ask about them."""
        if len(self._touched) + len(self._history) <= 4 * len(self._order) + 1000:
            return
        oldest = next(iter(self._snapshots))
        present = set(self._order)
        self._touched = {
            cell_id: marks
            for cell_id, marks in self._touched.items()
            if cell_id in present or max(marks.values()) > oldest
        }
        self._history = {
            cell_id: history
            for cell_id, history in self._history.items()
            if cell_id in present or history[-1][0] >= oldest
        }

    def _revision_of(self, token: str, what: str) -> int:
        """The revision a token names, refused if it is not one of this live document."""
        number, at, epoch = str(token).partition("@")
        if not at or not number.isdigit() or not epoch:
            raise UsageError(
                f"{what} {token!r} is not a revision: revisions look like {self.token()!r}, "
                "exactly as read and edit results give them."
            )
        revision = int(number)
        if epoch != self.epoch:
            raise UsageError(
                f"{what} {token!r} is from an earlier opening of this notebook (or from another "
                "notebook): the notebook was reloaded since, and what changed cannot be told. Read "
                f"it again (its revision is now {self.token()})."
            )
        if revision > self.revision:
            raise UsageError(
                f"{what} {token!r} is newer than the notebook's current revision {self.token()}: "
                "use a revision a result gave you."
            )
        return revision

    # -- questions about changes -------------------------------------------------------------

    def changed_by(self, cell_id: str, since: int, parts: Iterable[str]) -> list[str | None]:
        """Who changed these ``parts`` of a cell after revision ``since`` (origins; None: a person)."""
        wanted = set(parts)
        marks = self._touched.get(cell_id, {})
        return _distinct(
            origin for (part, origin), at in marks.items() if at > since and part in wanted
        )

    def check_unchanged(
        self,
        token: str,
        cell_id: str,
        index: int,
        me: str | None,
        parts: Iterable[str] = (SOURCE,),
    ) -> None:
        """Refuse an edit of a cell that someone but ``me`` (an origin) changed after ``token``."""
        since = self._revision_of(token, "expected_revision")
        others = [origin for origin in self.changed_by(cell_id, since, parts) if origin != me]
        if not others:
            return
        source = str(self._ycells[index].get("source", ""))
        who = ", ".join(self.describe(origin, me) for origin in others)
        raise UsageError(
            f"Cell {index} (id {cell_id}) was changed by {who} after revision {token}, so this edit "
            f"would overwrite their change blindly: nothing was changed. The cell's source is now "
            f"(revision {self.token()}):\n{source}\n"
            f"Redo the edit on this source, with expected_revision={self.token()!r}."
        )

    def describe(self, origin: str | None, me: str | None) -> str:
        """Who an origin is, for the agent ``me``: "you", "another agent: <name>" or "a person"."""
        if origin is None:
            return "a person"
        if origin == me:
            return "you"
        if origin == AGENT_ORIGIN:
            return "the Jupyter MCP server"
        return f"another agent: {self._names.get(origin, 'an MCP client')}"

    def changes_since(self, token: str) -> NotebookChanges:
        """What changed after the revision ``token`` until now (call ``checkpoint`` first)."""
        since = self._revision_of(token, "since_revision")
        old = self._snapshots.get(since)
        if old is None:
            kept = next(iter(self._snapshots), self.revision)
            reason = (
                f"only the cells of the last {len(self._snapshots)} revisions given out are kept "
                f"(the oldest kept is {self.token(kept)}; MCPExtensionApp.change_history_size)"
                if since < kept
                else "it was not given out by a read or edit"
            )
            raise UsageError(
                f"since_revision {token!r} is too old to tell what changed: {reason}. Read the "
                f"notebook again (its revision is now {self.token()})."
            )
        new_order = self._snapshots[self.revision]
        result = NotebookChanges(since=token, revision=self.token())
        result.metadata_by = _distinct(
            origin for origin, at in self._metadata_touched.items() if at > since
        )
        now_at = {cell_id: index for index, cell_id in enumerate(new_order)}
        before = {cell_id: index for index, cell_id in enumerate(old)}
        both = [cell_id for cell_id in new_order if cell_id in before]
        unmoved = _longest_kept_order(both, before)
        found: list[CellChange] = []
        for cell_id in new_order:
            state = self._state_at(cell_id, self.revision)
            index = now_at[cell_id]
            if cell_id not in before:
                found.append(self._change(cell_id, "added", index, since, (PLACE,), state))
                continue
            was = self._state_at(cell_id, since)
            if state is was:
                if cell_id not in unmoved:
                    found.append(self._change(cell_id, "moved", index, since, (PLACE,), state))
                continue
            if cell_id not in unmoved:
                found.append(self._change(cell_id, "moved", index, since, (PLACE,), state))
            if was.source != state.source or was.cell_type != state.cell_type:
                edited = self._change(cell_id, "edited", index, since, (SOURCE, CELL), state)
                edited.diff = source_diff(was.source, state.source)
                if was.cell_type != state.cell_type:
                    edited.diff = f"(type {was.cell_type} -> {state.cell_type})\n" + edited.diff
                found.append(edited)
            if (was.execution_count, was.outputs_hash) != (
                state.execution_count,
                state.outputs_hash,
            ):
                executed = self._change(cell_id, "executed", index, since, (CELL,), state)
                executed.execution_count = state.execution_count
                executed.output_count = state.output_count
                found.append(executed)
        for cell_id in old:
            if cell_id not in now_at:
                state = self._state_at(cell_id, since)
                found.append(self._change(cell_id, "deleted", None, since, (PLACE,), state))
        result.changes = found[:MAX_CELLS_REPORTED]
        result.omitted = len(found) - len(result.changes)
        return result

    def _state_at(self, cell_id: str, revision: int) -> _CellState:
        """A cell as it was at a kept revision: its last state read at or before it."""
        history = self._history[cell_id]
        for at, state in reversed(history):
            if at <= revision:
                return state
        return history[0][1]

    def _change(
        self,
        cell_id: str,
        kind: ChangeKind,
        index: int | None,
        since: int,
        parts: tuple[str, ...],
        state: _CellState,
    ) -> CellChange:
        by = self.changed_by(cell_id, since, parts) or self.changed_by(
            cell_id, since, (SOURCE, CELL, PLACE)
        )
        return CellChange(cell_id, kind, index, by, state.cell_type)


def _distinct(origins: Iterable[str | None]) -> list[str | None]:
    return list(dict.fromkeys(origins))


_trackers: WeakKeyDictionary[YNotebook, Tracker] = WeakKeyDictionary()


def tracker(nb: YNotebook) -> Tracker:
    """The tracker of a live document, made on first use (revisions count from then on)."""
    found = _trackers.get(nb)
    if found is None:
        found = _trackers[nb] = Tracker(nb)
    return found
