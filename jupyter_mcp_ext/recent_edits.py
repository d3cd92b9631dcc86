"""Which cells other clients (people in JupyterLab) changed lately, per live document.

A move deletes a cell and inserts a copy (a Y array has no move): an edit of the old cell still on
its way to the server lands in the deleted cell and is lost. So a cell someone is changing is not
moved until it has been quiet for ``QUIET_SECONDS``.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from weakref import WeakKeyDictionary

from jupyter_ydoc import YNotebook

from .agents import is_agent_origin
from .errors import UsageError

QUIET_SECONDS = 3.0
_PRUNE_ABOVE = 1000  # cells remembered before old entries are dropped

_log = logging.getLogger(__name__)


class _Watch:
    """Last time another client changed each cell (by id), from one deep observer of the cell list."""

    def __init__(self, nb: YNotebook) -> None:
        self.changed: dict[str, float] = {}
        ycells = nb.ycells
        # Kept: the observer stops firing once its Subscription is no longer referenced.
        self._subscription = ycells.observe_deep(
            lambda events, txn: self._record(ycells, events, txn)
        )

    def _record(self, ycells: Any, events: list[Any], txn: Any) -> None:
        # Runs inside every transaction's commit, a person's keystrokes included: cheap, and never raises
        # (an observer's exception would fail the transaction of whoever made the change).
        try:
            if is_agent_origin(txn.origin):
                return
            indexes = {event.path[0] for event in events if event.path}
            now = time.monotonic()
            if len(self.changed) > _PRUNE_ABOVE:
                self.changed = {
                    key: at for key, at in self.changed.items() if now - at < QUIET_SECONDS
                }
            count = len(ycells)
            for index in indexes:
                if isinstance(index, int) and index < count:
                    self.changed[str(ycells[index].get("id"))] = now
        except Exception:  # pragma: no cover - defensive
            _log.debug("MCP: could not record a change of a live notebook", exc_info=True)


_watches: WeakKeyDictionary[YNotebook, _Watch] = WeakKeyDictionary()


def watch(nb: YNotebook) -> None:
    """Start noting other clients' changes of ``nb``'s cells (once per live document)."""
    if nb not in _watches:
        _watches[nb] = _Watch(nb)


def check_quiet(nb: YNotebook, cell_id: str, index: int) -> None:
    """Refuse to re-create a cell that another client changed within the last ``QUIET_SECONDS``."""
    state = _watches.get(nb)
    changed = state.changed.get(cell_id) if state is not None else None
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
