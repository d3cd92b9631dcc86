"""Whether a live notebook's changes reach disk: the outcome of every save of its room.

jupyter_server_ydoc's autosave only logs a failed save, and silently skips saving a file the
contents manager reports read-only; an agent would be told "ok" for edits that never reach
disk. Each room's file loader is watched here (its saves are the room's autosave and ours),
so that tools can warn while a notebook's saves fail, and rooms with unsaved changes are kept
and saved again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server_ydoc.utils import OutOfBandChanges

from .paths import describe_contents_error

_WATCHED = "_jupyter_mcp_ext_save_watch"


class SaveWatch:
    """The notebooks (by file id) whose latest save failed, and why."""

    def __init__(self, contents_manager: Any, log: logging.Logger) -> None:
        self.cm = contents_manager
        self.log = log
        self._failed: dict[str, str] = {}

    def watch(self, loader: Any) -> None:
        """Learn the outcome of each save of ``loader`` (a jupyter_server_ydoc FileLoader)."""
        if getattr(loader, _WATCHED, None) is self:
            return
        save: Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]] = loader.maybe_save_content

        async def maybe_save_content(model: dict[str, Any]) -> dict[str, Any] | None:
            try:
                saved = await save(model)
            except OutOfBandChanges:  # the file changed on disk: the room takes it over, as designed
                self._failed.pop(loader.file_id, None)
                raise
            except Exception as error:
                await self._failure(loader, model, describe_contents_error(error))
                raise
            if saved is None:  # what the loader does when the file is not writable
                await self._failure(loader, model, "the file is read-only")
            else:
                self._failed.pop(loader.file_id, None)
            return saved

        loader.maybe_save_content = maybe_save_content
        setattr(loader, _WATCHED, self)

    async def _failure(self, loader: Any, model: dict[str, Any], reason: str) -> None:
        path = loader.path
        if await self._same_as_disk(path, model.get("content")):
            self._failed.pop(loader.file_id, None)  # nothing to save
            return
        if loader.file_id not in self._failed:
            self.log.error("MCP: changes to %s are not saved: %s; saving is retried", path, reason)
        self._failed[loader.file_id] = reason

    async def _same_as_disk(self, path: str, content: Any) -> bool:
        try:
            model = await ensure_async(self.cm.get(path, content=True, type="notebook"))
        except Exception:
            return False
        return model.get("content") == content

    def failure(self, file_id: str) -> str | None:
        """Why the latest save of the notebook failed, or None if it succeeded (or none failed)."""
        return self._failed.get(file_id)

    def failing(self) -> list[str]:
        """File ids of the notebooks whose latest save failed."""
        return list(self._failed)

    def forget(self, file_id: str) -> None:
        self._failed.pop(file_id, None)
