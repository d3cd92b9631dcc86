"""MCP over Streamable HTTP on the Jupyter port: both protocol eras, with the SDK client and raw HTTP."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import httpx2
import pytest
from conftest import call
from mcp.shared.exceptions import MCPDeprecationWarning
from support import MCP_ACCEPT, initialize_request
from tool_helpers import ALL_TOOLS

HANDSHAKE_VERSIONS = ["2025-11-25", "2025-06-18", "2025-03-26"]
ACCEPT = MCP_ACCEPT


def sse_messages(body: str) -> list[dict[str, Any]]:
    """The JSON-RPC messages in an SSE body."""
    return [
        json.loads(line[5:])
        for line in body.splitlines()
        if line.startswith("data:") and line[5:].strip()
    ]


async def initialize(
    http: httpx2.AsyncClient, url: str, version: str
) -> tuple[httpx2.Response, str]:
    response = await http.post(
        url,
        headers={"Accept": ACCEPT, "Content-Type": "application/json"},
        json=initialize_request(version, client="raw-test"),
    )
    return response, response.headers.get("mcp-session-id", "")


async def test_modern_client_negotiates_the_stateless_protocol_and_calls_tools(
    mcp_client, make_notebook
):
    make_notebook("a.ipynb", [("markdown", "# Title")])
    async with mcp_client() as client:
        assert client.protocol_version == "2026-07-28"
        tools = await client.list_tools()
        assert "read_all_cells" in {tool.name for tool in tools.tools}
        info = await call(client, "get_notebook_info", notebook_path="a.ipynb")
        assert info["notebook_path"] == "a.ipynb" and info["cell_count"] == 1


async def test_handshake_client_gets_a_session_and_instructions(mcp_client, make_notebook):
    make_notebook("a.ipynb", [("code", "x = 1")])
    async with mcp_client("legacy") as client:
        assert client.protocol_version == "2025-11-25"
        assert client.server_info.name == "jupyter-mcp-ext"
        # The instructions explain the current-notebook model and the tool families.
        assert "current notebook" in client.instructions.lower()
        for family_tool in (
            "prepare_notebook",
            "read_notebook",
            "edit_cell_source",
            "list_notebooks",
        ):
            assert family_tool in client.instructions
        with pytest.warns(
            MCPDeprecationWarning
        ):  # ping is handshake-era only; this client is in that era
            await client.send_ping()
        cells = await call(client, "read_all_cells", notebook_path="a.ipynb")
        assert [c["source"] for c in cells["cells"]] == ["x = 1"]


@pytest.mark.parametrize("version", HANDSHAKE_VERSIONS)
async def test_raw_handshake_session_lifecycle(mcp_url, token, version):
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(headers=auth, timeout=20) as http:
        response, session = await initialize(http, mcp_url, version)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert session
        (message,) = sse_messages(response.text)
        assert message["result"]["protocolVersion"] == version
        assert message["result"]["serverInfo"]["name"] == "jupyter-mcp-ext"
        assert "current notebook" in message["result"]["instructions"].lower()

        headers = {"Accept": ACCEPT, "mcp-session-id": session, "mcp-protocol-version": version}
        initialized = await http.post(
            mcp_url, headers=headers, json={"jsonrpc": "2.0", "method": "notifications/initialized"}
        )
        assert initialized.status_code == 202

        ping = await http.post(
            mcp_url, headers=headers, json={"jsonrpc": "2.0", "id": 2, "method": "ping"}
        )
        assert ping.status_code == 200
        assert sse_messages(ping.text) == [{"jsonrpc": "2.0", "id": 2, "result": {}}]

        cancelled = await http.post(
            mcp_url,
            headers=headers,
            json={
                "jsonrpc": "2.0",
                "method": "notifications/cancelled",
                "params": {"requestId": 99},
            },
        )
        assert cancelled.status_code == 202

        # The GET stream opens as SSE right away (headers flushed before any event).
        async with http.stream(
            "GET", mcp_url, headers={**headers, "Accept": "text/event-stream"}
        ) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")

        deleted = await http.delete(mcp_url, headers=headers)
        assert deleted.status_code == 200
        after = await http.post(
            mcp_url, headers=headers, json={"jsonrpc": "2.0", "id": 3, "method": "ping"}
        )
        assert after.status_code == 404


async def test_unknown_session_id_is_404(mcp_url, token):
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": ACCEPT,
        "mcp-session-id": "no-such-session",
        "mcp-protocol-version": "2025-06-18",
    }
    async with httpx2.AsyncClient(timeout=20) as http:
        response = await http.post(
            mcp_url, headers=headers, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}
        )
    assert response.status_code == 404


async def test_raw_modern_request_gets_one_json_response(mcp_url, token):
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "raw-test", "version": "0"},
    }
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": ACCEPT,
        "mcp-protocol-version": "2026-07-28",
        "mcp-method": "tools/list",
    }
    body = {"jsonrpc": "2.0", "id": 7, "method": "tools/list", "params": {"_meta": meta}}
    async with httpx2.AsyncClient(timeout=20) as http:
        response = await http.post(mcp_url, headers=headers, json=body)
    assert response.status_code == 200
    assert "mcp-session-id" not in response.headers
    if response.headers["content-type"].startswith("text/event-stream"):
        (message,) = sse_messages(response.text)
    else:
        message = response.json()
    assert message["id"] == 7
    assert {tool["name"] for tool in message["result"]["tools"]} == ALL_TOOLS


async def test_tool_calls_count_as_server_activity(jp_serverapp, mcp_client, make_notebook):
    make_notebook("a.ipynb")
    settings = jp_serverapp.web_app.settings
    settings.pop("api_last_activity", None)
    before = datetime.now(timezone.utc)
    async with mcp_client() as client:
        await call(client, "get_notebook_info", notebook_path="a.ipynb")
    # What JupyterHub's idle culler reads: the server's last activity moved with the agent's calls.
    assert settings["api_last_activity"] >= before
    assert jp_serverapp.web_app.last_activity() >= before


@pytest.fixture
def small_body_config(jp_server_config):
    jp_server_config["MCPExtensionApp"] = {
        "max_request_body_size": 2048,
        "endpoint_path": "agents/mcp",
    }
    return jp_server_config


async def test_endpoint_path_and_body_limit_are_configurable(
    small_body_config, server_url, token, mcp_client
):
    headers = {"Authorization": f"Bearer {token}", "Accept": ACCEPT}
    async with httpx2.AsyncClient(headers=headers, timeout=20) as http:
        default = await http.post(server_url + "mcp", json={})
        assert default.status_code == 404
        response, session = await initialize(http, server_url + "agents/mcp", "2025-06-18")
        assert response.status_code == 200 and session
        big = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "ping",
            "params": {"_meta": {"pad": "x" * 4096}},
        }
        too_big = await http.post(
            server_url + "agents/mcp", json=big, headers={"mcp-session-id": session}
        )
        assert too_big.status_code == 413


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_progress_notifications_reach_a_client_that_asks_for_them(
    mcp_client, make_notebook, mode
):
    for i in range(5):
        make_notebook(f"folder{i}/nb{i}.ipynb")
    reports: list[tuple[float, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        reports.append((progress, message))

    async with mcp_client(mode) as client:
        result = await client.call_tool("list_notebooks", {}, progress_callback=on_progress)
    assert not result.is_error
    assert result.structured_content["total"] == 5
    assert reports and reports[0][1].startswith("scanned")
