"""The HTTP surface: one authenticated handler that hands MCP requests to the transport."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import allow_unauthenticated, ws_authenticated
from jupyter_server.auth.identity import IdentityProvider, PasswordIdentityProvider
from jupyter_server.base.handlers import APIHandler, JupyterHandler, Template404
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from tornado import web, websocket
from tornado.routing import PathMatches, Rule

from .context import API, CurrentNotebook, CurrentNotebooks
from .errors import UsageError
from .hub.client_tokens import HubServer
from .hub.connect import ConnectError
from .notebooks import LiveNotebooks
from .paths import ServerPaths
from .transport import SessionManagerHost
from .ui_events import UIEvents
from .undo import MAX_STEPS as MAX_UNDO_STEPS
from .undo import UndoHistories

AUTH_HELP = (
    "Authenticate with the Jupyter server's token: send the header 'Authorization: Bearer <token>' "
    "(or 'Authorization: token <token>'). The token is printed in the URL Jupyter logs at startup "
    "and listed by `jupyter server list`."
)


def auth_help(hub: HubServer | None) -> str:
    """How to authenticate to this server's MCP endpoint: with its own token, or its hub's."""
    if hub is None:
        return AUTH_HELP
    return (
        f"This server belongs to {hub.user!r} on a JupyterHub: send the header 'Authorization: Bearer "
        f"<token>' with a hub token of theirs that may access it (scope {hub.scope}). Make one in "
        f"their JupyterLab (command 'Connect an AI agent…'), on the hub's token page "
        f"({hub.token_page}), or with `python -m jupyter_mcp_ext.hub.connect`."
    )


# Jupyter's own identity providers have no user accounts: whoever holds the token or password
# is the server's one owner, yet each cookie-less request is given a new anonymous user name.
_SINGLE_OWNER_PROVIDERS = (IdentityProvider, PasswordIdentityProvider)
SERVER_OWNER = "server-owner"


def principal(identity_provider: IdentityProvider, user: Any) -> str:
    """Who a request is, for per-user state (current notebook, MCP session ownership)."""
    if type(identity_provider) in _SINGLE_OWNER_PROVIDERS:
        return SERVER_OWNER
    return user.username


# The resource the authorizer is asked about before any MCP traffic; each tool then asks
# for its own permission (contents read/write, kernels execute) on the real resource.
MCP_RESOURCE = "mcp"


def json_object(handler: APIHandler, keys: tuple[str, ...], usage: str) -> dict[str, Any]:
    """The request's body: a JSON object with no keys but ``keys``, else a 400 naming the problem
    and ``usage``."""
    try:
        body = handler.get_json_body()
    except web.HTTPError:
        raise web.HTTPError(400, f"The body is not valid JSON. {usage}") from None
    if not isinstance(body, dict):
        raise web.HTTPError(400, f"The body must be a JSON object. {usage}")
    unknown = set(body) - set(keys)
    if unknown:
        raise web.HTTPError(
            400, f"Unknown keys {sorted(unknown)}; valid keys: {', '.join(keys)}. {usage}"
        )
    return body


async def require_permission(handler: JupyterHandler, action: str, resource: str) -> None:
    user = handler.current_user
    if not await ensure_async(handler.authorizer.is_authorized(handler, user, action, resource)):
        raise web.HTTPError(
            403, f"User {user.username!r} is not authorized to {action} {resource} on this server."
        )


class MCPHandler(APIHandler):
    """``{base_url}mcp``: Streamable HTTP (POST, GET stream, DELETE) for the MCP SDK."""

    def initialize(self, session_host: SessionManagerHost, auth_help: str) -> None:
        self.session_host = session_host
        self.auth_help = auth_help
        self.disconnected = asyncio.Event()

    def check_xsrf_cookie(self) -> None:
        # An unauthenticated request is answered 401 in prepare(); checking XSRF first
        # would answer a misleading "_xsrf missing" 403 to API clients without a token.
        if getattr(self, "_jupyter_current_user", None) is None:
            return
        super().check_xsrf_cookie()

    async def prepare(self) -> None:  # type: ignore[override]  # as jupyter_server's APIHandler.prepare
        try:
            await super().prepare()
        except web.HTTPError as error:
            if error.status_code == 404:  # Jupyter answers a blocked cross-origin request with 404
                raise web.HTTPError(
                    403,
                    "Cross-origin request blocked: a browser page from another origin may not use this "
                    "server's cookies. Send 'Authorization: Bearer <token>' instead.",
                ) from error
            raise
        if self.current_user is None:
            raise web.HTTPError(401, "Authentication required. " + self.auth_help)
        await require_permission(self, "read", MCP_RESOURCE)
        self.update_api_activity()  # an agent at work keeps the server from being culled as idle

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if status_code == 401:
            # RFC 6750 §3.1: "invalid_token" answers credentials that were sent and refused;
            # a request without any gets the bare challenge.
            error = ', error="invalid_token"' if self._sent_a_token() else ""
            self.set_header("WWW-Authenticate", f'Bearer realm="jupyter"{error}')
        super().write_error(status_code, **kwargs)

    def _sent_a_token(self) -> bool:
        """Whether the request carried a token (header or ``?token=``), not only some other scheme."""
        header = self.request.headers.get("Authorization", "")
        return bool(
            IdentityProvider.auth_header_pat.match(header) or self.get_query_argument("token", "")
        )

    def on_connection_close(self) -> None:
        self.disconnected.set()

    async def _serve(self) -> None:
        user = self.current_user
        who = principal(self.identity_provider, user)
        await self.session_host.handle(
            self,
            self.disconnected,
            principal=who,
            state={"jupyter_handler": self, "jupyter_user": user, "jupyter_principal": who},
        )

    @allow_unauthenticated  # authentication is enforced in prepare() with a 401, not a login redirect
    async def post(self) -> None:
        await self._serve()

    @allow_unauthenticated
    async def get(self) -> None:
        await self._serve()

    @allow_unauthenticated
    async def delete(self) -> None:
        await self._serve()


# A window's client id is a UUID; anything much longer is not one of ours.
_MAX_WINDOW_ID_LENGTH = 100
_USAGE = (
    'Send JSON like {"path": "folder/notebook.ipynb"} (null: no current notebook), optionally with '
    '"window": "<JupyterLab client id>" and "open": true; or {"window": "<id>"} alone.'
)


class CurrentNotebookHandler(APIHandler):
    """``{base_url}mcp/current-notebook``: the user's current notebook, for JupyterLab and platforms.

    GET answers ``{"path", "source", "updated_at", "window", "principal"}``.
    PUT ``{"path": "a.ipynb" | null, "window": "<client id>", "open": false}`` chooses it: JupyterLab
    windows send their client id; a platform's backend sends none, and ``"open": true`` also opens
    the notebook in the user's JupyterLab. PUT ``{"window": "<id>"}`` alone: the user turned to a
    window showing no notebook. DELETE ``?window=<id>``: that window closed.
    """

    def initialize(self, current: CurrentNotebooks, paths: ServerPaths, ui: UIEvents) -> None:
        self.current = current
        self.paths = paths  # a path is checked before it is chosen
        self.ui_events = ui  # "open": true opens the notebook in the user's JupyterLab

    def _answer(self, who: str, current: CurrentNotebook) -> None:
        self.finish(json.dumps({**current.as_json(), "principal": who}))

    @property
    def _who(self) -> str:
        return principal(self.identity_provider, self.current_user)

    @web.authenticated
    async def get(self) -> None:
        await require_permission(self, "read", MCP_RESOURCE)
        self._answer(self._who, self.current.get(self._who))

    @web.authenticated
    async def put(self) -> None:
        await require_permission(self, "read", MCP_RESOURCE)
        body = self._read_body()
        window = self._window(body.get("window"))
        if "path" not in body:
            if window is None or "open" in body:
                raise web.HTTPError(
                    400, f"A 'path' is needed (only a 'window' may be sent alone). {_USAGE}"
                )
            self._answer(self._who, self.current.use_window(self._who, window))
            return
        path, open_in_ui = body["path"], body.get("open", False)
        if path is not None:
            if not isinstance(path, str):
                raise web.HTTPError(400, f"'path' must be a string or null. {_USAGE}")
            await require_permission(self, "read", "contents")
            try:
                path = await self.paths.existing_notebook(path)
            except UsageError as error:
                raise web.HTTPError(400, str(error)) from error
        if not isinstance(open_in_ui, bool):
            raise web.HTTPError(400, "'open' must be true or false.")
        current = self.current.set(self._who, path, source=window or API, window=window)
        if open_in_ui and path is not None:
            self.ui_events.open_notebook(self._who, path, current.window)
        self._answer(self._who, current)

    @web.authenticated
    async def delete(self) -> None:
        await require_permission(self, "read", MCP_RESOURCE)
        window = self._window(self.get_query_argument("window", None))
        if window is None:
            raise web.HTTPError(
                400, "Say which window closed: DELETE ...current-notebook?window=<client id>."
            )
        self._answer(self._who, self.current.forget_window(self._who, window))

    def _read_body(self) -> dict[str, Any]:
        return json_object(self, ("path", "window", "open"), _USAGE)

    @staticmethod
    def _window(window: Any) -> str | None:
        if window is not None and not (
            isinstance(window, str) and 0 < len(window) <= _MAX_WINDOW_ID_LENGTH
        ):
            raise web.HTTPError(
                400,
                f"'window' must be a JupyterLab client id (1-{_MAX_WINDOW_ID_LENGTH} characters).",
            )
        return window


class AgentUndoHandler(APIHandler):
    """``{base_url}mcp/agent-undo``: the person's "Undo agent change" in JupyterLab.

    GET ``?path=<notebook>`` answers ``{"path", "agents": [{"id", "name", "undo": [{"description",
    "at"}], "redo": [...]}]}`` (steps latest first; agents with nothing to undo or redo left out).
    POST ``{"path", "agent": "<id>", "action": "undo" | "redo", "steps": 1}`` takes the agent's steps
    back (the same history as the agent's own undo tool) and answers ``{"done": [...], "agents"}``.
    Errors: ``{"message"}`` with 400 (bad request), 403, 404 (no such notebook), 409 (nothing to
    undo, or refused: someone changed a cell it would remove).
    """

    def initialize(self, notebooks: LiveNotebooks, undo: UndoHistories, paths: ServerPaths) -> None:
        self.notebooks = notebooks
        self.undo = undo
        self.paths = paths

    @web.authenticated
    async def get(self) -> None:
        await require_permission(self, "read", "contents")
        path = await self._notebook(self.get_query_argument("path", None))
        self.finish(json.dumps({"path": path, "agents": self.undo.agents(await self._live(path))}))

    @web.authenticated
    async def post(self) -> None:
        await require_permission(self, "write", "contents")
        body = self._read_body()
        path = await self._notebook(body.get("path"))
        if await self._live(path) is None:
            raise web.HTTPError(
                409, f"Nothing to {body['action']}: {path} is not open on the server."
            )
        async with self.notebooks.document(path, edit=True) as nb:
            history = self.undo.find(nb, id=body["agent"])
            try:
                done = self.undo.replay(
                    history, undo=body["action"] == "undo", steps=body["steps"], name="that agent"
                )
            except UsageError as error:
                raise web.HTTPError(409, str(error)) from None
            self.finish(json.dumps({"done": done, "agents": self.undo.agents(nb)}))

    async def _notebook(self, path: Any) -> str:
        if not isinstance(path, str) or not path:
            raise web.HTTPError(
                400, f"Give the notebook's 'path' (relative to the server root). {_UNDO_USAGE}"
            )
        try:
            normalized = self.paths.normalize(path)
        except UsageError as error:
            raise web.HTTPError(400, str(error)) from None
        try:
            return await self.paths.existing_notebook(normalized)
        except UsageError as error:
            raise web.HTTPError(404, str(error)) from None

    async def _live(self, path: str) -> Any:
        """The notebook's live document, or None when it is not open on the server."""
        rooms = self.notebooks.rooms
        room_id = rooms.room_id(path, index=False)
        if room_id is None or not rooms.exists(room_id):
            return None
        return await rooms.document(room_id, create=False)

    def _read_body(self) -> dict[str, Any]:
        body = json_object(self, ("path", "agent", "action", "steps"), _UNDO_USAGE)
        if body.get("action") not in ("undo", "redo"):
            raise web.HTTPError(400, f'\'action\' must be "undo" or "redo". {_UNDO_USAGE}')
        if not isinstance(body.get("agent"), str):
            raise web.HTTPError(400, f"'agent' must be an agent id from GET. {_UNDO_USAGE}")
        steps = body.setdefault("steps", 1)
        if (
            isinstance(steps, bool)
            or not isinstance(steps, int)
            or not 1 <= steps <= MAX_UNDO_STEPS
        ):
            raise web.HTTPError(400, f"'steps' must be an integer from 1 to {MAX_UNDO_STEPS}.")
        return body


_UNDO_USAGE = (
    'GET ?path=<notebook> lists the agents\' steps; POST {"path": ..., "agent": <id from GET>, '
    '"action": "undo" | "redo", "steps": 1} takes them back.'
)


OAUTH_HELP = (
    "This server uses the Jupyter token, not OAuth: there is nothing to discover or register. "
    "Send the header 'Authorization: Bearer <token>' with the token of the Jupyter server. A client "
    "that got here was refused for a missing or wrong token: check the token it sends."
)

# Where MCP clients (Python and TypeScript SDKs, mcp-remote, Claude Code) look for OAuth after a
# 401: RFC 9728 protected-resource metadata (also path-suffixed, "/.well-known/...{base_url}mcp"),
# RFC 8414 / OpenID authorization-server metadata, and dynamic client registration at "/register".
OAUTH_DISCOVERY_PATHS = (
    r"/\.well-known/(?:oauth-protected-resource|oauth-authorization-server|openid-configuration)(?:/.*)?",
    r"/register",
)


class ConnectHandler(APIHandler):
    """``{base_url}mcp/connect``: what a person needs to connect an MCP client to this server.

    GET answers ``{"mcp_path", "hub"}``: the endpoint's path on this origin, and under JupyterHub
    ``{"user", "scope", "token_page"}`` (else null). POST, under JupyterHub and by the server's own
    user only, answers 201 ``{"token", "expires_at", "scopes"}``: a new token the hub scoped to this
    server. Tokens travel only in bodies, never in URLs, and are not cached.
    """

    def initialize(self, mcp_path: str, hub: HubServer | None, token_expires_in: int) -> None:
        self.mcp_path = mcp_path
        self.hub = hub
        self.token_expires_in = token_expires_in

    @web.authenticated
    async def get(self) -> None:
        await require_permission(self, "read", MCP_RESOURCE)
        hub = self.hub
        described = hub and {"user": hub.user, "scope": hub.scope, "token_page": hub.token_page}
        self.finish(json.dumps({"mcp_path": self.mcp_path, "hub": described}))

    @web.authenticated
    async def post(self) -> None:
        await require_permission(self, "read", MCP_RESOURCE)
        if self.hub is None:
            raise web.HTTPError(
                400,
                "This server is not part of a JupyterHub: connect clients with the server's own "
                "token (printed in the URL Jupyter logs at startup, or set with "
                "--IdentityProvider.token).",
            )
        if self.current_user.username != self.hub.user:
            raise web.HTTPError(
                403, f"Only {self.hub.user!r}, whose server this is, can create tokens for it."
            )
        try:
            created = await self.hub.create_client_token(self.token_expires_in)
        except ConnectError as error:
            raise web.HTTPError(502, str(error)) from None
        self.set_status(201)
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(created))


