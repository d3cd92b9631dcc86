"""The current notebook of each user: what path-less tool calls act on."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class CurrentNotebook:
    path: str
    updated_at: float  # time.time() of the report
    source: str  # who set it: "agent" (prepare_notebook) or a UI client id


class CurrentNotebooks:
    """Per user, the most recent choice of notebook; never shared between users."""

    def __init__(self) -> None:
        self._by_user: dict[str, CurrentNotebook] = {}

    def get(self, principal: str) -> CurrentNotebook | None:
        return self._by_user.get(principal)

    def set(self, principal: str, path: str, source: str) -> CurrentNotebook:
        current = CurrentNotebook(path=path, updated_at=time.time(), source=source)
        self._by_user[principal] = current
        return current

