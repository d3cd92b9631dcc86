"""An MCP client finds how to sign in from the gateway's URL alone, wherever it looks: the
challenge of a bare call, the standard documents at the origin's root (routed by the hub's proxy)
and under the service's prefix. A client that publishes its metadata at its client id signs in
without registering, and the consent names the site that published it."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest
from support import MCP_ACCEPT, free_port, initialize_request

from .local_hub import PASSWORD, mcp_session
from .sign_in import REDIRECT_URI, Browser


async def test_discovery_documents_answer_at_the_origins_root_and_under_the_prefix(start_hub):
    hub = await start_hub()
    origin = hub.url.rstrip("/")
    gateway = hub.gateway_url  # .../services/mcp/

    async with httpx2.AsyncClient(timeout=60) as http:
        bare = await http.post(
            gateway, json=initialize_request(client="agent"), headers={"Accept": MCP_ACCEPT}
        )
        resource = [
            await http.get(url)
            for url in (
                f"{origin}/.well-known/oauth-protected-resource/services/mcp/",
                f"{gateway}.well-known/oauth-protected-resource",
            )
        ]
        server = [
            await http.get(url)
            for url in (
                f"{origin}/.well-known/oauth-authorization-server/services/mcp",
                f"{origin}/.well-known/openid-configuration/services/mcp",
                f"{gateway}.well-known/openid-configuration",
            )
        ]

    assert bare.status_code == 401
    assert (
        f'resource_metadata="{gateway}.well-known/oauth-protected-resource"'
        in bare.headers["www-authenticate"]
    )
    for answer in resource:
        assert answer.status_code == 200, answer.url
        assert answer.json()["resource"] == gateway
        assert answer.json()["authorization_servers"] == [gateway.rstrip("/")]
    for answer in server:
        assert answer.status_code == 200, answer.url
        metadata = answer.json()
        assert metadata["issuer"] == gateway.rstrip("/")
        assert metadata["registration_endpoint"] == f"{gateway}register"
        assert metadata["code_challenge_methods_supported"] == ["S256"]
        assert metadata["client_id_metadata_document_supported"] is True
        assert metadata["authorization_response_iss_parameter_supported"] is True


@pytest.fixture
def client_metadata_document() -> Iterator[str]:
    """A client's metadata published at its client id (plain http on loopback: the gateway is
    told to accept that for this test; in production it takes https only)."""
    port = free_port()
    client_id = f"http://127.0.0.1:{port}/clients/notebook-agent.json"
    document = json.dumps(
        {
            "client_id": client_id,
            "client_name": "Notebook Agent",
            "redirect_uris": [REDIRECT_URI],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }
    ).encode()

    class Publisher(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == urlsplit(client_id).path
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document if found else b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Publisher)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield client_id
    server.shutdown()


async def test_a_client_identified_by_its_metadata_document_signs_in_without_registering(
    start_hub, client_metadata_document
):
    hub = await start_hub(GATEWAY_ARGS="--MCPGateway.allow_http_client_metadata=True")
    client_id = client_metadata_document
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    state = secrets.token_urlsafe(8)
    browser = Browser("alice", PASSWORD)
    authorize = f"{hub.gateway_url}authorize?" + urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "state": state,
            "code_challenge": challenge.decode(),
            "code_challenge_method": "S256",
            "resource": hub.gateway_url,
            "scope": "mcp",
        }
    )

    result = await browser.follow(authorize)
    async with httpx2.AsyncClient(timeout=60) as http:
        tokens = await http.post(
            f"{hub.gateway_url}token",
            data={
                "grant_type": "authorization_code",
                "code": result.code,
                "redirect_uri": REDIRECT_URI,
                "client_id": client_id,
                "code_verifier": verifier,
                "resource": hub.gateway_url,
            },
        )
    assert tokens.status_code == 200, tokens.text
    async with mcp_session(hub.gateway_url, tokens.json()["access_token"]) as agent:
        listed = await agent.list_tools()

    assert result.state == state
    assert result.iss == hub.gateway_url.rstrip("/")
    assert "Notebook Agent (from 127.0.0.1:" in browser.pages[-1]
    assert listed.tools


async def test_an_authorization_for_another_resource_is_refused(start_hub):
    hub = await start_hub()
    async with httpx2.AsyncClient(base_url=hub.gateway_url, timeout=60) as http:
        registered = await http.post(
            "register",
            json={
                "redirect_uris": [REDIRECT_URI],
                "token_endpoint_auth_method": "none",
                "client_name": "Elsewhere",
            },
        )
        refused = await http.get(
            "authorize",
            params={
                "response_type": "code",
                "client_id": registered.json()["client_id"],
                "redirect_uri": REDIRECT_URI,
                "state": "s",
                "code_challenge": "x" * 43,
                "code_challenge_method": "S256",
                "resource": "https://elsewhere.example.com/mcp",
            },
        )

    assert registered.status_code == 201, registered.text
    assert refused.status_code == 302
    query = parse_qs(urlsplit(refused.headers["location"]).query)
    assert query["error"] == ["invalid_request"]
    assert "resource must be this gateway" in query["error_description"][0]
