"""The MCP hub gateway: one MCP URL for every user of a JupyterHub, ``<hub>/services/mcp/``.

A hub-managed service. An MCP client signs its person in with the hub's own login (OAuth, the MCP
authorization spec; the SDK's ``mcp.server.auth`` pieces), or brings a hub API token; each MCP
request then goes to that person's own server, started on demand. See deploy/README.md.

    c.JupyterHub.services = [{"name": "mcp", "url": "http://127.0.0.1:8902",
        "command": [sys.executable, "-m", "jupyter_mcp_ext.hub.gateway"], ...}]
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import anyio.to_thread
import httpx2
import uvicorn
from jupyterhub.services.auth import HubOAuth
from mcp.server.auth.handlers.metadata import MetadataHandler, ProtectedResourceMetadataHandler
from mcp.server.auth.middleware.bearer_auth import BearerAuthBackend, RequireAuthMiddleware
from mcp.server.auth.routes import build_metadata, cors_middleware, create_auth_routes
from mcp.server.auth.settings import ClientRegistrationOptions, RevocationOptions
from mcp.shared.auth import ProtectedResourceMetadata
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from traitlets import Bool, Float, Integer, Unicode, default
from traitlets.config import Application

from ..user_servers import UserServers
from .identity import HubIdentity, HubUnreachable
from .oauth import SCOPE, HubSignInProvider, Lifetimes
from .pages import SignInPages
from .relay import Relay, jsonrpc_error
from .store import Store


class MCPGateway(Application):
    name = "jupyter-mcp-gateway"
    description = "One MCP URL for every user of a JupyterHub (a hub service)."

    config_file = Unicode(
        "", help="A Python config file (``c.MCPGateway.db_url = ...``); none by default."
    ).tag(config=True)

    public_url = Unicode(
        help="""The gateway's URL as MCP clients reach it, e.g. https://hub.example.com/services/mcp/.
        Default: JUPYTERHUB_PUBLIC_URL, which the hub sets when c.JupyterHub.public_url is set."""
    ).tag(config=True)

    @default("public_url")
    def _public_url_default(self) -> str:
        return os.environ.get("JUPYTERHUB_PUBLIC_URL", "")

    proxy_url = Unicode(
        help="""Where the gateway reaches users' servers: the hub's proxy, so that MCP calls count
        as activity. Default: the origin of public_url plus the hub's base URL."""
    ).tag(config=True)

    db_url = Unicode(
        help="""SQLAlchemy URL of the gateway's database (clients, sign-ins, codes, tokens).
        Default: MCP_GATEWAY_DB_URL, else sqlite:///mcp-gateway.sqlite in the working directory.
        Several gateway processes may share one PostgreSQL database."""
    ).tag(config=True)

    @default("db_url")
    def _db_url_default(self) -> str:
        return os.environ.get("MCP_GATEWAY_DB_URL", "sqlite:///mcp-gateway.sqlite")

    access_token_expires_in = Integer(
        3600, help="Seconds an access token works (default 3600); clients refresh it."
    ).tag(config=True)
    refresh_token_expires_in = Integer(
        30 * 24 * 3600,
        help="""Seconds a refresh token works (default 30 days). A refresh also needs the hub
        sign-in behind it (c.JupyterHub.oauth_token_expires_in) to be alive.""",
    ).tag(config=True)
    start_timeout = Float(
        300, help="Seconds a call waits for a stopped server to start (default 300)."
    ).tag(config=True)
    retry_after = Integer(
        30, help="Retry-After seconds when the hub is full and says no better (default 30)."
    ).tag(config=True)
    hub_token_cache_seconds = Integer(
        60,
        help="""How long the hub's answer about a token is trusted (default 60): a token revoked on
        the hub stops working through the gateway within this time.""",
    ).tag(config=True)
    access_token_cache_seconds = Float(
        10,
        help="""How long a gateway process trusts its own check of an access token (default 10): a
        token revoked or refreshed through another gateway process (replicas) stops working in
        this one within this time; in the process that revoked it, at once.""",
    ).tag(config=True)
    allow_http_client_metadata = Bool(
        False,
        help="""Accept client metadata documents (client ids that are URLs) over plain http from
        loopback addresses: for tests only. Default False: https only.""",
    ).tag(config=True)
    clean_interval = Integer(
        600, help="Seconds between removals of expired codes and tokens (default 600)."
    ).tag(config=True)

    aliases = {"config": "MCPGateway.config_file", "db-url": "MCPGateway.db_url"}  # noqa: RUF012

    def initialize(self, argv: Any = None) -> None:
        super().initialize(argv)
        if self.config_file:
            self.load_config_file(self.config_file)
        if not self.public_url:
            self.exit_with(
                "public_url is not set: set c.JupyterHub.public_url in the hub's configuration, "
                "or pass --MCPGateway.public_url=https://hub.example.com/services/mcp/"
            )
        self.hub_auth = HubOAuth(cache_max_age=self.hub_token_cache_seconds, log=self.log)
        self.service_url = os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:8902")

    def exit_with(self, message: str) -> None:
        self.log.critical(message)
        self.exit(1)

    # -- the app -------------------------------------------------------------------------------

    def make_app(self) -> Starlette:
        public = urlsplit(self.public_url)
        origin = f"{public.scheme}://{public.netloc}"
        prefix = "/" + public.path.strip("/")  # e.g. /services/mcp
        hub_base = os.environ.get("JUPYTERHUB_BASE_URL", "/")
        resource = AnyHttpUrl(f"{origin}{prefix}/")
        issuer = AnyHttpUrl(f"{origin}{prefix}")
        self.store = Store(self.db_url)
        self.http = httpx2.AsyncClient(
            timeout=httpx2.Timeout(30, read=None),
            limits=httpx2.Limits(max_connections=None, max_keepalive_connections=100),
        )
        provider = HubSignInProvider(
            self.store,
            HubIdentity(self.hub_auth),
            issuer=str(issuer),
            resource=str(resource),
            hub_authorize_url=f"{origin}{hub_base.rstrip('/')}/hub/api/oauth2/authorize",
            lifetimes=Lifetimes(
                access_token=self.access_token_expires_in,
                refresh_token=self.refresh_token_expires_in,
                verified_access_token=self.access_token_cache_seconds,
            ),
            http=self.http,
            allow_http_client_metadata=self.allow_http_client_metadata,
        )
        servers = UserServers(
            self.hub_auth.api_url,
            self.hub_auth.api_token,
            http=self.http,
            start_timeout=self.start_timeout,
            retry_after=self.retry_after,
        )
        proxy_url = self.proxy_url or f"{origin}{hub_base}"
        pages = SignInPages(provider, consent_path=f"{prefix}/consent")

        registration = ClientRegistrationOptions(
            enabled=True, valid_scopes=[SCOPE], default_scopes=[SCOPE]
        )
        metadata = build_metadata(issuer, None, registration, RevocationOptions(enabled=True))
        metadata.client_id_metadata_document_supported = True
        metadata.authorization_response_iss_parameter_supported = True
        as_metadata = cors_middleware(MetadataHandler(metadata).handle, ["GET", "OPTIONS"])
        pr_metadata = cors_middleware(
            ProtectedResourceMetadataHandler(
                ProtectedResourceMetadata(
                    resource=resource,
                    authorization_servers=[issuer],
                    scopes_supported=[SCOPE],
                    resource_name="Your Jupyter server (MCP)",
                )
            ).handle,
            ["GET", "OPTIONS"],
        )
        resource_metadata_url = AnyHttpUrl(f"{origin}{prefix}/.well-known/oauth-protected-resource")
        self.relay = relay = Relay(
            servers,
            proxy_url,
            challenge=f'Bearer error="invalid_token", resource_metadata="{resource_metadata_url}"',
            forget_user=provider.forget_user,
        )
        mcp = RequireAuthMiddleware(relay, [SCOPE], resource_metadata_url)
        auth_routes = [
            route
            for route in create_auth_routes(
                provider, issuer, None, registration, RevocationOptions(enabled=True)
            )
            if route.path != "/.well-known/oauth-authorization-server"
        ]
        get = ["GET", "OPTIONS"]
        routes: list[BaseRoute] = [
            # RFC 9728 and RFC 8414 at the origin's root (the hub's proxy sends them here:
            # c.Proxy.extra_routes), with and without the trailing slash of the MCP URL.
            Route(f"/.well-known/oauth-protected-resource{prefix}/", pr_metadata, methods=get),
            Route(f"/.well-known/oauth-protected-resource{prefix}", pr_metadata, methods=get),
            Route(f"/.well-known/oauth-authorization-server{prefix}", as_metadata, methods=get),
            Route(f"/.well-known/openid-configuration{prefix}", as_metadata, methods=get),
            Route(prefix, mcp, methods=["GET", "POST", "DELETE"]),
            # Last: a Mount takes every path under its prefix.
            Mount(
                prefix,
                routes=[
                    Route("/", mcp, methods=["GET", "POST", "DELETE"]),
                    Route("/.well-known/oauth-protected-resource", pr_metadata, methods=get),
                    Route("/.well-known/oauth-authorization-server", as_metadata, methods=get),
                    Route("/.well-known/openid-configuration", as_metadata, methods=get),
                    Route("/oauth_callback", pages.oauth_callback, methods=["GET"]),
                    Route("/consent", pages.consent, methods=["POST"]),
                    Route("/health", self.health, methods=["GET"]),
                    *auth_routes,
                ],
            ),
        ]

        def hub_unreachable(connection: HTTPConnection, error: Exception) -> Response:
            status = 503 if isinstance(error, HubUnreachable) else 401
            return Response(jsonrpc_error(str(error)), status, media_type="application/json")

        return Starlette(
            routes=routes,
            middleware=[
                Middleware(
                    AuthenticationMiddleware,
                    backend=BearerAuthBackend(provider, resource_server_url=resource),
                    on_error=hub_unreachable,
                )
            ],
            lifespan=self.lifespan,
        )

    async def health(self, request: Any) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        await self.relay.open()
        cleaner = asyncio.create_task(self._clean_periodically())
        try:
            yield
        finally:
            cleaner.cancel()
            await self.relay.close()
            await self.http.aclose()
            self.store.close()

    async def _clean_periodically(self) -> None:
        while True:
            try:
                removed = await anyio.to_thread.run_sync(self.store.clean)
            except Exception:
                self.log.exception("Removing expired gateway entries failed")
            else:
                if removed:
                    self.log.info("Removed %d expired sign-ins, codes and tokens", removed)
            await asyncio.sleep(self.clean_interval)

    def start(self) -> None:
        listen = urlsplit(self.service_url)
        self.log.info("MCP gateway at %s (listening on %s)", self.public_url, self.service_url)
        uvicorn.run(
            self.make_app(),
            host=listen.hostname or "127.0.0.1",
            port=listen.port or 80,
            log_level="warning",
            proxy_headers=False,
        )


main = MCPGateway.launch_instance
