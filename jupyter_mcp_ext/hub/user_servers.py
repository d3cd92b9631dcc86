"""Starting a hub user's server on demand, for the MCP hub gateway.

The gateway relays each MCP call of a user to that user's own server; when the server is stopped
(culled when idle, never started), it must be started first through the hub's REST API, with the
gateway service's own token. Its role needs the scopes ``read:servers`` (which includes
``read:users:name``) and ``start:servers`` (start, not stop: the gateway never stops anyone).

What the hub (JupyterHub 6) answers, and what it means here:

- ``GET users/<u>``: 404 for a user the hub does not have (deleted) → ``UserGone``. Otherwise
  ``servers[""]`` holds the default server: ``ready``, or ``pending`` "spawn" or "stop".
- ``POST users/<u>/server``: 201 once ready (the POST blocks up to the hub's
  ``slow_spawn_timeout``, 10 s by default); 202 when still starting; 400 "<u> is already running"
  or "<u> is pending stop" (another gateway process, or the hub page, got there first: look again);
  429 over ``active_server_limit`` (no Retry-After) or ``concurrent_spawn_limit`` (with
  Retry-After); 503 JSON from a spawn hook refusing for now (the memory admission hook: "Not enough
  memory ... Try again later"): capacity, as 429; 500 "Internal Server Error" when the spawn failed,
  and sometimes also while it goes on: the progress stream tells which, and why.
- ``GET users/<u>/server/progress`` (server-sent events): ends with ``{"ready": true, "url"}`` or
  ``{"failed": true, "message": "Spawn failed: <the hub's reason>"}``, also for a spawn that
  already failed; 400 "<u> is not starting..." when nothing is starting (stopped, or stopping).
- A stop in progress (``pending == "stop"``, a few seconds) refuses starts: it is waited out.

Several gateway processes may start the same user's server: the hub serializes them (202 while
pending, 400 once running); within one process concurrent calls share a single start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import quote

import httpx2

# How often a stop in progress is looked at again; the hub takes a few seconds to stop a server.
STOP_POLL_INTERVAL = 0.5
# A question to the hub that answers at once; starts and the progress stream take as long as the
# start does, bounded by ``start_timeout``.
QUESTION_TIMEOUT = httpx2.Timeout(30)
START_TIMEOUT = httpx2.Timeout(30, read=None)


class StartRefused(Exception):
    """The hub cannot start the server now.

    ``status`` is 429 when the hub is full (its server or concurrent start limit, or the memory
    admission hook): ``retry_after`` then says in how many seconds to try again. It is 503 when
    the start failed or the hub cannot be asked. ``message`` is the hub's reason, or ours, in words
    a person can act on."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


class UserGone(Exception):
    """The hub has no such user (deleted since they signed in): the gateway answers 401."""


