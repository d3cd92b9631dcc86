"""The current notebook of each user: what path-less tool calls act on.

It is the most recent choice from any of the user's JupyterLab windows (the notebook in focus),
an agent's ``prepare_notebook``, or a platform's backend through the REST API — whichever is newer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

# Who set the current notebook, when it was not a JupyterLab window (those give their client id).
AGENT = "agent"
API = "api"


@dataclass(frozen=True)
class CurrentNotebook:
    path: str | None  # None: the user's last window closed its last notebook
    updated_at: float  # time.time() of the choice
    source: str  # AGENT, API, or the client id of the JupyterLab window that reported it
    window: str | None  # the JupyterLab window the user used last (receives "open" requests)

    def as_json(self) -> dict[str, object]:
        return {"path": self.path, "source": self.source, "updated_at": self.updated_at}


class CurrentNotebooks:
    """Per user, the most recent choice of notebook; never shared between users."""

    def __init__(self, on_change: Callable[[str, CurrentNotebook], None] | None = None) -> None:
        self._by_user: dict[str, CurrentNotebook] = {}
        self.on_change = on_change

    def get(self, principal: str) -> CurrentNotebook | None:
        return self._by_user.get(principal)

    def set(self, principal: str, path: str | None, source: str, *, window: str | None = None) -> CurrentNotebook:
        """Record a choice; ``window`` is the reporting JupyterLab window, if a window reported it."""
        previous = self._by_user.get(principal)
        if window is None and previous is not None:
            window = previous.window
        current = CurrentNotebook(path=path, updated_at=time.time(), source=source, window=window)
        self._by_user[principal] = current
        if self.on_change is not None and (
            previous is None or (previous.path, previous.source) != (current.path, current.source)
        ):
            self.on_change(principal, current)
        return current
