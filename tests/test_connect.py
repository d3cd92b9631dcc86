"""``{base_url}mcp/connect`` on a plain Jupyter server: where the MCP endpoint is, and that tokens
come from the server itself (only a server JupyterHub spawned asks its hub for one; see
tests/hub/test_connect_cli.py)."""

from __future__ import annotations

import httpx2


async def test_connect_names_the_endpoint_and_no_hub(server_url, token, jp_base_url):
    async with httpx2.AsyncClient(headers={"Authorization": f"token {token}"}) as http:
        answer = await http.get(f"{server_url}mcp/connect")
    assert answer.status_code == 200
    assert answer.json() == {"mcp_path": f"{jp_base_url}mcp", "hub": None}


async def test_asking_a_plain_server_for_a_client_token_says_to_use_its_own_token(
    server_url, token
):
    async with httpx2.AsyncClient(headers={"Authorization": f"token {token}"}) as http:
        answer = await http.post(f"{server_url}mcp/connect")
    assert answer.status_code == 400
    assert "not part of a JupyterHub" in answer.json()["message"]
    assert "server's own token" in answer.json()["message"]


async def test_connect_needs_authentication(server_url):
    async with httpx2.AsyncClient() as http:
        answer = await http.post(f"{server_url}mcp/connect")
    assert answer.status_code == 403  # Jupyter's answer to an API request without credentials
    assert answer.headers["content-type"].startswith("application/json")
    assert "token" not in answer.json()