class UserServers:
    """Users' default servers on one hub, as the gateway service sees them through the hub's API
    (``hub_api_url``, e.g. ``JUPYTERHUB_API_URL``) with its ``token``."""

    def __init__(
        self,
        hub_api_url: str,
        token: str,
        *,
        http: httpx2.AsyncClient,
        start_timeout: float = 300,
        retry_after: int = 30,
    ) -> None:
        self.api_url = hub_api_url if hub_api_url.endswith("/") else hub_api_url + "/"
        self.start_timeout = start_timeout
        self.retry_after = retry_after
        self._headers = {"Authorization": f"token {token}"}
        self._http = http
        self._starts: dict[str, asyncio.Task[str]] = {}

    async def is_ready(self, user: str) -> bool:
        """Whether ``user``'s default server is up (raises UserGone for a user the hub lost)."""
        return bool((await self._server(user)).get("ready"))

    async def ensure_running(self, user: str) -> str:
        """Return once ``user``'s default server is ready, with its URL path (e.g. '/user/alice/');
        start it if stopped, after a stop in progress. Concurrent calls for one user share one
        start; a caller that gives up does not cancel it for the others."""
        start = self._starts.get(user)
        if start is None:
            start = asyncio.ensure_future(self._ensure_running_within_timeout(user))
            self._starts[user] = start
            start.add_done_callback(lambda done: self._finished(user, done))
        return await asyncio.shield(start)

    def _finished(self, user: str, start: asyncio.Task[str]) -> None:
        if self._starts.get(user) is start:
            del self._starts[user]
        if not start.cancelled():
            start.exception()  # retrieved: every caller may have given up already

    async def _ensure_running_within_timeout(self, user: str) -> str:
        try:
            return await asyncio.wait_for(self._ensure_running(user), self.start_timeout)
        except asyncio.TimeoutError:
            raise StartRefused(
                503,
                f"The server of {user} did not start within {self.start_timeout:g} s. Try again "
                "later; if it keeps failing, the hub's log says why.",
            ) from None

    async def _ensure_running(self, user: str) -> str:
        while True:
            server = await self._server(user)
            if server.get("ready"):
                return server["url"]
            if server.get("pending") == "stop":
                await asyncio.sleep(STOP_POLL_INTERVAL)
                continue
            failed: httpx2.Response | None = None
            if server.get("pending") != "spawn":
                answer = await self._request_start(user)
                if answer is not None and answer.status_code == 400:
                    continue  # running or stopping after all: look again
                if answer is not None and answer.status_code >= 500:
                    failed = answer
            url = await self._follow_start(user)
            if url is not None:
                return url
            if failed is not None:
                raise self._refusal(failed, user)  # no start followed, and no reason was given

    async def _server(self, user: str) -> dict[str, Any]:
        """The hub's model of ``user``'s default server; empty when it is stopped."""
        answer = await self._call("GET", f"users/{_path(user)}", QUESTION_TIMEOUT)
        if answer.status_code == 404:
            raise UserGone(f"The hub has no user {user!r}.")
        if answer.status_code != 200:
            raise self._refusal(answer, user)
        return _json(answer).get("servers", {}).get("") or {}

    async def _request_start(self, user: str) -> httpx2.Response | None:
        """Ask the hub to start ``user``'s server. The answer when a start may follow (201, 202,
        500) or the hub says to look again (400); None when the hub took the request but did not
        answer in time. Raises what ends the attempt: the user is gone, the hub is full."""
        try:
            answer = await self._call("POST", f"users/{_path(user)}/server", START_TIMEOUT)
        except httpx2.TimeoutException:
            return None
        status, message = answer.status_code, _message(answer)
        if status in (201, 202):
            return answer
        if status == 400 and ("already running" in message or "is pending" in message):
            return answer
        if status == 404:
            raise UserGone(f"The hub has no user {user!r}.")
        if status == 429:
            raise StartRefused(429, message, _retry_after(answer) or self.retry_after)
        if status == 503 and _is_json(answer):
            raise StartRefused(429, message, self.retry_after)  # a spawn hook's "not now"
        if status >= 500 and _is_json(answer):
            return answer  # failed, or still starting: the progress stream tells which
        raise self._refusal(answer, user)

    async def _follow_start(self, user: str) -> str | None:
        """Follow the start in progress: the server's URL once ready, None when nothing is
        starting (any more); raises StartRefused with the hub's reason when the start failed."""
        try:
            async with self._http.stream(
                "GET",
                self.api_url + f"users/{_path(user)}/server/progress",
                headers=self._headers,
                timeout=START_TIMEOUT,
            ) as answer:
                if answer.status_code in (400, 404):
                    return None  # not starting: stopped, or stopping
                if answer.status_code != 200:
                    await answer.aread()
                    raise self._refusal(answer, user)
                async for line in answer.aiter_lines():
                    if not line.startswith("data:"):
                        continue  # the hub's keepalives are empty lines
                    event = _event(line.removeprefix("data:"))
                    if event.get("ready"):
                        return event.get("url") or (await self._server(user)).get("url")
                    if event.get("failed"):
                        message = event.get("message") or "The server failed to start."
                        raise StartRefused(503, message)
        except httpx2.TransportError as error:
            raise self._unreachable(str(error) or type(error).__name__) from None
        return None  # the stream ended early: look again

    async def _call(self, method: str, path: str, timeout: httpx2.Timeout) -> httpx2.Response:
        try:
            return await self._http.request(
                method, self.api_url + path, headers=self._headers, timeout=timeout
            )
        except httpx2.TimeoutException:
            if method == "POST":
                raise
            raise self._unreachable("it did not answer in time") from None
        except httpx2.TransportError as error:
            raise self._unreachable(str(error) or type(error).__name__) from None

    def _unreachable(self, why: str) -> StartRefused:
        return StartRefused(
            503, f"The hub is not reachable at {self.api_url} ({why}). Try again later."
        )

    def _refusal(self, answer: httpx2.Response, user: str) -> StartRefused:
        """An answer this module has no meaning for, in words: never the hub's HTML."""
        if not _is_json(answer):
            return self._unreachable(
                f"HTTP {answer.status_code} from something that is not its API"
            )
        message = _message(answer)
        if answer.status_code == 403:
            return StartRefused(
                503,
                f"The hub refused this service's request for the server of {user} (HTTP 403): "
                f"{message.rstrip('.')}. The service's token must be valid and have the scopes "
                "read:servers and start:servers.",
            )
        return StartRefused(
            503,
            f"The hub could not start the server of {user} (HTTP {answer.status_code}: {message}).",
        )


def _path(user: str) -> str:
    return quote(user, safe="@~")


def _is_json(answer: httpx2.Response) -> bool:
    return answer.headers.get("content-type", "").startswith("application/json")


def _json(answer: httpx2.Response) -> dict[str, Any]:
    with contextlib.suppress(ValueError):
        body = answer.json()
        if isinstance(body, dict):
            return body
    return {}


def _event(data: str) -> dict[str, Any]:
    with contextlib.suppress(ValueError):
        event = json.loads(data)
        if isinstance(event, dict):
            return event
    return {}


def _message(answer: httpx2.Response) -> str:
    """The hub's JSON ``message`` (its error pages are JSON under /hub/api/)."""
    message = _json(answer).get("message") if _is_json(answer) else None
    return str(message) if message else answer.reason_phrase or f"HTTP {answer.status_code}"


def _retry_after(answer: httpx2.Response) -> int | None:
    """The Retry-After seconds, when the hub sent some (not an HTTP date: JupyterHub never does)."""
    with contextlib.suppress(ValueError):
        return max(1, int(answer.headers.get("retry-after", "")))
    return None
