"""Each MCP request of a signed-in person, passed to their own server's ``/user/<name>/mcp``
through the hub's proxy (so it counts as activity), and its answer passed back as it comes.

Nothing the client sends chooses the server: the user is the token's subject, and the request
carries that user's hub token, which reaches only their server. Both MCP protocol eras pass
unchanged (``Mcp-Session-Id``, ``MCP-Protocol-Version``, ``Last-Event-ID``, DELETE); streamed
answers (SSE) are relayed chunk by chunk, and a client that goes away closes the upstream stream.

When the hub answers instead of the server (it is stopped: a redirect, or the hub's 403/424), the
server is started through the hub's REST API and the request sent again: it never reached the
server, so resending it cannot run anything twice.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import quote

import aiohttp
import anyio
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from starlette.types import Receive, Scope, Send

from ..user_servers import StartRefused, UserGone, UserServers
from .oauth import GatewayAccessToken

MAX_BODY = 16 * 1024 * 1024

# Not passed on: connection-level headers, the gateway's own credentials, cookies of either side.
REQUEST_HEADERS_DROPPED = {
    "host",
    "authorization",
    "cookie",
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
}
RESPONSE_HEADERS_DROPPED = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "set-cookie",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "www-authenticate",
}
# What a stopped server's URL gets from the hub instead of the server's answer.
HUB_ANSWERS_FOR_STOPPED = {301, 302, 303, 307, 308, 403, 404, 424, 502, 503}


class ClientGone(Exception):
    """The client went away before its request arrived whole."""


def jsonrpc_error(message: str, request_id: Any = None, **data: Any) -> bytes:
    """A JSON-RPC error answer (server error -32000) that a person can read in the client."""
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
    body["error"] = {"code": -32000, "message": message, **({"data": data} if data else {})}
    return json.dumps(body).encode()


def request_id(body: bytes) -> Any:
    """The JSON-RPC id of a request body, so an error answers the request it is about."""
    try:
        message = json.loads(body)
    except ValueError:
        return None
    return message.get("id") if isinstance(message, dict) else None


async def send_json(
    send: Send, status: int, body: bytes, headers: Iterable[tuple[str, str]] = ()
) -> None:
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(name.encode(), value.encode()) for name, value in headers]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class Relay:
    """The ASGI app behind the gateway's MCP URL (after the SDK's bearer-token check)."""

    def __init__(
        self,
        servers: UserServers,
        proxy_url: str,
        *,
        challenge: str,
        forget_user: Callable[[str], Awaitable[object]],
    ) -> None:
        self.servers = servers
        self.http: aiohttp.ClientSession | None = None
        self.proxy_url = proxy_url.rstrip("/") + "/"
        self.challenge = challenge  # the WWW-Authenticate of a token that no longer works
        self.forget_user = forget_user  # drops the tokens of a user the hub deleted

    async def open(self) -> None:
        """Connections to users' servers: aiohttp, whose C parser costs a fraction of httpx's
        per call. Answers pass as they are (no decompression); streams have no read timeout."""
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=30),
            auto_decompress=False,
            skip_auto_headers=("User-Agent",),
        )

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()

    def server_url(self, user: str) -> str:
        return f"{self.proxy_url}user/{quote(user, safe='@~')}/mcp"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope["user"]
        assert isinstance(user, AuthenticatedUser)
        token = user.access_token
        assert isinstance(token, GatewayAccessToken)
        assert token.subject
        try:
            body = await self._read_body(receive)
        except ClientGone:
            return
        if body is None:
            await send_json(send, 413, jsonrpc_error("The request body exceeds 16 MiB."))
            return
        method = scope["method"]
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in scope["headers"]
            if name.decode("latin-1").lower() not in REQUEST_HEADERS_DROPPED
        ]
        headers.append(("authorization", f"token {token.hub_token}"))
        url = self.server_url(token.subject)
        try:
            upstream = await self._send(method, url, headers, body)
            if upstream.status in HUB_ANSWERS_FOR_STOPPED and not await self.servers.is_ready(
                token.subject
            ):
                upstream.release()
                await self.servers.ensure_running(token.subject)
                upstream = await self._send(method, url, headers, body)
        except StartRefused as refused:
            extra = [("retry-after", str(refused.retry_after))] if refused.retry_after else []
            data = {"retry_after": refused.retry_after} if refused.retry_after else {}
            await send_json(
                send,
                refused.status,
                jsonrpc_error(refused.message, request_id(body), **data),
                extra,
            )
            return
        except UserGone:
            await self.forget_user(token.subject)
            await self._refuse_token(send, "The hub no longer has this user.")
            return
        except aiohttp.ClientError as error:
            await send_json(
                send,
                502,
                jsonrpc_error(
                    f"Your Jupyter server did not answer ({type(error).__name__}).",
                    request_id(body),
                ),
            )
            return
        if upstream.status == 401:
            # The server refused the hub token: the hub ended that sign-in since we checked.
            upstream.release()
            await self._refuse_token(send, "The hub no longer accepts this sign-in.")
            return
        await self._stream_back(upstream, receive, send)

    async def _refuse_token(self, send: Send, why: str) -> None:
        body = json.dumps({"error": "invalid_token", "error_description": f"{why} Sign in again."})
        await send_json(send, 401, body.encode(), [("www-authenticate", self.challenge)])

    async def _read_body(self, receive: Receive) -> bytes | None:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY:
                return None
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    async def _send(
        self, method: str, url: str, headers: list[tuple[str, str]], body: bytes
    ) -> aiohttp.ClientResponse:
        assert self.http is not None, "Relay.open() first"
        return await self.http.request(
            method, url, headers=headers, data=body or None, allow_redirects=False
        )

    async def _stream_back(
        self, upstream: aiohttp.ClientResponse, receive: Receive, send: Send
    ) -> None:
        """Pass the answer on: a JSON answer whole, a stream chunk by chunk until it ends or the
        client goes away."""
        headers = [
            (name, value)
            for name, value in upstream.raw_headers
            if name.decode("latin-1").lower() not in RESPONSE_HEADERS_DROPPED
        ]
        start = {"type": "http.response.start", "status": upstream.status, "headers": headers}
        if upstream.content_type != "text/event-stream":
            try:
                body = await upstream.read()
            finally:
                upstream.release()
            await send(start)
            await send({"type": "http.response.body", "body": body})
            return
        try:
            async with anyio.create_task_group() as tasks:

                async def until_disconnect() -> None:
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    tasks.cancel_scope.cancel()

                tasks.start_soon(until_disconnect)
                await send(start)
                async for chunk in upstream.content.iter_any():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
                tasks.cancel_scope.cancel()
        finally:
            upstream.close()
