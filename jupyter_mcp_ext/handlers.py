"""The HTTP surface: one authenticated handler that hands MCP requests to the transport."""

from __future__ import annotations

import asyncio
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.auth.identity import IdentityProvider, PasswordIdentityProvider
from jupyter_server.base.handlers import APIHandler
from tornado import web

from .transport import SessionManagerHost

AUTH_HELP = (
    "Authenticate with the Jupyter server's token: send the header 'Authorization: Bearer <token>' "
    "(or 'Authorization: token <token>'). The token is printed in the URL Jupyter logs at startup "
    "and listed by `jupyter server list`."
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


class MCPHandler(APIHandler):
    """``{base_url}mcp``: Streamable HTTP (POST, GET stream, DELETE) for the MCP SDK."""

    def initialize(self, session_host: SessionManagerHost) -> None:
        self.session_host = session_host
        self.disconnected = asyncio.Event()

    def check_xsrf_cookie(self) -> None:
        # An unauthenticated request is answered 401 in prepare(); checking XSRF first
        # would answer a misleading "_xsrf missing" 403 to API clients without a token.
        if getattr(self, "_jupyter_current_user", None) is None:
            return
        super().check_xsrf_cookie()

    async def prepare(self) -> None:
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
            raise web.HTTPError(401, "Authentication required. " + AUTH_HELP)
        allowed = await ensure_async(self.authorizer.is_authorized(self, self.current_user, "read", MCP_RESOURCE))
        if not allowed:
            raise web.HTTPError(403, f"User {self.current_user.username!r} is not authorized to use MCP here.")
        self.update_api_activity()  # an agent at work keeps the server from being culled as idle

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if status_code == 401:
            self.set_header("WWW-Authenticate", 'Bearer realm="jupyter", error="invalid_token"')
        super().write_error(status_code, **kwargs)

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

