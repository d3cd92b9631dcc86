"""Notebooks as MCP resources: ``notebook://<path>`` (its cells) and ``notebook://<path>?cell=<id>``
(one cell), read from the live document as the person sees it, with the notebook's revision (as
tool results give it: for get_notebook_changes and expected_revision).

The path is percent-encoded except for '/', so a '?' or '#' in a file name cannot be taken for
the cell query. Contents are JSON (``application/json``) in the shapes of read_notebook
(detailed) and read_cell's structured content: an agent parses one form, and ids stay exact.
resources/list names the notebooks open on the server (their rooms are in memory, whoever opened
them) and the user's current notebook.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote

import mcp_types as types

from . import cells
from .errors import UsageError
from .toolkit import READ, Call, Services

SCHEME = "notebook://"
MIME_TYPE = "application/json"
CELL_QUERY = "cell"

TEMPLATES = [
    types.ResourceTemplate(
        uri_template=SCHEME + "{+path}",
        name="notebook",
        title="Notebook",
        description="A notebook's cells (ids, types, sources, short outputs) as JSON; path relative "
        "to the server root, '/'-separated, other reserved characters percent-encoded.",
        mime_type=MIME_TYPE,
    ),
    types.ResourceTemplate(
        uri_template=SCHEME + "{+path}?" + CELL_QUERY + "={cell_id}",
        name="notebook-cell",
        title="Notebook cell",
        description="One cell of a notebook by its id (source, execution count, short outputs) as JSON.",
        mime_type=MIME_TYPE,
    ),
]


@dataclass(frozen=True)
class NotebookURI:
    """What a notebook resource URI names: a notebook, or one cell of it."""

    path: str
    cell_id: str | None = None

    def __str__(self) -> str:
        uri = SCHEME + quote(self.path, safe="/")
        if self.cell_id is not None:
            uri += f"?{CELL_QUERY}={quote(self.cell_id, safe='')}"
        return uri

    @property
    def notebook(self) -> NotebookURI:
        return NotebookURI(self.path)


def parse_uri(uri: str) -> NotebookURI:
    """The notebook (and cell) ``uri`` names, or a UsageError saying what a valid URI looks like."""
    form = f"use {SCHEME}<path> or {SCHEME}<path>?{CELL_QUERY}=<cell id>, e.g. {SCHEME}analysis/report.ipynb"
    if not uri.startswith(SCHEME):
        raise UsageError(
            f"Unknown resource {uri!r}: this server's resources are notebooks; {form}."
        )
    rest, _, query = uri[len(SCHEME) :].partition("?")
    path = unquote(rest.partition("#")[0])
    if not path:
        raise UsageError(f"Resource {uri!r} names no notebook; {form}.")
    if not query:
        return NotebookURI(path)
    fields = parse_qs(query, keep_blank_values=True)
    ids = fields.pop(CELL_QUERY, [])
    if fields or len(ids) != 1 or not ids[0]:
        raise UsageError(f"Resource {uri!r} has an unknown query {query!r}; {form}.")
    return NotebookURI(path, ids[0])


class NotebookResources:
    """resources/list, resources/templates/list and resources/read for one server's notebooks."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def open_paths(self, principal: str) -> list[str]:
        """The notebooks open on the server, then the user's current one if it is not among them."""
        rooms = self.services.notebooks.rooms
        paths = [rooms.path_of(room_id) for room_id in rooms.notebook_rooms()]
        listed = sorted({path for path in paths if path})
        current = self.services.current.get(principal).path
        if current and current not in listed:
            listed.append(current)
        return listed

    async def list(self, call: Call) -> types.ListResourcesResult:
        await call.authorize(*READ)
        current = self.services.current.get(call.principal).path
        return types.ListResourcesResult(
            resources=[
                types.Resource(
                    uri=str(NotebookURI(path)),
                    name=path,
                    title=path.rpartition("/")[2],
                    description="your current notebook" if path == current else "open notebook",
                    mime_type=MIME_TYPE,
                )
                for path in self.open_paths(call.principal)
            ]
        )

    async def checked(self, call: Call, uri: str) -> NotebookURI:
        """The resource ``uri`` names, with its notebook checked to exist, to be inside the root and
        readable by the caller."""
        named = parse_uri(uri)
        await call.authorize(*READ)
        path = await self.services.paths.existing_notebook(named.path)
        return NotebookURI(path, named.cell_id)

    async def read(self, call: Call, uri: str) -> types.ReadResourceResult:
        named = await self.checked(call, uri)
        limit = self.services.max_output_chars
        async with self.services.notebooks.document(named.path) as nb:
            # Read in the same synchronous section as the cells (see revisions.Tracker.checkpoint).
            revision = self.services.revision(nb)
            if named.cell_id is None:
                views = [
                    cells.cell_view(i, cell, max_output_chars=limit)
                    for i, cell in enumerate(cells.read_cells(nb))
                ]
                content: dict = {
                    "notebook_path": named.path,
                    "revision": revision,
                    "cell_count": len(views),
                    "cells": views,
                }
            else:
                index = cells.index_of(nb, named.cell_id)
                (raw,) = cells.read_cells(nb, index, index + 1)
                content = {
                    "notebook_path": named.path,
                    "revision": revision,
                    "cell": cells.cell_view(index, raw, max_output_chars=limit),
                }
        return types.ReadResourceResult(
            contents=[
                types.TextResourceContents(uri=uri, mime_type=MIME_TYPE, text=json.dumps(content))
            ]
        )
