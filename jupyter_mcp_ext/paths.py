"""Contents-API paths from agents, checked before anything touches a file.

Paths are relative to the server root with '/' separators. Absolute paths, '..' and
symlinks that lead outside the root are refused; hidden files follow the contents
manager's ``allow_hidden``.
"""

from __future__ import annotations

import difflib
import errno
import fnmatch
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.services.contents.fileio import FileManagerMixin

from .errors import UsageError

NOTEBOOK_SUFFIX = ".ipynb"

# Limits of the file systems Jupyter serves from (Linux: NAME_MAX, PATH_MAX including the final NUL).
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4095

_OS_PROBLEMS = {
    errno.ENOSPC: "the disk is full (no space left on the device)",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EPERM: "permission denied: the file or its folder is read-only or protected",
    errno.EACCES: "permission denied: the file or its folder is read-only or protected",
    errno.ENAMETOOLONG: f"a name in the path is too long (at most {MAX_NAME_BYTES} bytes per name)",
    errno.ENOENT: "the file or one of its folders does not exist (any more)",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EEXIST: "a file or folder of that name already exists",
}


# How alike two notebook paths must be (0..1, see _closeness) for one to be offered for the other.
CLOSE_MATCH_CUTOFF = 0.75


def _closeness(wanted: str, candidate: str) -> float:
    """How alike two notebook paths are: the better of their names' and their whole paths' likeness.

    The common '.ipynb' suffix is left out: with it, any two short names look alike.
    """
    wanted_stem = wanted.removesuffix(NOTEBOOK_SUFFIX).lower()
    candidate_stem = candidate.removesuffix(NOTEBOOK_SUFFIX).lower()
    names = difflib.SequenceMatcher(
        None, os.path.basename(wanted_stem), os.path.basename(candidate_stem)
    ).ratio()
    whole = difflib.SequenceMatcher(None, wanted_stem, candidate_stem).ratio()
    return max(names, whole)


def describe_contents_error(error: BaseException) -> str:
    """What went wrong in a contents-manager call, in an agent's terms and without server paths.

    The contents manager reports OS errors as HTTP errors whose text holds the absolute path;
    the OS error it wraps says what is wrong.
    """
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno is not None:
            return _OS_PROBLEMS.get(cause.errno) or os.strerror(cause.errno).lower()
        cause = cause.__cause__ or cause.__context__
    status = getattr(error, "status_code", None)
    if status == 403:
        return _OS_PROBLEMS[errno.EACCES]
    if status == 404:
        return _OS_PROBLEMS[errno.ENOENT]
    return "the server could not read or write the file (see the Jupyter server's log)"


