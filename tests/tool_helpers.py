"""Helpers shared by the tool tests (test_tools*.py): calling a tool through the SDK client and
checking what a user of its result relies on, waiting for the notebook file on disk."""

from __future__ import annotations

import contextlib
import http.cookiejar as http_cookiejar
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx2
import jsonschema
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from support import eventually, read_disk, write_notebook

ALL_TOOLS = {
    "list_notebooks",
    "create_notebook",
    "prepare_notebook",
    "get_notebook_info",
    "read_all_cells",
    "append_markdown_cell",
    "append_code_cell",
    "list_files",
    "read_notebook",
    "read_cell",
    "get_notebook_changes",
    "insert_cell",
    "overwrite_cell_source",
    "edit_cell_source",
    "delete_cell",
    "move_cell",
    "clear_cell_output",
    "undo",
    "redo",
    "insert_execute_code_cell",
    "execute_cell",
    "execute_with_progress",
    "execute_code",
    "interrupt_kernel",
    "restart_kernel",
    "list_kernels",
}
READ_ONLY_TOOLS = {
    "list_notebooks",
    "list_files",
    "get_notebook_info",
    "read_all_cells",
    "read_notebook",
    "read_cell",
    "get_notebook_changes",
    "list_kernels",
}
DESTRUCTIVE_TOOLS = {
    "delete_cell",
    "overwrite_cell_source",
    "clear_cell_output",
    "edit_cell_source",
    "restart_kernel",
    "undo",
    "redo",
}
# Tools whose result does not act on one notebook (so carries no notebook_path).
NON_NOTEBOOK_TOOLS = {"list_notebooks", "list_files", "list_kernels"}


async def output_schemas(client: Client) -> dict[str, dict[str, Any]]:
    listing = await client.list_tools()
    return {tool.name: tool.output_schema for tool in listing.tools}


async def invoke(
    client: Client, name: str, *, expect_path: str | None = None, **arguments: Any
) -> dict[str, Any]:
    """Call a tool that must succeed and check its result the way a client relies on it:

    - not an error, non-empty text content;
    - structuredContent validates against the tool's advertised outputSchema;
    - a notebook tool names the notebook it acted on (``expect_path``, else the notebook_path argument),
      in the structured content and in the text.
    """
    result = await client.call_tool(name, arguments)
    text = result.content[0].text if result.content else ""
    assert not result.is_error, f"{name} failed: {text}"
    assert result.content[0].type == "text" and text.strip(), f"{name} returned no text content"
    structured = result.structured_content
    assert isinstance(structured, dict), f"{name} returned no structured content"
    schema = (await output_schemas(client))[name]
    jsonschema.validate(structured, schema, cls=jsonschema.Draft202012Validator)
    if name not in NON_NOTEBOOK_TOOLS:
        expected = expect_path if expect_path is not None else arguments.get("notebook_path")
        assert expected is not None, "say which notebook the call should act on"
        assert structured["notebook_path"] == expected
        assert expected in text, f"the text of {name} does not name {expected!r}: {text}"
    return structured


async def invoke_text(client: Client, name: str, **arguments: Any) -> str:
    """The text content of a successful call."""
    result = await client.call_tool(name, arguments)
    assert not result.is_error, result.content[0].text
    return result.content[0].text


def disk_sources(nb: dict[str, Any]) -> list[tuple[str, str]]:
    """(cell_type, source) of each cell of a notebook read from disk."""
    return [(cell["cell_type"], "".join(cell["source"])) for cell in nb["cells"]]


async def wait_for_disk(
    root: Path, path: str, check: Callable[[dict[str, Any]], bool], timeout: float = 10.0
) -> dict[str, Any]:
    """The .ipynb file's JSON once ``check(notebook_json)`` holds; fails with the last content seen."""
    return await eventually(
        lambda: read_disk(root, path),
        f"{path} on disk reaches the expected state",
        until=check,
        timeout=timeout,
        interval=0.05,
        # not written yet / written meanwhile / the check looked for cells that are not there yet
        ignoring=(FileNotFoundError, json.JSONDecodeError, LookupError, TypeError),
    )


# The notebook writer of support.py, under the name tests written before it use.
write_notebook_with_outputs = write_notebook


@contextlib.asynccontextmanager
async def cookieless_client(mcp_url: str, token: str, mode: str = "auto") -> AsyncIterator[Client]:
    """The SDK client over an HTTP client that stores no cookies (like most MCP clients): only the token."""
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        http.cookies.jar.set_policy(http_cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        async with Client(streamable_http_client(mcp_url, http_client=http), mode=mode) as client:
            yield client
