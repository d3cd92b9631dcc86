"""HTTP <-> MCP SDK: hosts the SDK's session manager and bridges tornado requests to it as ASGI.

Knows nothing of notebooks or tools; the handler passes whatever per-request state the
tools need in the ASGI scope's ``state`` (read back by tools as ``request.state``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from sse_starlette.sse import AppStatus
from tornado.iostream import StreamClosedError

if TYPE_CHECKING:
    from jupyter_server.base.handlers import APIHandler

# Hop-by-hop headers are tornado's business, not the application's.
_SKIPPED_RESPONSE_HEADERS = frozenset({"connection", "transfer-encoding", "keep-alive"})


class SessionManagerHost:
    """Runs one ``StreamableHTTPSessionManager`` for the extension's lifetime.

    The SDK requires its ``run()`` context to be entered and exited in one task, so a
    long-lived task holds it from the first start until ``stop()``.
    """

    def __init__(
        self,
        server: Server,
        *,
        session_idle_timeout: float,
        max_request_body_size: int,
        log: logging.Logger,
        on_session_end: Callable[[str], None] | None = None,
    ) -> None:
        self.manager = StreamableHTTPSessionManager(
            server,
            json_response=False,  # SSE carries progress notifications
            stateless=False,  # handshake-era clients get Mcp-Session-Id; modern ones are routed by the SDK
            security_settings=None,  # Jupyter's own Host/Origin checks run first
            session_idle_timeout=session_idle_timeout,
            max_request_body_size=max_request_body_size,
        )
        self._log = log
        if on_session_end is not None:
            self._tell_session_ends(on_session_end)
        self._task: asyncio.Task | None = None
        self._ready: asyncio.Future | None = None
        self._stopping = asyncio.Event()

    def _tell_session_ends(self, on_session_end: Callable[[str], None]) -> None:
        """Call ``on_session_end(session id)`` when a handshake-era session ends, however it ends
        (the client's DELETE, idle timeout, a crash): through the SDK manager's private
        ``_discard_session``, its one place for that."""
        discard = self.manager._discard_session

        async def discard_session(session_id: str, transport: Any) -> None:
            await discard(session_id, transport)
            try:
                on_session_end(session_id)
            except Exception:
                self._log.exception("MCP: error while ending session %s", session_id)

        self.manager._discard_session = discard_session  # type: ignore[method-assign]

    async def start(self) -> None:
        if self._task is None:
            self._ready = asyncio.get_running_loop().create_future()
            self._task = asyncio.create_task(self._run(), name="jupyter-mcp-ext session manager")
        assert self._ready is not None
        await asyncio.shield(self._ready)

    async def _run(self) -> None:
        assert self._ready is not None
        try:
            async with self.manager.run():
                self._ready.set_result(None)
                await self._stopping.wait()
        except BaseException as error:
            if not self._ready.done():
                self._ready.set_exception(error)
            raise

    async def stop(self) -> None:
        if self._task is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(self._task, timeout=10)
        except asyncio.TimeoutError:
            self._log.warning("MCP session manager did not stop within 10 s")
        await _end_sse_shutdown_watcher()

    async def handle(
        self,
        handler: APIHandler,
        disconnected: asyncio.Event,
        *,
        principal: str,
        state: dict[str, Any],
    ) -> None:
        """Serve one tornado request through the SDK.

        ``principal`` binds handshake-era sessions to the authenticated user: a session id
        presented by anyone else answers 404, as if it did not exist.
        """
        await self.start()
        bridge = _TornadoASGIBridge(handler, disconnected)
        scope = _http_scope(handler, principal, state)
        await self.manager.handle_request(scope, bridge.receive, bridge.send)
        bridge.finish_if_open()


async def _end_sse_shutdown_watcher() -> None:
    """End the task sse-starlette runs to poll its process-wide shutdown flag.

    Left running, it is reported as "Task was destroyed but it is pending" when the
    server's loop closes.
    """
    watchers = [
        t
        for t in asyncio.all_tasks()
        if getattr(t.get_coro(), "__qualname__", "") == "_shutdown_watcher"
    ]
    if not watchers:
        return
    AppStatus.should_exit = True
    try:
        await asyncio.wait(watchers, timeout=2)
    finally:
        AppStatus.should_exit = False  # other servers in this process (tests) keep streaming


def _http_scope(handler: APIHandler, principal: str, state: dict[str, Any]) -> dict[str, Any]:
    request = handler.request
    host, _, port = request.host.rpartition(":") if ":" in request.host else (request.host, "", "")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": request.version.removeprefix("HTTP/"),
        "method": request.method,
        "scheme": request.protocol,
        "path": request.path,
        "raw_path": request.path.encode("latin-1"),
        "query_string": request.query.encode("latin-1"),
        "root_path": "",
        "headers": [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in request.headers.get_all()
        ],
        "client": (request.remote_ip, 0),
        "server": (host or request.host, int(port) if port.isdigit() else None),
        "user": AuthenticatedUser(
            AccessToken(token="", client_id=principal, scopes=[], subject=principal)
        ),
        "state": state,
    }


class _TornadoASGIBridge:
    """The ``receive``/``send`` pair of one request, written onto a tornado handler."""

    def __init__(self, handler: APIHandler, disconnected: asyncio.Event) -> None:
        self.handler = handler
        self.disconnected = disconnected
        self._body_sent = False
        self._content_type = "application/json"
        self._finished = False

    async def receive(self) -> dict[str, Any]:
        if not self._body_sent:
            self._body_sent = True
            return {
                "type": "http.request",
                "body": self.handler.request.body or b"",
                "more_body": False,
            }
        # A request is over only when the client goes away (or tornado finishes it).
        await self.disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: MutableMapping[str, Any]) -> None:
        if self._finished or self.disconnected.is_set():
            return  # the client left: dropping is what an ASGI server does
        handler = self.handler
        if message["type"] == "http.response.start":
            handler.set_status(message["status"])
            seen: set[str] = set()
            for raw_name, raw_value in message.get("headers", []):
                name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
                lname = name.lower()
                if lname in _SKIPPED_RESPONSE_HEADERS:
                    continue
                if lname == "content-type":
                    self._content_type = value
                if lname in seen:
                    handler.add_header(name, value)
                else:
                    seen.add(lname)
                    handler.set_header(name, value)
            if self._content_type.startswith("text/event-stream"):
                await self._flush()  # open the stream now; events follow as they come
        elif message["type"] == "http.response.body":
            body = message.get("body", b"")
            if body:
                handler.write(body)
            if message.get("more_body", False):
                await self._flush()
            else:
                self._finish()

    async def _flush(self) -> None:
        try:
            await self.handler.flush()
        except StreamClosedError:
            self.disconnected.set()

    def _finish(self) -> None:
        self._finished = True
        try:
            self.handler.finish(set_content_type=self._content_type)
        except StreamClosedError:
            self.disconnected.set()

    def finish_if_open(self) -> None:
        if not self._finished and not self.disconnected.is_set():
            self._finish()
