"""The MCP tools: notebooks and cells, read and edited through the live shared documents."""

from __future__ import annotations

import asyncio
import contextlib
import os
import textwrap
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from jupyter_core.utils import ensure_async
from jupyter_ydoc import YNotebook
from pydantic import Field, WithJsonSchema
from tornado.web import HTTPError

from . import cells, revisions
from .context import AGENT
from .errors import UsageError
from .paths import describe_contents_error
from .toolkit import (
    MAX_CELL_ID_CHARS,
    MAX_NAME_CHARS,
    MAX_PATH_CHARS,
    READ,
    WRITE,
    Call,
    CellParams,
    NotebookParams,
    NotebookResult,
    Params,
    Result,
    Tool,
    ToolOutput,
    tool,
)
from .undo import MAX_STEPS

# A glob longer than this is no file name pattern (and costs time to match against every entry).
MAX_PATTERN_CHARS = 1024

CellId = Annotated[str, Field(max_length=MAX_CELL_ID_CHARS)]


# -- shared shapes -------------------------------------------------------------------------

T = TypeVar("T")

# Work on many cells is cut into transactions of about this long, the event loop free in between:
# the whole server (other requests, kernels, JupyterLab) waits while one runs.
SLICE_SECONDS = 0.02


async def _in_slices(items: Sequence[T], apply: Callable[[Sequence[T]], None]) -> None:
    """``apply`` to consecutive slices of ``items``, sized to take about SLICE_SECONDS each."""
    start, size = 0, 16
    while start < len(items):
        began = time.perf_counter()
        apply(items[start : start + size])
        start += size
        elapsed = time.perf_counter() - began
        size = (
            max(1, min(size * 2, int(size * SLICE_SECONDS / elapsed))) if elapsed > 0 else size * 2
        )
        if start < len(items):
            await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def _document(call: Call, path: str, *, edit: bool = False) -> AsyncIterator[YNotebook]:
    """The live document of ``path``, its changes tracked from now on (see revisions)."""
    async with call.services.notebooks.document(path, edit=edit) as nb:
        revisions.tracker(nb)
        yield nb


def _check_unchanged(
    call: Call, nb: YNotebook, expected: str | None, cell_id: str, index: int, *, whole_cell: bool
) -> None:
    """Refuse an edit of a cell someone else changed after ``expected`` (given by the agent)."""
    if expected is None:
        return
    parts = (
        (revisions.SOURCE, revisions.CELL, revisions.PLACE) if whole_cell else (revisions.SOURCE,)
    )
    me = call.agent.origin if call.agent is not None else None
    revisions.tracker(nb).check_unchanged(expected, cell_id, index, me, parts)


ExpectedRevision = Annotated[
    str | None,
    Field(
        max_length=64,
        description=(
            "The revision you last read this cell at (from a read or edit result): if someone else "
            "changed the cell since, nothing is changed and the error shows its current source."
        ),
    ),
]


def _iso(moment: Any) -> str | None:
    """A contents model's timestamp (a datetime, or a string from some contents managers) as text."""
    if isinstance(moment, datetime):
        return moment.isoformat()
    return moment if isinstance(moment, str) else None


class OutputView(Result):
    output_type: str
    text: str = Field(
        description="Text of the output (stream text, text/plain, error with traceback); capped."
    )
    omitted: list[str] = Field(
        description="What is not shown: other MIME types with sizes, cut characters."
    )


class CellView(Result):
    index: int
    cell_id: str
    cell_type: str = Field(
        description="code, markdown or raw (a malformed file may hold another type: shown as is)."
    )
    source: str
    execution_count: int | None = None
    output_count: int | None = Field(None, description="Number of outputs (code cells).")
    outputs: list[OutputView] | None = Field(
        None, description="Outputs (code cells), when requested."
    )


class CellRef(NotebookResult):
    cell_index: int
    cell_id: str
    cell_count: int = Field(description="Number of cells in the notebook after the change.")


def _render_cells(path: str, views: list[dict[str, Any]], total: int, revision: str) -> str:
    """Cells as readable text for the model (many clients show it only the text content)."""
    lines = [f"Notebook {path} ({total} cells, revision {revision})"]
    for view in views:
        header = f"--- cell {view['index']} [{view['cell_type']}] id={view['cell_id']}"
        if view["cell_type"] == "code":
            header += f" execution_count={view.get('execution_count')}"
        lines.append(header)
        lines.append(view["source"])
        for output in view.get("outputs") or []:
            lines.append(f">>> {output['output_type']}:")
            if output["text"]:
                lines.append(output["text"])
            if output["omitted"]:
                lines.append("(omitted: " + "; ".join(output["omitted"]) + ")")
        if view.get("outputs") is None and view.get("output_count"):
            lines.append(f"({view['output_count']} outputs not shown)")
    return "\n".join(lines)


async def _kernelspec(call: Call, kernel_name: str | None) -> dict[str, Any]:
    ksm = call.services.serverapp.kernel_spec_manager
    name = kernel_name or call.services.serverapp.kernel_manager.default_kernel_name
    try:
        spec = await ensure_async(ksm.get_kernel_spec(name))
    except Exception:
        available = sorted(await ensure_async(ksm.get_all_specs()))
        raise UsageError(
            f"No kernel named {name!r}. Available kernels: {', '.join(available) or 'none'}."
        ) from None
    return {"name": name, "display_name": spec.display_name, "language": spec.language}


