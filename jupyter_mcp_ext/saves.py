"""Whether a live notebook's changes reach disk: the outcome of every save of its room.

jupyter_server_ydoc's autosave only logs a failed save, and silently skips saving a file the
contents manager reports read-only; an agent would be told "ok" for edits that never reach
disk. Every save of a room's file (its autosave's and ours) is reported here (see
``YDocRooms.watch_saves``), so that tools can warn while a notebook's saves fail, and rooms with
unsaved changes are kept and saved again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from jupyter_core.utils import ensure_async


class SaveWatch:
    """The notebooks (by room id) whose latest save failed, and why."""

    def __init__(
        self, contents_manager: Any, log: logging.Logger, *, on_failure: Callable[[], None]
    ) -> None:
        self.cm = contents_manager
        self.log = log
        self.on_failure = on_failure
        self._failed: dict[str, str] = {}

    async def outcome(self, room_id: str, path: str, content: Any, problem: str | None) -> None:
        """Note how a save of ``path`` ended: ``problem`` says why it failed, None if it did not."""
        if problem is None:
            self._failed.pop(room_id, None)
            return
        if await self._same_as_disk(path, content):
            self._failed.pop(room_id, None)  # nothing to save
            return
        if room_id not in self._failed:
            self.log.error("MCP: changes to %s are not saved: %s; saving is retried", path, problem)
        self._failed[room_id] = problem
        self.on_failure()

    async def _same_as_disk(self, path: str, content: Any) -> bool:
        try:
            model = await ensure_async(self.cm.get(path, content=True, type="notebook"))
        except Exception:
            return False
        return model.get("content") == content

    def failure(self, room_id: str) -> str | None:
        """Why the latest save of the notebook failed, or None if it succeeded (or none failed)."""
        return self._failed.get(room_id)

    def failing(self) -> list[str]:
        """Room ids of the notebooks whose latest save failed."""
        return list(self._failed)

    def forget(self, room_id: str) -> None:
        self._failed.pop(room_id, None)
