"""Server → JupyterLab pushes through Jupyter's event bus (``/api/events/subscribe``).

The JupyterLab extension listens for these events: it learns which window the current notebook
came from, opens a notebook an agent prepared, and scrolls to a cell the agent edits or runs.
"""

from __future__ import annotations

from typing import Any

from .context import CurrentNotebook

SCHEMA_ID = "https://events.jupyter.org/jupyter_mcp_ext/ui/v1"

_NULLABLE_STRING = {"type": ["string", "null"]}

SCHEMA: dict[str, Any] = {
    "$id": SCHEMA_ID,
    "version": "1",
    "title": "jupyter-mcp-ext UI context",
    "description": (
        "What JupyterLab should do for MCP agents: the current notebook changed, open a notebook, "
        "or show a cell an agent edits or runs."
    ),
    "type": "object",
    "required": ["action", "principal", "path"],
    "properties": {
        "action": {"enum": ["current-changed", "open-notebook", "show-cell"]},
        "principal": {"type": "string", "description": "The user whose windows this concerns."},
        "path": _NULLABLE_STRING,
        "source": {**_NULLABLE_STRING, "description": "Who chose the current notebook (current-changed)."},
        "window": {
            **_NULLABLE_STRING,
            "description": "open-notebook: the window that should act (null: every window); "
            "current-changed: the window the user used last.",
        },
        "cell_id": _NULLABLE_STRING,
        "cell_index": {"type": ["integer", "null"]},
        "reason": {"enum": ["edit", "execute", None]},
    },
}


class UIEvents:
    """Emits the UI events; costs nothing while no JupyterLab window is subscribed."""

    def __init__(self, event_logger: Any) -> None:
        self._events = event_logger
        event_logger.register_event_schema(SCHEMA)

    def _emit(self, data: dict[str, Any]) -> None:
        self._events.emit(schema_id=SCHEMA_ID, data=data)

    def current_changed(self, principal: str, current: CurrentNotebook) -> None:
        self._emit(
            {
                "action": "current-changed",
                "principal": principal,
                "path": current.path,
                "source": current.source,
                "window": current.window,
            }
        )

    def open_notebook(self, principal: str, path: str, window: str | None) -> None:
        self._emit({"action": "open-notebook", "principal": principal, "path": path, "window": window})

    def show_cell(self, principal: str, path: str, cell_id: str, cell_index: int, reason: str) -> None:
        self._emit(
            {
                "action": "show-cell",
                "principal": principal,
                "path": path,
                "cell_id": cell_id,
                "cell_index": cell_index,
                "reason": reason,
            }
        )
