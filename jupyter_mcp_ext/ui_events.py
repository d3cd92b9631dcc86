"""Server → JupyterLab pushes, each to its own user's windows only.

The JupyterLab extension listens for these events on ``{base_url}mcp/ui-events``
(``handlers.UIEventsSocket``): it learns which window the current notebook came from, opens a
notebook an agent prepared, and scrolls to a cell the agent edits or runs. They name notebooks
and windows, so they never go through Jupyter's event bus, which sends every event to every
subscriber whoever they are.

An event is a JSON object: ``action`` ("current-changed", "open-notebook", "show-cell"),
``principal`` (the user it is for), ``path``, and per action ``source`` and ``window``
(current-changed: who chose the notebook, the window used last), ``window`` (open-notebook: the
window that should act, null: every window), ``cell_id``, ``cell_index``, ``reason`` (show-cell:
"edit" or "execute").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .context import CurrentNotebook

Listener = Callable[[dict[str, Any]], None]


class UIEvents:
    """Sends each user's UI events to that user's subscribed windows; costs nothing while none is."""

    def __init__(self) -> None:
        self._listeners: dict[str, set[Listener]] = {}

    def subscribe(self, principal: str, listener: Listener) -> None:
        self._listeners.setdefault(principal, set()).add(listener)

    def unsubscribe(self, principal: str, listener: Listener) -> None:
        listeners = self._listeners.get(principal, set())
        listeners.discard(listener)
        if not listeners:
            self._listeners.pop(principal, None)

    def _emit(self, principal: str, data: dict[str, Any]) -> None:
        for listener in list(self._listeners.get(principal, ())):
            listener({**data, "principal": principal})

    def current_changed(self, principal: str, current: CurrentNotebook) -> None:
        self._emit(
            principal,
            {
                "action": "current-changed",
                "path": current.path,
                "source": current.source,
                "window": current.window,
            },
        )

    def open_notebook(self, principal: str, path: str, window: str | None) -> None:
        self._emit(principal, {"action": "open-notebook", "path": path, "window": window})

    def show_cell(
        self, principal: str, path: str, cell_id: str, cell_index: int, reason: str
    ) -> None:
        self._emit(
            principal,
            {
                "action": "show-cell",
                "path": path,
                "cell_id": cell_id,
                "cell_index": cell_index,
                "reason": reason,
            },
        )
