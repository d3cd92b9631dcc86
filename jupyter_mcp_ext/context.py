"""The current notebook of each user: what path-less tool calls act on.

It is the most recent choice from any of the user's JupyterLab windows (the notebook in focus),
an agent's ``prepare_notebook``, or a platform's backend through the REST API — whichever is newer.
Beside it, the window the user used last: where an agent's "open this notebook" goes.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

# Who set the current notebook, when it was not a JupyterLab window (those give their client id).
AGENT = "agent"
API = "api"


@dataclass(frozen=True)
class CurrentNotebook:
    path: str | None  # None: no choice yet, or the user's last window closed its last notebook
    updated_at: float | None  # time.time() of the choice
    source: str | None  # AGENT, API, or the client id of the JupyterLab window that reported it
    window: str | None  # the JupyterLab window the user used last (None: unknown or closed)

    def as_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)


NOTHING = CurrentNotebook(path=None, updated_at=None, source=None, window=None)


class CurrentNotebooks:
    """Per user, the most recent choice of notebook; never shared between users."""

    def __init__(self, on_change: Callable[[str, CurrentNotebook], None] | None = None) -> None:
        self._by_user: dict[str, CurrentNotebook] = {}
        self.on_change = on_change

    def get(self, principal: str) -> CurrentNotebook:
        return self._by_user.get(principal, NOTHING)

    def set(
        self, principal: str, path: str | None, source: str, *, window: str | None = None
    ) -> CurrentNotebook:
        """Record a choice; ``window`` is the reporting JupyterLab window, if a window reported it."""
        previous = self.get(principal)
        return self._store(
            principal,
            CurrentNotebook(
                path=path, updated_at=time.time(), source=source, window=window or previous.window
            ),
        )

    def use_window(self, principal: str, window: str) -> CurrentNotebook:
        """The user turned to a window that shows no notebook: later "open" requests go there."""
        return self._store(principal, dataclasses.replace(self.get(principal), window=window))

    def forget_window(self, principal: str, window: str) -> CurrentNotebook:
        """A window closed: "open" requests go to every window until one is used again."""
        current = self.get(principal)
        if current.window != window:
            return current
        return self._store(principal, dataclasses.replace(current, window=None))

    def _store(self, principal: str, current: CurrentNotebook) -> CurrentNotebook:
        previous = self.get(principal)
        self._by_user[principal] = current
        if self.on_change is not None and (previous.path, previous.source, previous.window) != (
            current.path,
            current.source,
            current.window,
        ):
            self.on_change(principal, current)
        return current
