"""Contents-API paths from agents, checked before anything touches a file.

Paths are relative to the server root with '/' separators. Absolute paths, '..' and
symlinks that lead outside the root are refused; hidden files follow the contents
manager's ``allow_hidden``.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.services.contents.fileio import FileManagerMixin

from .errors import ToolError

NOTEBOOK_SUFFIX = ".ipynb"


class ServerPaths:
    """Path checks and directory walks through the server's contents manager."""

    def __init__(self, contents_manager: Any) -> None:
        self.cm = contents_manager
        root = getattr(contents_manager, "root_dir", None)
        self._root = os.path.realpath(root) if root else None
        # For files on a system without hidden-file flags (Linux), a path is hidden exactly
        # when one of its parts starts with '.': no need to ask the contents manager (slow).
        self._dot_means_hidden = isinstance(contents_manager, FileManagerMixin) and not hasattr(
            os.stat_result, "st_flags"
        )

    def normalize(self, path: str) -> str:
        """The canonical contents-API form of ``path``, or a ToolError saying why it is refused."""
        if not isinstance(path, str):
            raise ToolError("A path must be a string relative to the server root, e.g. 'analysis/report.ipynb'.")
        raw = path.strip()
        if "\x00" in raw:
            raise ToolError("The path contains a NUL character.")
        if raw.startswith(("/", "\\")) or os.path.isabs(raw) or (len(raw) > 1 and raw[1] == ":"):
            hint = ""
            root = self._root
            if root and os.path.realpath(raw).startswith(root + os.sep):
                hint = f" Inside the root this is {os.path.relpath(os.path.realpath(raw), root)!r}."
            raise ToolError(
                f"Absolute path {path!r} refused: paths are relative to the Jupyter server's root "
                f"(e.g. 'folder/notebook.ipynb').{hint}"
            )
        parts = [part for part in raw.replace("\\", "/").split("/") if part not in ("", ".")]
        if ".." in parts:
            raise ToolError(f"Path {path!r} refused: '..' may not be used; paths stay inside the server root.")
        normalized = "/".join(parts)
        self._check_inside_root(normalized, path)
        return normalized

    def _check_inside_root(self, normalized: str, original: str) -> None:
        root = self._root
        if root is None:
            return
        real = os.path.realpath(os.path.join(root, normalized))
        if real != root and not real.startswith(root + os.sep):
            raise ToolError(f"Path {original!r} refused: it leads outside the server root (through a symlink).")

    async def check_visible(self, path: str) -> None:
        if not path or getattr(self.cm, "allow_hidden", False):
            return
        if self._dot_means_hidden and not any(part.startswith(".") for part in path.split("/")):
            return
        if await ensure_async(self.cm.is_hidden(path)):
            raise ToolError(
                f"{path!r} is hidden (a name starting with '.'); the server does not serve hidden files "
                "(ContentsManager.allow_hidden is False)."
            )

    async def existing_notebook(self, path: str) -> str:
        """``path`` normalized, checked to be an existing, visible notebook."""
        normalized = self.normalize(path)
        if not normalized.endswith(NOTEBOOK_SUFFIX):
            raise ToolError(f"{normalized!r} is not a notebook: notebook paths end in '{NOTEBOOK_SUFFIX}'.")
        await self.check_visible(normalized)
        if not await ensure_async(self.cm.file_exists(normalized)):
            if await ensure_async(self.cm.dir_exists(normalized)):
                raise ToolError(f"{normalized!r} is a directory, not a notebook.")
            raise ToolError(await self._missing_message(normalized))
        return normalized

    async def new_notebook(self, path: str) -> str:
        """``path`` normalized, checked to be a notebook path that does not exist yet."""
        normalized = self.normalize(path)
        if not normalized.endswith(NOTEBOOK_SUFFIX):
            raise ToolError(f"{normalized!r} is not a notebook path: it must end in '{NOTEBOOK_SUFFIX}'.")
        await self.check_visible(normalized)
        if await ensure_async(self.cm.exists(normalized)):
            raise ToolError(f"{normalized!r} already exists; it is not overwritten. Choose another path.")
        return normalized

    async def existing_directory(self, path: str) -> str:
        normalized = self.normalize(path)
        await self.check_visible(normalized)
        if not await ensure_async(self.cm.dir_exists(normalized)):
            if await ensure_async(self.cm.file_exists(normalized)):
                raise ToolError(f"{normalized!r} is a file, not a directory.")
            raise ToolError(f"Directory {normalized!r} does not exist.")
        return normalized

    async def _missing_message(self, path: str) -> str:
        notebooks = [entry["path"] async for entry in self.walk("", max_depth=8) if entry["type"] == "notebook"]
        close = difflib.get_close_matches(path, notebooks, n=5, cutoff=0.5)
        by_name = [nb for nb in notebooks if os.path.basename(nb) == os.path.basename(path) and nb not in close]
        matches = (close + by_name)[:5]
        message = f"Notebook {path!r} does not exist."
        if matches:
            message += " Close matches: " + ", ".join(repr(m) for m in matches) + "."
        else:
            message += " Use list_notebooks to see the notebooks under the server root."
        return message

    async def walk(
        self,
        path: str,
        *,
        max_depth: int,
        pattern: str | None = None,
        on_directory: Callable[[int], Awaitable[None]] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Entries under directory ``path`` (breadth first, sorted), as the contents manager lists them.

        Symlinks leading outside the root are skipped. ``pattern`` (a glob) filters by name
        and by path; directories are still descended into. ``on_directory`` is called with
        the number of directories listed so far (for progress reports).
        """
        queue: list[tuple[str, int]] = [(path, 1)]
        listed = 0
        while queue:
            directory, depth = queue.pop(0)
            listed += 1
            if on_directory is not None:
                await on_directory(listed)
            try:
                listing = await ensure_async(self.cm.get(directory, content=True, type="directory"))
            except Exception:  # unreadable directory: skip it, as a file browser would
                continue
            for entry in sorted(listing.get("content") or [], key=lambda e: (e["type"] != "directory", e["name"])):
                try:
                    self._check_inside_root(entry["path"], entry["path"])
                except ToolError:
                    continue
                if pattern is None or fnmatch.fnmatch(entry["name"], pattern) or fnmatch.fnmatch(entry["path"], pattern):
                    yield entry
                if entry["type"] == "directory" and depth < max_depth:
                    queue.append((entry["path"], depth + 1))