class NoOAuthHandler(APIHandler):
    """OAuth discovery on a plain Jupyter server: a 404 JSON error naming the Jupyter token.

    The 404 makes MCP clients stop their OAuth attempt (instead of showing Jupyter's HTML 404 page or
    an "_xsrf missing" 403), and the OAuth error fields carry the explanation into what they print.
    """

    def check_xsrf_cookie(self) -> None:
        """Nothing is changed here: a cookie-less client's POST /register gets the answer too."""

    def _refuse(self) -> None:
        self.set_status(404)
        self.finish(
            json.dumps(
                {"error": "invalid_request", "error_description": OAUTH_HELP, "message": OAUTH_HELP}
            )
        )

    @allow_unauthenticated
    def get(self) -> None:
        self._refuse()

    @allow_unauthenticated
    def post(self) -> None:
        self._refuse()


def add_oauth_discovery_answers(web_app: web.Application) -> None:
    """Answer OAuth discovery at the host root (outside base_url), only where nothing else does:
    the rules go just before Jupyter's catch-all 404, after every other handler and extension."""
    rules = web_app.wildcard_router.rules
    catch_all = next((i for i, rule in enumerate(rules) if rule.target is Template404), len(rules))
    rules[catch_all:catch_all] = [
        Rule(PathMatches(path), NoOAuthHandler) for path in OAUTH_DISCOVERY_PATHS
    ]


