"""A client that tries OAuth (after a 401 for a missing or wrong token) is told to send the Jupyter
token: the discovery and registration URLs at the host root answer a 404 JSON error, not HTML."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata
from support import MemoryStorage

HELP = "This server uses the Jupyter token, not OAuth"


@pytest.fixture
def host_root(server_url: str) -> str:
    """The server's origin: where clients look for OAuth, whatever Jupyter's base_url."""
    parts = urlsplit(server_url)
    return f"{parts.scheme}://{parts.netloc}"


def assert_token_help(response: httpx2.Response) -> None:
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert HELP in body["message"] and "'Authorization: Bearer <token>'" in body["message"]
    assert body["error_description"] == body["message"]  # what OAuth clients print


@pytest.mark.parametrize(
    "path",
    [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource{base_url}mcp",  # RFC 9728's path-suffixed form
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ],
)
@pytest.mark.parametrize(
    "jp_server_config",
    [{}, {"ServerApp": {"allow_unauthenticated_access": False}}],
    indirect=True,
    ids=["default", "authentication-required-elsewhere"],
)
async def test_oauth_discovery_answers_that_the_server_uses_the_jupyter_token(
    host_root, jp_base_url, path
):
    async with httpx2.AsyncClient(timeout=20) as anonymous:
        response = await anonymous.get(host_root + path.format(base_url=jp_base_url))
    assert_token_help(response)


async def test_client_registration_answers_that_the_server_uses_the_jupyter_token(host_root):
    async with httpx2.AsyncClient(timeout=20) as anonymous:  # no cookie, no XSRF token
        response = await anonymous.post(
            host_root + "/register", json={"redirect_uris": ["http://localhost:1/cb"]}
        )
    assert_token_help(response)


async def test_jupyters_own_pages_stay_as_they_were(server_url, host_root, token):
    async with httpx2.AsyncClient(timeout=20, headers={"Authorization": f"token {token}"}) as http:
        status = await http.get(server_url + "api/status")
        elsewhere = await http.get(host_root + "/.well-known/something-else")
    assert status.status_code == 200 and status.json()["started"]
    assert elsewhere.status_code == 404 and "text/html" in elsewhere.headers["content-type"]


async def test_an_oauth_client_without_the_token_ends_with_the_token_help(mcp_url):
    """The SDK's OAuth client: 401, discovery (all 404), registration (404) → an error naming the token."""

    async def no_browser(url: str) -> None:
        raise AssertionError(f"the client was sent to authorize at {url}")

    provider = OAuthClientProvider(
        mcp_url,
        OAuthClientMetadata(redirect_uris=["http://localhost:1/callback"], client_name="test"),
        MemoryStorage(),
        redirect_handler=no_browser,
    )
    async with httpx2.AsyncClient(auth=provider, timeout=20) as http:
        with pytest.raises(BaseException) as failed:  # noqa: PT011  (the SDK's error type varies; its text is checked)
            async with Client(streamable_http_client(mcp_url, http_client=http)):
                pass
    errors, pending = [], [failed.value]
    while pending:  # the SDK may wrap the error (exception groups, causes)
        error = pending.pop()
        errors.append(error)
        pending.extend(getattr(error, "exceptions", ()))
        pending.extend(cause for cause in (error.__cause__, error.__context__) if cause is not None)
    text = " | ".join(f"{type(error).__name__}: {error}" for error in errors)
    assert "Registration failed: 404" in text, text
    assert HELP in text, text
    assert "<html" not in text.lower(), text
