"""An MCP client signing its person in through the hub gateway, as in a browser but scripted over
HTTP: the official SDK's ``OAuthClientProvider`` drives discovery, registration, PKCE and tokens;
``Browser`` plays the person on the pages (the hub's login form, the gateway's consent)."""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientMetadata,
)
from support import MemoryStorage

REDIRECT_URI = "http://127.0.0.1:47823/callback"  # the client's; nothing listens: we read the URL


def form_field(page: str, name: str) -> str:
    match = re.search(rf"name=['\"]{name}['\"][^>]*value=['\"]([^'\"]*)['\"]", page)
    assert match, f"no {name} field in:\n{page[:2000]}"
    return html.unescape(match.group(1))


@dataclass
class Browser:
    """The person: logs in on the hub's page and answers the consent, one sign-in at a time."""

    user: str
    password: str
    answer: str = "allow"
    pages: list[str] = field(default_factory=list)  # every page shown, for assertions
    result: AuthorizationCodeResult | None = None
    error: str | None = None  # what the gateway sent the client back with, if not a code
    http: httpx2.AsyncClient = field(default_factory=lambda: httpx2.AsyncClient(timeout=60))

    async def follow(self, url: str) -> AuthorizationCodeResult:
        """From the client's authorization URL to the redirect back to the client."""
        response = await self.http.get(url)
        for _ in range(20):
            if response.status_code in (301, 302, 303, 307):
                location = urljoin(str(response.url), response.headers["location"])
                if location.startswith(REDIRECT_URI):
                    return self._result(location)
                response = await self.http.get(location)
                continue
            assert response.status_code == 200, (response.status_code, response.text[:2000])
            self.pages.append(response.text)
            if 'name="password"' in response.text or "name='password'" in response.text:
                response = await self._log_in(response)
            elif "name='sign_in'" in response.text:
                response = await self.http.post(
                    urljoin(str(response.url), form_action(response.text)),
                    data={"sign_in": form_field(response.text, "sign_in"), "answer": self.answer},
                )
            else:
                raise AssertionError(f"unexpected page at {response.url}:\n{response.text[:2000]}")
        raise AssertionError("too many redirects")

    async def _log_in(self, login: httpx2.Response) -> httpx2.Response:
        return await self.http.post(
            urljoin(str(login.url), form_action(login.text)),
            data={
                "username": self.user,
                "password": self.password,
                "_xsrf": form_field(login.text, "_xsrf"),
            },
        )

    def _result(self, location: str) -> AuthorizationCodeResult:
        query = {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
        self.result = AuthorizationCodeResult(
            code=query.get("code", ""), state=query.get("state"), iss=query.get("iss")
        )
        self.error = query.get("error")
        return self.result

    async def redirect_handler(self, url: str) -> None:
        await self.follow(url)

    async def callback_handler(self) -> AuthorizationCodeResult:
        assert self.result is not None
        result, self.result = self.result, None
        return result


def form_action(page: str) -> str:
    match = re.search(r"<form[^>]*action=['\"]([^'\"]*)['\"]", page)
    assert match, page[:2000]
    return html.unescape(match.group(1))


def oauth(url: str, browser: Browser, storage: MemoryStorage | None = None) -> OAuthClientProvider:
    return OAuthClientProvider(
        url,
        OAuthClientMetadata(
            client_name="Test Agent",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage if storage is not None else MemoryStorage(),
        redirect_handler=browser.redirect_handler,
        callback_handler=browser.callback_handler,
    )


@contextlib.asynccontextmanager
async def signed_in_session(
    url: str, browser: Browser, storage: MemoryStorage | None = None, mode: str = "auto"
) -> AsyncIterator[Client]:
    """The SDK client on the gateway URL, signing ``browser``'s person in when it must."""
    async with (
        httpx2.AsyncClient(auth=oauth(url, browser, storage), timeout=120) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):
        yield client