class UIEventsSocket(WebSocketMixin, JupyterHandler, websocket.WebSocketHandler):
    """``{base_url}mcp/ui-events``: a websocket sending a JupyterLab window its own user's UI events.

    Authenticated like Jupyter's own websockets (token or login cookie); each connection receives
    only the events of the user it authenticated as (see ui_events.py). It expects no messages.
    """

    def initialize(self, ui: UIEvents) -> None:
        self.ui_events = ui  # not self.ui: tornado keeps the template UI modules there
        self.who = ""  # the principal, known once get() authenticated the request (before open())

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        await require_permission(self, "read", MCP_RESOURCE)
        self.who = principal(self.identity_provider, self.current_user)
        await super().get(*args, **kwargs)

    def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)  # keep-alive pings
        self.ui_events.subscribe(self.who, self.send_event)

    def send_event(self, event: dict[str, Any]) -> None:
        try:
            self.write_message(json.dumps(event))
        except websocket.WebSocketClosedError:  # closed without on_close (peer vanished)
            self.ui_events.unsubscribe(self.who, self.send_event)

    def on_message(self, message: str | bytes) -> None:
        """Nothing is expected from the window."""

    def on_close(self) -> None:
        self.ui_events.unsubscribe(self.who, self.send_event)


class DemoHandler(ExtensionHandlerMixin, JupyterHandler):
    """``{base_url}mcp/demo``: JupyterLab in an iframe beside buttons that call the real MCP endpoint.

    The page comes from the extension's templates; error pages stay Jupyter's own.
    """

    def initialize(self, name: str, mcp_path: str) -> None:
        super().initialize(name=name)
        self.mcp_path = mcp_path

    @web.authenticated
    async def get(self) -> None:
        await require_permission(self, "read", MCP_RESOURCE)
        config = {
            "baseUrl": self.base_url,
            "mcpUrl": url_path_join(self.base_url, self.mcp_path),
            "xsrfToken": self.xsrf_token.decode(),
        }
        template = self.settings[f"{self.name}_jinja2_env"].get_template("demo.html")
        # "</" cannot end the inline JSON's <script> element early.
        page = template.render(
            config=json.dumps(config).replace("</", "<\\/"), static_url=self.static_url
        )
        self.finish(page)