class ServerPaths:
    """Path checks and directory walks through the server's contents manager."""

    def __init__(self, contents_manager: Any) -> None:
        self.cm = contents_manager
        root = getattr(contents_manager, "root_dir", None)
        self._root = os.path.realpath(root) if root else None
        # The root as configured and as resolved: either may appear in a library's message.
        self._root_forms = sorted(
            {os.path.abspath(root), self._root} if root else set(), key=len, reverse=True
        )
        # For files on a system without hidden-file flags (Linux), a path is hidden exactly
        # when one of its parts starts with '.': no need to ask the contents manager (slow).
        self._dot_means_hidden = isinstance(contents_manager, FileManagerMixin) and not hasattr(
            os.stat_result, "st_flags"
        )

    def normalize(self, path: str) -> str:
        """The canonical contents-API form of ``path``, or a UsageError saying why it is refused."""
        if not isinstance(path, str):
            raise UsageError(
                "A path must be a string relative to the server root, e.g. 'analysis/report.ipynb'."
            )
        raw = path.strip()
        if "\x00" in raw:
            raise UsageError("The path contains a NUL character.")
        if raw.startswith(("/", "\\")) or os.path.isabs(raw) or (len(raw) > 1 and raw[1] == ":"):
            hint = ""
            root = self._root
            if root and os.path.realpath(raw).startswith(root + os.sep):
                hint = f" Inside the root this is {os.path.relpath(os.path.realpath(raw), root)!r}."
            raise UsageError(
                f"Absolute path {path!r} refused: paths are relative to the Jupyter server's root "
                f"(e.g. 'folder/notebook.ipynb').{hint}"
            )
        parts = [part for part in raw.replace("\\", "/").split("/") if part not in ("", ".")]
        if ".." in parts:
            raise UsageError(
                f"Path {path!r} refused: '..' may not be used; paths stay inside the server root."
            )
        normalized = "/".join(parts)
        self._check_length(normalized, parts)
        self._check_inside_root(normalized, path)
        return normalized

    def _check_length(self, normalized: str, parts: list[str]) -> None:
        """Refuse what the file system would refuse, before anything is created."""
        for part in parts:
            size = len(part.encode("utf-8", "surrogatepass"))
            if size > MAX_NAME_BYTES:
                shown = part[:40] + "…"
                raise UsageError(
                    f"The name {shown!r} in the path is too long: {size} bytes (UTF-8), at most {MAX_NAME_BYTES} "
                    "bytes per file or folder name."
                )
        if self._root is not None:
            size = len(os.path.join(self._root, normalized).encode("utf-8", "surrogatepass"))
            if size > MAX_PATH_BYTES:
                raise UsageError(
                    f"The path is too long for the server's file system ({len(parts)} parts, "
                    f"{len(normalized)} characters): use a shorter or less deeply nested path."
                )

    def scrub(self, text: str, *, given: str = "") -> str:
        """``text`` with the server's root directory taken out (its paths shown relative to the root).

        A root the agent itself wrote in its arguments (``given``) is left as it is: echoing it
        reveals nothing, and a message about an absolute path must be able to quote it.
        """
        for root in self._root_forms:
            if root not in given:
                text = text.replace(root + os.sep, "").replace(root, "the server root")
        return text

    def _check_inside_root(self, normalized: str, original: str) -> None:
        root = self._root
        if root is None:
            return
        real = os.path.realpath(os.path.join(root, normalized))
        if real != root and not real.startswith(root + os.sep):
            raise UsageError(
                f"Path {original!r} refused: it leads outside the server root (through a symlink)."
            )

    async def check_visible(self, path: str) -> None:
        if not path or getattr(self.cm, "allow_hidden", False):
            return
        if self._dot_means_hidden and not any(part.startswith(".") for part in path.split("/")):
            return
        if await ensure_async(self.cm.is_hidden(path)):
            raise UsageError(
                f"{path!r} is hidden (a name starting with '.'); the server does not serve hidden files "
                "(ContentsManager.allow_hidden is False)."
            )

    async def existing_notebook(self, path: str) -> str:
        """``path`` normalized, checked to be an existing, visible notebook."""
        normalized = self.normalize(path)
        if not normalized.endswith(NOTEBOOK_SUFFIX):
            raise UsageError(
                f"{normalized!r} is not a notebook: notebook paths end in '{NOTEBOOK_SUFFIX}'."
            )
        await self.check_visible(normalized)
        if not await ensure_async(self.cm.file_exists(normalized)):
            if await ensure_async(self.cm.dir_exists(normalized)):
                raise UsageError(f"{normalized!r} is a directory, not a notebook.")
            raise UsageError(await self._missing_message(normalized))
        return normalized

    async def new_notebook(self, path: str) -> str:
        """``path`` normalized, checked to be a notebook path that does not exist yet."""
        normalized = self.normalize(path)
        if not normalized.endswith(NOTEBOOK_SUFFIX):
            raise UsageError(
                f"{normalized!r} is not a notebook path: it must end in '{NOTEBOOK_SUFFIX}'."
            )
        await self.check_visible(normalized)
        if await ensure_async(self.cm.exists(normalized)):
            raise UsageError(
                f"{normalized!r} already exists; it is not overwritten. Choose another path."
            )
        return normalized

    async def existing_directory(self, path: str) -> str:
        normalized = self.normalize(path)
        await self.check_visible(normalized)
        if not await ensure_async(self.cm.dir_exists(normalized)):
            if await ensure_async(self.cm.file_exists(normalized)):
                raise UsageError(f"{normalized!r} is a file, not a directory.")
            raise UsageError(f"Directory {normalized!r} does not exist.")
        return normalized

    async def _missing_message(self, path: str) -> str:
        notebooks = [
            entry["path"]
            async for entry in self.walk("", max_depth=8)
            if entry["type"] == "notebook"
        ]
        scored = sorted((-_closeness(path, nb), nb) for nb in notebooks)
        matches = [nb for score, nb in scored if -score >= CLOSE_MATCH_CUTOFF][:5]
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
            for entry in sorted(
                listing.get("content") or [], key=lambda e: (e["type"] != "directory", e["name"])
            ):
                try:
                    self._check_inside_root(entry["path"], entry["path"])
                except UsageError:
                    continue
                if (
                    pattern is None
                    or fnmatch.fnmatch(entry["name"], pattern)
                    or fnmatch.fnmatch(entry["path"], pattern)
                ):
                    yield entry
                if entry["type"] == "directory" and depth < max_depth:
                    queue.append((entry["path"], depth + 1))