async def _create_notebook(call: Call, path: str, kernel_name: str | None) -> dict[str, Any]:
    """Write a new, empty notebook (no room exists for a file that does not exist yet).

    Missing parent folders are created; if the notebook cannot be written, the folders
    created for it are removed again.
    """
    await call.authorize(*WRITE)
    kernelspec = await _kernelspec(call, kernel_name)
    cm = call.services.contents
    created: list[str] = []
    content = {
        "cells": [],
        "metadata": {"kernelspec": kernelspec, "language_info": {"name": kernelspec["language"]}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    try:
        built = ""
        for part in os.path.dirname(path).split("/") if "/" in path else []:
            built = f"{built}/{part}" if built else part
            if not await ensure_async(cm.dir_exists(built)):
                await ensure_async(cm.save({"type": "directory"}, built))
                created.append(built)
        await ensure_async(
            cm.save({"type": "notebook", "format": "json", "content": content}, path)
        )
    except (HTTPError, OSError) as error:
        for folder in reversed(created):
            with contextlib.suppress(Exception):
                await ensure_async(cm.delete(folder))
        raise UsageError(f"Could not create {path!r}: {describe_contents_error(error)}.") from error
    return kernelspec


def _scan_progress(call: Call) -> Callable[[int], Awaitable[None]]:
    async def report(folders: int) -> None:
        await call.progress(folders, None, f"scanned {folders} folder(s)")

    return report


# -- notebooks -----------------------------------------------------------------------------


class ListNotebooksParams(Params):
    path: str = Field(
        "",
        max_length=MAX_PATH_CHARS,
        description="Directory to search, relative to the server root ('' = the root).",
    )
    offset: int = Field(0, ge=0, description="Number of notebooks to skip (paging).")
    limit: int = Field(100, ge=1, le=1000, description="Largest number of notebooks returned.")


class NotebookEntry(Result):
    path: str
    current: bool = Field(description="This is the user's current notebook.")
    live: bool = Field(description="The notebook's shared document is open in the server.")
    browser_connections: int = Field(description="Browser connections to the shared document.")
    last_modified: str | None = None


class ListNotebooksResult(Result):
    notebooks: list[NotebookEntry]
    total: int = Field(description="Number of notebooks found under the directory.")
    offset: int
    next_offset: int | None = Field(
        description="Offset of the next page, or null when this is the last page."
    )
    current_notebook: str | None


@tool(
    "list_notebooks",
    params=ListNotebooksParams,
    result=ListNotebooksResult,
    permission=READ,
    read_only=True,
    title="List notebooks",
)
async def list_notebooks(call: Call, p: ListNotebooksParams) -> ToolOutput:
    """List the notebooks (.ipynb) under a directory of the server root, recursively, sorted by path,
    paged with offset/limit. Each entry says whether it is the user's current notebook (what tools act on
    when notebook_path is omitted) and whether it is open live (and in how many browser connections)."""
    paths = call.services.paths
    directory = await paths.existing_directory(p.path) if p.path else ""
    walk = paths.walk(directory, max_depth=32, on_directory=_scan_progress(call))
    found = sorted(
        [entry async for entry in walk if entry["type"] == "notebook"],
        key=lambda entry: entry["path"],
    )
    current_path = call.services.current.get(call.principal).path
    page = found[p.offset : p.offset + p.limit]
    entries = []
    for entry in page:
        live, connections = call.services.notebooks.room_state(entry["path"])
        modified = entry.get("last_modified")
        entries.append(
            NotebookEntry(
                path=entry["path"],
                current=entry["path"] == current_path,
                live=live,
                browser_connections=connections,
                last_modified=_iso(modified),
            )
        )
    next_offset = p.offset + len(page) if p.offset + len(page) < len(found) else None
    result = ListNotebooksResult(
        notebooks=entries,
        total=len(found),
        offset=p.offset,
        next_offset=next_offset,
        current_notebook=current_path,
    )
    lines = [
        f"{len(found)} notebooks under {directory or 'the root'!r}; current: {current_path or 'none'}"
    ]
    lines += [
        f"{e.path}{' (current)' if e.current else ''}{' (open live)' if e.live else ''}"
        for e in entries
    ]
    if next_offset is not None:
        lines.append(f"... more: call again with offset={next_offset}")
    return result, "\n".join(lines)


class CreateNotebookParams(Params):
    notebook_path: str = Field(
        max_length=MAX_PATH_CHARS,
        description="Path of the new notebook, relative to the server root, ending in .ipynb.",
    )
    kernel_name: str | None = Field(
        None,
        max_length=MAX_NAME_CHARS,
        description="Kernelspec name (e.g. 'python3'); default: the server's default.",
    )


class CreateNotebookResult(NotebookResult):
    kernelspec: dict[str, Any]
    url: str = Field(description="JupyterLab URL of the notebook (for a browser or an iframe).")


@tool(
    "create_notebook",
    params=CreateNotebookParams,
    result=CreateNotebookResult,
    permission=WRITE,
    title="Create a notebook",
)
async def create_notebook(call: Call, p: CreateNotebookParams) -> ToolOutput:
    """Create a new, empty notebook at a path (missing parent folders are created), with the kernelspec in
    its metadata. Refuses to overwrite an existing file. Does not change the current notebook
    (use prepare_notebook for that)."""
    path = await call.services.paths.new_notebook(p.notebook_path)
    kernelspec = await _create_notebook(call, path, p.kernel_name)
    url = call.services.lab_url(path)
    return CreateNotebookResult(notebook_path=path, kernelspec=kernelspec, url=url), (
        f"Created {path} (kernel {kernelspec['name']}). Open it at {url}."
    )


class PrepareNotebookParams(Params):
    notebook_path: str = Field(
        max_length=MAX_PATH_CHARS, description="Notebook path relative to the server root."
    )
    create: bool = Field(False, description="Create the notebook if it does not exist.")
    kernel_name: str | None = Field(
        None,
        max_length=MAX_NAME_CHARS,
        description="Kernelspec for a created notebook; default: the server's.",
    )


class PrepareNotebookResult(NotebookResult):
    url: str = Field(description="JupyterLab URL of the notebook, e.g. for an iframe's src.")
    created: bool


@tool(
    "prepare_notebook",
    params=PrepareNotebookParams,
    result=PrepareNotebookResult,
    permission=READ,
    title="Make a notebook the current one",
    idempotent=True,
)
async def prepare_notebook(call: Call, p: PrepareNotebookParams) -> ToolOutput:
    """Make a notebook the user's current notebook: later tool calls without notebook_path act on it,
    and the user's JupyterLab (if open) opens and shows it. With create=true a missing notebook is
    created first. Returns its path and its JupyterLab URL ({base_url}lab/tree/<path>)."""
    paths = call.services.paths
    created = False
    try:
        path = await paths.existing_notebook(p.notebook_path)
    except UsageError:
        if not p.create:
            raise
        path = await paths.new_notebook(p.notebook_path)
        await _create_notebook(call, path, p.kernel_name)
        created = True
    current = call.services.current.set(call.principal, path, source=AGENT)
    call.services.ui.open_notebook(call.principal, path, current.window)
    url = call.services.lab_url(path)
    verb = "Created and selected" if created else "Selected"
    return PrepareNotebookResult(notebook_path=path, url=url, created=created), (
        f"{verb} {path} as the current notebook. JupyterLab URL: {url}"
    )


class NotebookInfoResult(NotebookResult):
    cell_count: int
    cells_by_type: dict[str, int] = Field(description="Number of code, markdown and raw cells.")
    kernelspec: dict[str, Any] = Field(
        description="metadata.kernelspec of the notebook ({} if none)."
    )
    live: bool = Field(description="The shared document was already open before this call.")
    browser_connections: int
    size_bytes: int | None = Field(description="Size of the .ipynb file on disk (as last saved).")
    last_modified: str | None
    url: str


@tool(
    "get_notebook_info",
    params=NotebookParams,
    result=NotebookInfoResult,
    permission=READ,
    read_only=True,
    title="Notebook info",
)
async def get_notebook_info(call: Call, p: NotebookParams) -> ToolOutput:
    """Facts about a notebook: path, number of cells by type, kernelspec, whether it is open live (and
    in how many browser connections), size on disk and last modification, JupyterLab URL."""
    path = await call.notebook(p.notebook_path)
    live, connections = call.services.notebooks.room_state(path)
    async with _document(call, path) as nb:
        by_type = {kind: 0 for kind in cells.CELL_TYPES}
        plain = cells.read_cells(nb)
        for cell in plain:
            kind = str(cell.get("cell_type"))
            by_type[kind] = by_type.get(kind, 0) + 1
        count = len(plain)
        kernelspec = cells.metadata_kernelspec(nb)
        revision = call.services.revision(nb, plain)
    model = await ensure_async(call.services.contents.get(path, content=False))
    modified = model.get("last_modified")
    result = NotebookInfoResult(
        notebook_path=path,
        revision=revision,
        cell_count=count,
        cells_by_type=by_type,
        kernelspec=kernelspec,
        live=live,
        browser_connections=connections,
        size_bytes=model.get("size"),
        last_modified=_iso(modified),
        url=call.services.lab_url(path),
    )
    kinds = ", ".join(f"{n} {kind}" for kind, n in by_type.items())
    return result, (
        f"{path} (revision {revision}): {count} cells ({kinds}); kernel {kernelspec.get('name', 'none')}; "
        f"{'open live' if live else 'not open'}"
        f"{f' in {connections} browser connection(s)' if connections else ''}."
    )


# -- reading cells ---------------------------------------------------------------------------


# The cells of a whole notebook are described in prose, not by an item schema: clients validate
# results against the output schema, and the official SDK client's validation of 1,000 typed
# items costs more than the rest of the call.
CELL_LIST_SCHEMA = {
    "type": "array",
    "description": (
        "Cells in order. Each an object: index, cell_id, cell_type (code|markdown|raw), source; code "
        "cells also execution_count (int or null), output_count, and (when requested) outputs, each "
        "{output_type, text (capped), omitted (list of what is not shown)}."
    ),
}


class CellsResult(NotebookResult):
    cell_count: int
    cells: Annotated[list[dict[str, Any]], WithJsonSchema(CELL_LIST_SCHEMA)]


@tool(
    "read_all_cells",
    params=NotebookParams,
    result=CellsResult,
    permission=READ,
    read_only=True,
    title="Read all cells",
)
async def read_all_cells(call: Call, p: NotebookParams) -> ToolOutput:
    """Every cell of a notebook in order: index, id, type, source, and for code cells the execution count
    and outputs (text capped; images and other rich data summarised by MIME type and size). For large
    notebooks prefer read_notebook, which pages."""
    path = await call.notebook(p.notebook_path)
    limit = call.services.max_output_chars
    async with _document(call, path) as nb:
        raw = cells.read_cells(nb)
        revision = call.services.revision(nb, raw)
    views: list[dict[str, Any]] = []
    await _in_slices(
        range(len(raw)),
        lambda indexes: views.extend(
            cells.cell_view(i, raw[i], max_output_chars=limit) for i in indexes
        ),
    )
    result = {
        "notebook_path": path,
        "revision": revision,
        "cell_count": len(views),
        "cells": views,
    }  # plain: 1,000 cells stay fast
    return result, _render_cells(path, views, len(views), revision)


class ReadNotebookParams(NotebookParams):
    offset: int = Field(0, ge=0, description="Index of the first cell returned.")
    limit: int = Field(20, ge=1, le=500, description="Largest number of cells returned.")
    detail: Literal["brief", "detailed"] = Field(
        "brief",
        description="brief: first line of each source and output counts; detailed: full sources and outputs.",
    )


class ReadNotebookResult(CellsResult):
    offset: int
    next_offset: int | None = Field(
        description="Offset of the next page, or null when this is the last page."
    )


@tool(
    "read_notebook",
    params=ReadNotebookParams,
    result=ReadNotebookResult,
    permission=READ,
    read_only=True,
    title="Read a notebook (paged)",
)
async def read_notebook(call: Call, p: ReadNotebookParams) -> ToolOutput:
    """Read a page of cells (offset/limit). detail='brief' gives each cell's index, id, type, first source
    line and output count — an overview for finding cells; detail='detailed' gives full sources and
    outputs (capped). Returns next_offset for the following page."""
    path = await call.notebook(p.notebook_path)
    limit = call.services.max_output_chars
    async with _document(call, path) as nb:
        total = len(nb.ycells)
        raw = cells.read_cells(nb, p.offset, p.offset + p.limit)
        revision = call.services.revision(nb)
    detailed = p.detail == "detailed"
    views = []
    for i, cell in enumerate(raw, start=p.offset):
        view = cells.cell_view(i, cell, max_output_chars=limit, outputs=detailed)
        if not detailed:
            lines = view["source"].splitlines()
            view["source"] = (lines[0] if lines else "") + (" …" if len(lines) > 1 else "")
        views.append(view)
    end = p.offset + len(views)
    next_offset = end if end < total else None
    result = {
        "notebook_path": path,
        "revision": revision,
        "cell_count": total,
        "cells": views,
        "offset": p.offset,
        "next_offset": next_offset,
    }
    text = _render_cells(path, views, total, revision)
    if next_offset is not None:
        text += f"\n... cells {next_offset}..{total - 1} not shown: call again with offset={next_offset}"
    return result, text


class ReadCellParams(CellParams):
    include_outputs: bool = Field(True, description="Include the outputs of a code cell.")


class ReadCellResult(NotebookResult):
    cell: CellView


@tool(
    "read_cell",
    params=ReadCellParams,
    result=ReadCellResult,
    permission=READ,
    read_only=True,
    title="Read a cell",
)
async def read_cell(call: Call, p: ReadCellParams) -> ToolOutput:
    """Read one cell by cell_index or cell_id: its id, type, full source, execution count and outputs
    (text capped; rich data summarised)."""
    path = await call.notebook(p.notebook_path)
    async with _document(call, path) as nb:
        index, _ = cells.locate(nb, p.cell_index, p.cell_id)
        (raw,) = cells.read_cells(nb, index, index + 1)
        total = len(nb.ycells)
        revision = call.services.revision(nb)
    view = cells.cell_view(
        index, raw, max_output_chars=call.services.max_output_chars, outputs=p.include_outputs
    )
    return {"notebook_path": path, "revision": revision, "cell": view}, _render_cells(
        path, [view], total, revision
    )


class ChangesParams(NotebookParams):
    since_revision: str = Field(
        max_length=64,
        description="A revision from an earlier read or edit result of this notebook.",
    )


class CellChangeView(Result):
    cell_id: str
    change: Literal["added", "deleted", "moved", "edited", "executed"]
    cell_index: int | None = Field(description="Where the cell is now (null: deleted).")
    cell_type: str
    by: list[str] = Field(
        description='Who: "you", "a person" (in JupyterLab), or "another agent: <name>".'
    )
    diff: str | None = Field(None, description="edited: unified diff of the source (bounded).")
    execution_count: int | None = None
    output_count: int | None = None


class ChangesResult(NotebookResult):
    since_revision: str
    changes: list[CellChangeView]
    metadata_changed_by: list[str] = Field(description="Who changed the notebook's metadata.")
    more_changes: int = Field(description="Changed cells not listed (too many to show).")


def _change_line(change: CellChangeView) -> str:
    where = f"cell {change.cell_index} (id {change.cell_id})"
    if change.cell_index is None:
        where = f"cell id {change.cell_id} ({change.cell_type})"
    line = f"- {where} {change.change} by {', '.join(change.by)}"
    if change.change == "executed":
        line += f": execution_count={change.execution_count}, {change.output_count} output(s)"
    if change.diff:
        line += ":\n" + textwrap.indent(change.diff, "    ")
    return line


@tool(
    "get_notebook_changes",
    params=ChangesParams,
    result=ChangesResult,
    permission=READ,
    read_only=True,
    title="What changed in a notebook",
)
async def get_notebook_changes(call: Call, p: ChangesParams) -> ToolOutput:
    """What changed in a notebook since a revision you got from a read or edit result: cells added,
    deleted, moved, edited (with a diff of the source) and executed, each with who did it — a person
    in JupyterLab, you, or another agent. Returns the current revision to continue from."""
    path = await call.notebook(p.notebook_path)
    async with _document(call, path) as nb:
        tracker = revisions.tracker(nb)
        revision = call.services.revision(nb)
        found = tracker.changes_since(p.since_revision)
    me = call.agent.origin if call.agent is not None else None
    views = [
        CellChangeView(
            cell_id=change.cell_id,
            change=change.kind,
            cell_index=change.index,
            cell_type=change.cell_type,
            by=[tracker.describe(origin, me) for origin in change.by] or ["unknown"],
            diff=change.diff or None,
            execution_count=change.execution_count,
            output_count=change.output_count,
        )
        for change in found.changes
    ]
    result = ChangesResult(
        notebook_path=path,
        revision=revision,
        since_revision=p.since_revision,
        changes=views,
        metadata_changed_by=[tracker.describe(origin, me) for origin in found.metadata_by],
        more_changes=found.omitted,
    )
    lines = [f"Changes in {path} since revision {p.since_revision} (now revision {revision}):"]
    lines += [_change_line(view) for view in views]
    if result.metadata_changed_by:
        lines.append(f"- notebook metadata changed by {', '.join(result.metadata_changed_by)}")
    if found.omitted:
        lines.append(f"... and {found.omitted} more changed cells: read the notebook.")
    if len(lines) == 1:
        lines.append("none.")
    return result, "\n".join(lines)


# -- editing cells ---------------------------------------------------------------------------


class AppendParams(NotebookParams):
    source: str = Field(description="The cell's source text.")


async def _insert(
    call: Call, notebook_path: str | None, index: int, cell_type: str, source: str
) -> ToolOutput:
    path = await call.notebook(notebook_path)
    async with _document(call, path, edit=True) as nb:
        index, cell_id = cells.insert_cell(nb, index, cell_type, source)
        count = len(nb.ycells)
        revision = call.services.revision(nb)
    call.show_cell(path, cell_id, index, "edit")
    result = CellRef(
        notebook_path=path, revision=revision, cell_index=index, cell_id=cell_id, cell_count=count
    )
    return result, (
        f"Inserted {cell_type} cell {index} (id {cell_id}) in {path}; it now has {count} cells "
        f"(revision {revision})."
    )


@tool(
    "append_markdown_cell",
    params=AppendParams,
    result=CellRef,
    permission=WRITE,
    title="Append a markdown cell",
)
async def append_markdown_cell(call: Call, p: AppendParams) -> ToolOutput:
    """Append a markdown cell at the end of the notebook. Returns the new cell's index and id."""
    return await _insert(call, p.notebook_path, -1, "markdown", p.source)


@tool(
    "append_code_cell",
    params=AppendParams,
    result=CellRef,
    permission=WRITE,
    title="Append a code cell",
)
async def append_code_cell(call: Call, p: AppendParams) -> ToolOutput:
    """Append a code cell at the end of the notebook without running it. Returns the new cell's index and id."""
    return await _insert(call, p.notebook_path, -1, "code", p.source)


class InsertCellParams(NotebookParams):
    cell_index: int = Field(
        description="Position of the new cell: 0 = first, -1 or the cell count = append."
    )
    cell_type: Literal["code", "markdown", "raw"] = Field(
        "code", description="Type of the new cell."
    )
    source: str = Field("", description="The cell's source text.")


@tool(
    "insert_cell", params=InsertCellParams, result=CellRef, permission=WRITE, title="Insert a cell"
)
async def insert_cell(call: Call, p: InsertCellParams) -> ToolOutput:
    """Insert a code, markdown or raw cell at an index (cells from there on move down; -1 appends),
    without running it. Returns the new cell's index and id."""
    return await _insert(call, p.notebook_path, p.cell_index, p.cell_type, p.source)


class SourceChange(CellRef):
    chars_removed: int
    chars_inserted: int


class OverwriteParams(CellParams):
    source: str = Field(description="The new complete source of the cell.")
    expected_revision: ExpectedRevision = None


@tool(
    "overwrite_cell_source",
    params=OverwriteParams,
    result=SourceChange,
    permission=WRITE,
    destructive=True,
    idempotent=True,
    title="Overwrite a cell's source",
)
async def overwrite_cell_source(call: Call, p: OverwriteParams) -> ToolOutput:
    """Replace the whole source of a cell (by cell_index or cell_id). Applied as a minimal text diff, so
    a person editing the same notebook keeps their text and cursor; outputs are left as they are."""
    path = await call.notebook(p.notebook_path)
    async with _document(call, path, edit=True) as nb:
        seen, cell_id = cells.locate(nb, p.cell_index, p.cell_id)
        _check_unchanged(call, nb, p.expected_revision, cell_id, seen, whole_cell=False)
        index, removed, inserted = cells.set_source(nb, cell_id, p.source, hint=seen)
        count = len(nb.ycells)
        revision = call.services.revision(nb)
    call.show_cell(path, cell_id, index, "edit")
    result = SourceChange(
        notebook_path=path,
        revision=revision,
        cell_index=index,
        cell_id=cell_id,
        cell_count=count,
        chars_removed=removed,
        chars_inserted=inserted,
    )
    return (
        result,
        f"Cell {index} (id {cell_id}) of {path}: {removed} characters removed, {inserted} inserted "
        f"(revision {revision}).",
    )


class EditSourceParams(CellParams):
    old_text: str = Field(description="Exact text to replace (must occur once unless replace_all).")
    new_text: str = Field(description="Replacement text.")
    replace_all: bool = Field(
        False, description="Replace every occurrence instead of requiring exactly one."
    )
    expected_revision: ExpectedRevision = None


class EditSourceResult(SourceChange):
    replacements: int


@tool(
    "edit_cell_source",
    params=EditSourceParams,
    result=EditSourceResult,
    permission=WRITE,
    destructive=True,
    title="Edit part of a cell's source",
)
async def edit_cell_source(call: Call, p: EditSourceParams) -> ToolOutput:
    """Replace an exact substring of a cell's source (by cell_index or cell_id). Fails, changing nothing,
    if old_text does not occur, or occurs more than once without replace_all. Only the matched text
    changes; the rest of the cell is untouched."""
    path = await call.notebook(p.notebook_path)
    async with _document(call, path, edit=True) as nb:
        seen, cell_id = cells.locate(nb, p.cell_index, p.cell_id)
        _check_unchanged(call, nb, p.expected_revision, cell_id, seen, whole_cell=False)
        index, replacements, removed, inserted = cells.replace_in_source(
            nb, cell_id, p.old_text, p.new_text, p.replace_all, hint=seen
        )
        count = len(nb.ycells)
        revision = call.services.revision(nb)
    call.show_cell(path, cell_id, index, "edit")
    result = EditSourceResult(
        notebook_path=path,
        revision=revision,
        cell_index=index,
        cell_id=cell_id,
        cell_count=count,
        replacements=replacements,
        chars_removed=removed,
        chars_inserted=inserted,
    )
    return (
        result,
        f"Replaced {replacements} occurrence(s) in cell {index} (id {cell_id}) of {path} "
        f"(revision {revision}).",
    )


class DeleteCellParams(NotebookParams):
    cell_index: int | list[int] | None = Field(
        None, description="Index or indexes of the cells to delete."
    )
    cell_id: CellId | list[CellId] | None = Field(
        None, description="Id or ids of the cells to delete (instead of indexes)."
    )
    expected_revision: ExpectedRevision = None


class DeletedCell(Result):
    index: int = Field(description="Index the cell had before the deletion.")
    cell_id: str
    cell_type: str


class DeleteCellResult(NotebookResult):
    deleted: list[DeletedCell]
    cell_count: int


@tool(
    "delete_cell",
    params=DeleteCellParams,
    result=DeleteCellResult,
    permission=WRITE,
    destructive=True,
    title="Delete cells",
)
async def delete_cell(call: Call, p: DeleteCellParams) -> ToolOutput:
    """Delete one or several cells, by cell_index (an index or a list) or by cell_id (an id or a list).
    All are resolved before anything is deleted: if one is invalid, nothing is deleted."""
    if (p.cell_index is None) == (p.cell_id is None):
        raise UsageError(
            "Give exactly one of cell_index (an index or a list of indexes) or cell_id (an id or a list)."
        )
    path = await call.notebook(p.notebook_path)
    async with _document(call, path, edit=True) as nb:
        if p.cell_id is not None:
            ids = [p.cell_id] if isinstance(p.cell_id, str) else list(p.cell_id)
        else:
            indexes = [p.cell_index] if isinstance(p.cell_index, int) else list(p.cell_index or [])
            ids = [cells.locate(nb, index, None)[1] for index in indexes]
        if not ids:
            raise UsageError("No cells given: cell_index or cell_id is an empty list.")
        if len(set(ids)) != len(ids):
            raise UsageError("The same cell is named more than once; name each cell once.")
        deleted = cells.resolve_cells(nb, ids)
        for cell in deleted:
            _check_unchanged(
                call, nb, p.expected_revision, cell["cell_id"], cell["index"], whole_cell=True
            )

        def delete(part: Sequence[dict[str, Any]]) -> None:
            for cell in part:  # again: a slice runs after an await
                index = cells.find_index(nb, cell["cell_id"], cell["index"])
                if index is not None:
                    _check_unchanged(
                        call, nb, p.expected_revision, cell["cell_id"], index, whole_cell=True
                    )
            cells.delete_cells(nb, list(part))

        # Highest index first: deleting a cell does not move the ones still to delete.
        await _in_slices(sorted(deleted, key=lambda cell: cell["index"], reverse=True), delete)
        count = len(nb.ycells)
        revision = call.services.revision(nb)
    result = DeleteCellResult(
        notebook_path=path,
        revision=revision,
        deleted=[DeletedCell(**d) for d in deleted],
        cell_count=count,
    )
    listed = ", ".join(f"{d['index']} (id {d['cell_id']})" for d in deleted)
    return result, (
        f"Deleted cell(s) {listed} from {path}; it now has {count} cells (revision {revision})."
    )


class MoveCellParams(CellParams):
    to_index: int = Field(
        description="Index the cell has after the move (negative counts from the end: -1 = last)."
    )


class MoveCellResult(CellRef):
    from_index: int


@tool(
    "move_cell", params=MoveCellParams, result=MoveCellResult, permission=WRITE, title="Move a cell"
)
async def move_cell(call: Call, p: MoveCellParams) -> ToolOutput:
    """Move a cell (by cell_index or cell_id) so that it ends at to_index. Its id, source and outputs are kept."""
    path = await call.notebook(p.notebook_path)
    async with _document(call, path, edit=True) as nb:
        _, cell_id = cells.locate(nb, p.cell_index, p.cell_id)
        from_index, to_index = cells.move_cell(nb, cell_id, p.to_index)
        count = len(nb.ycells)
        revision = call.services.revision(nb)
    call.show_cell(path, cell_id, to_index, "edit")
    result = MoveCellResult(
        notebook_path=path,
        revision=revision,
        cell_index=to_index,
        cell_id=cell_id,
        cell_count=count,
        from_index=from_index,
    )
    return result, (
        f"Moved cell {cell_id} of {path} from index {from_index} to {to_index} (revision {revision})."
    )


class ClearOutputParams(CellParams):
    all_cells: bool = Field(
        False, description="Clear the outputs of every code cell (no cell_index/cell_id then)."
    )


class ClearedCell(Result):
    index: int
    cell_id: str
    outputs_removed: int


class ClearOutputResult(NotebookResult):
    cleared: list[ClearedCell]


@tool(
    "clear_cell_output",
    params=ClearOutputParams,
    result=ClearOutputResult,
    permission=WRITE,
    destructive=True,
    idempotent=True,
    title="Clear outputs",
)
async def clear_cell_output(call: Call, p: ClearOutputParams) -> ToolOutput:
    """Clear the outputs and execution count of a code cell (by cell_index or cell_id), or of every
    code cell with all_cells=true. Sources are not touched."""
    path = await call.notebook(p.notebook_path)
    async with _document(call, path, edit=True) as nb:
        if p.all_cells:
            if p.cell_index is not None or p.cell_id is not None:
                raise UsageError(
                    "all_cells=true clears every cell: do not give cell_index or cell_id with it."
                )
            plain = cells.read_cells(nb)
            # Only cells with something to clear are touched: each live cell read costs O(its index).
            by_id = {
                str(cell.get("id")): (index, 0)
                for index, cell in enumerate(plain)
                if cell.get("cell_type") == "code"
            }
            targets = [
                (index, str(cell.get("id")))
                for index, cell in enumerate(plain)
                if cells.clearable(cell)
            ]

            def clear(part: Sequence[tuple[int, str]]) -> None:
                for index, cell_id, removed in cells.clear_outputs_of(nb, list(part)):
                    by_id[cell_id] = (index, removed)

            await _in_slices(targets, clear)
            cleared = [
                ClearedCell(index=index, cell_id=cell_id, outputs_removed=removed)
                for cell_id, (index, removed) in by_id.items()
            ]
        else:
            seen, cell_id = cells.locate(nb, p.cell_index, p.cell_id)
            index, removed = cells.clear_outputs(nb, cell_id, hint=seen)
            cleared = [ClearedCell(index=index, cell_id=cell_id, outputs_removed=removed)]
            call.show_cell(path, cell_id, index, "edit")
        revision = call.services.revision(nb)
    total = sum(c.outputs_removed for c in cleared)
    return ClearOutputResult(notebook_path=path, revision=revision, cleared=cleared), (
        f"Cleared {total} output(s) in {len(cleared)} cell(s) of {path} (revision {revision})."
    )


# -- undo ----------------------------------------------------------------------------------------


class UndoParams(NotebookParams):
    steps: int = Field(1, ge=1, le=MAX_STEPS, description="How many steps to take, latest first.")


class UndoResult(NotebookResult):
    done: list[str] = Field(description="The steps taken, in the order they were taken.")
    undoable: list[str] = Field(description="Your steps that undo can take back now, latest first.")
    redoable: list[str] = Field(
        description="Your undone steps that redo can bring back, latest first."
    )


async def _replay(call: Call, notebook_path: str | None, steps: int, *, undo: bool) -> ToolOutput:
    path = await call.notebook(notebook_path)
    if call.agent is None:
        raise UsageError("undo and redo act for an MCP agent: this call has none.")
    histories = call.services.undo
    async with _document(call, path, edit=True) as nb:
        history = histories.find(nb, origin=call.agent.origin)
        done = histories.replay(history, undo=undo, steps=steps, name="you")
        listing = history.listing() if history is not None else {"undo": [], "redo": []}
    undoable = [step["description"] for step in listing["undo"]]
    redoable = [step["description"] for step in listing["redo"]]
    result = UndoResult(notebook_path=path, done=done, undoable=undoable, redoable=redoable)
    verb = "Undid" if undo else "Redid"
    return result, (
        f"{verb} in {path}: "
        + "; ".join(done)
        + f". Left to undo: {len(undoable)} step(s)"
        + (f", latest '{undoable[0]}'" if undoable else "")
        + f"; to redo: {len(redoable)}."
    )


@tool(
    "undo",
    params=UndoParams,
    result=UndoResult,
    permission=WRITE,
    destructive=True,
    title="Undo your changes",
)
async def undo(call: Call, p: UndoParams) -> ToolOutput:
    """Take back your own latest changes to a notebook: each of your tool calls that changed it is one
    step (a run's outputs included). Undoing an inserted cell removes it; undoing a deletion brings
    the cells back with their ids and outputs. What people (and other agents) changed is kept; a step
    that would remove a cell a person has typed in since is refused, changing nothing. The history
    ends when the notebook is closed on the server."""
    return await _replay(call, p.notebook_path, p.steps, undo=True)


@tool(
    "redo",
    params=UndoParams,
    result=UndoResult,
    permission=WRITE,
    destructive=True,
    title="Redo your undone changes",
)
async def redo(call: Call, p: UndoParams) -> ToolOutput:
    """Bring back your steps that undo took back (latest undone first), until you change the notebook
    again. A step that would remove a cell a person has typed in since is refused, changing nothing."""
    return await _replay(call, p.notebook_path, p.steps, undo=False)


# -- files -------------------------------------------------------------------------------------


class ListFilesParams(Params):
    path: str = Field(
        "",
        max_length=MAX_PATH_CHARS,
        description="Directory to list, relative to the server root ('' = the root).",
    )
    max_depth: int = Field(
        1, ge=1, le=10, description="1 lists the directory itself; more descends into subfolders."
    )
    pattern: str | None = Field(
        None, max_length=MAX_PATTERN_CHARS, description="Glob on names or paths, e.g. '*.csv'."
    )
    offset: int = Field(0, ge=0, description="Number of entries to skip (paging).")
    limit: int = Field(200, ge=1, le=2000, description="Largest number of entries returned.")


class FileEntry(Result):
    path: str
    type: Literal["directory", "file", "notebook"]
    size: int | None = None
    last_modified: str | None = None


class ListFilesResult(Result):
    path: str
    files: list[FileEntry]
    total: int
    offset: int
    next_offset: int | None


@tool(
    "list_files",
    params=ListFilesParams,
    result=ListFilesResult,
    permission=READ,
    read_only=True,
    title="List files",
)
async def list_files(call: Call, p: ListFilesParams) -> ToolOutput:
    """List files and folders under a directory of the server root (as Jupyter's file browser sees them:
    hidden files only if the server allows them), optionally recursive and filtered by a glob, paged."""
    paths = call.services.paths
    directory = await paths.existing_directory(p.path) if p.path else ""
    walk = paths.walk(
        directory, max_depth=p.max_depth, pattern=p.pattern, on_directory=_scan_progress(call)
    )
    found = [entry async for entry in walk]
    page = found[p.offset : p.offset + p.limit]
    files = []
    for entry in page:
        modified = entry.get("last_modified")
        files.append(
            FileEntry(
                path=entry["path"],
                type=entry["type"],
                size=entry.get("size"),
                last_modified=_iso(modified),
            )
        )
    next_offset = p.offset + len(page) if p.offset + len(page) < len(found) else None
    result = ListFilesResult(
        path=directory, files=files, total=len(found), offset=p.offset, next_offset=next_offset
    )
    lines = [f"{len(found)} entries under {directory or 'the root'!r}"]
    lines += [
        f"{f.path}{'/' if f.type == 'directory' else ''}"
        + (f"  ({f.size} B)" if f.size is not None else "")
        for f in files
    ]
    if next_offset is not None:
        lines.append(f"... more: call again with offset={next_offset}")
    return result, "\n".join(lines)


# The notebook tools, in the order tools/list shows them.
NOTEBOOK_TOOLS: list[Tool] = [
    list_notebooks,
    create_notebook,
    prepare_notebook,
    get_notebook_info,
    read_all_cells,
    read_notebook,
    read_cell,
    get_notebook_changes,
    append_markdown_cell,
    append_code_cell,
    insert_cell,
    overwrite_cell_source,
    edit_cell_source,
    delete_cell,
    move_cell,
    clear_cell_output,
    undo,
    redo,
    list_files,
]
