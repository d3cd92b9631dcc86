"""Which cells other clients (people in JupyterLab) changed lately, per live document.

A move deletes a cell and inserts a copy (a Y array has no move): an edit of the old cell still on
its way to the server lands in the deleted cell and is lost. So a cell someone is changing is not
moved until it has been quiet for ``QUIET_SECONDS``.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from weakref import WeakKeyDictionary

from jupyter_ydoc import YNotebook

from .errors import UsageError
from .notebooks import AGENT_ORIGIN

QUIET_SECONDS = 3.0
_PRUNE_ABOVE = 1000  # cells remembered before old entries are dropped

_log = logging.getLogger(__name__)


class _Watch:
    """Last time another client changed each cell (by id), from one deep observer of the cell list."""

    def __init__(self, nb: YNotebook, shared: bool) -> None:
        self.changed: dict[str, float] = {}
        ycells = nb.ycells
        # Begun while someone else has the notebook open: what they changed just before is not
        # known, so the cells there now are treated as changed at the start.
        self.started = time.monotonic()
        self.unknown = {str(cell.get("id")) for cell in json.loads(str(ycells))} if shared else set()
        # Kept: the observer stops firing once its Subscription is no longer referenced.
        self._subscription = ycells.observe_deep(lambda events, txn: self._record(ycells, events, txn))

    def _record(self, ycells: Any, events: list[Any], txn: Any) -> None:
        # Runs inside every transaction's commit, a person's keystrokes included: cheap, and never raises
        # (an observer's exception would fail the transaction of whoever made the change).
        try:
            if txn.origin == AGENT_ORIGIN:
                return
            indexes = {event.path[0] for event in events if event.path}
            now = time.monotonic()
            if len(self.changed) > _PRUNE_ABOVE:
                self.changed = {key: at for key, at in self.changed.items() if now - at < QUIET_SECONDS}
            count = len(ycells)
            for index in indexes:
                if isinstance(index, int) and index < count:
                    self.changed[str(ycells[index].get("id"))] = now
        except Exception:  # pragma: no cover - defensive
            _log.debug("MCP: could not record a change of a live notebook", exc_info=True)


_watches: WeakKeyDictionary[YNotebook, _Watch] = WeakKeyDictionary()


def watch(nb: YNotebook, *, shared: bool) -> None:
    """Start noting other clients' changes of ``nb``'s cells (once per live document); ``shared``:
    someone else (a browser) has it open now."""
    if nb not in _watches:
        _watches[nb] = _Watch(nb, shared)


def check_quiet(nb: YNotebook, cell_id: str, index: int) -> None:
    """Refuse to re-create a cell that another client changed within the last ``QUIET_SECONDS``."""
    state = _watches.get(nb)
    if state is None:
        return
    age = time.monotonic() - state.started
    if cell_id in state.unknown and age < QUIET_SECONDS:
        raise ToolError(
            f"Cell {index} (id {cell_id!r}) is in a notebook someone else has open, and whether they are typing "
            f"in it is not known yet (its changes have been followed for {age:.1f} s): moving a cell re-creates "
            f"it, and what they type meanwhile would be lost. Nothing was moved. Retry in about "
            f"{QUIET_SECONDS - age:.1f} s, or move the cells around it instead."
        )
    changed = state.changed.get(cell_id)
    if changed is None:
        return
    age = time.monotonic() - changed
    if age < QUIET_SECONDS:
        raise UsageError(
            f"Cell {index} (id {cell_id!r}) was changed by someone else {age:.1f} s ago, so they may still be "
            "typing in it: moving a cell re-creates it, and what they type meanwhile would be lost. Nothing was "
            f"moved. Retry when the cell has been left alone for {QUIET_SECONDS:.0f} s (in about "
            f"{QUIET_SECONDS - age:.1f} s), or move the cells around it instead."
        )
