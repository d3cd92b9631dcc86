"""The gateway as an OAuth 2.1 authorization server for MCP clients, with the person's sign-in
delegated to the hub: the MCP SDK's ``OAuthAuthorizationServerProvider`` over the ``Store``.

A client's ``/authorize`` goes on to the hub's own OAuth (the gateway is a hub OAuth client, so any
authenticator the hub uses works); the hub's code comes back to ``/oauth_callback`` (pages.py),
which asks the person's consent; the consent mints our code. Every code and token carries the hub
token of that sign-in, which reaches only the person's own server.

Hub API tokens of a user are accepted as access tokens too (for scripts and platforms' backends),
when they can reach their owner's server.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import anyio.to_thread
import httpx2
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    OAuthAuthorizationServerProvider,
    RefreshToken,
    TokenError,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import Field, ValidationError

from .identity import HubIdentity
from .store import Grant, SignIn, Store, grant_id, new_secret

SCOPE = "mcp"
HUB_TOKEN_CLIENT = "hub-token"  # the client id of access tokens that are hub API tokens
# Our access and refresh tokens start with this; anything else is a hub token to ask the hub about.
TOKEN_PREFIX = "jmcp_"


class GatewayAccessToken(AccessToken):
    hub_token: str = Field(repr=False, exclude=True)


class GatewayCode(AuthorizationCode):
    hub_token: str = Field(repr=False, exclude=True)


class GatewayRefreshToken(RefreshToken):
    hub_token: str = Field(repr=False, exclude=True)
    grant_id: str


@dataclass(frozen=True)
class Lifetimes:
    sign_in: float = 600  # from /authorize to the consent
    code: float = 300
    access_token: float = 3600
    refresh_token: float = 30 * 24 * 3600
    client_metadata: float = 600  # how long a fetched client metadata document is trusted
    verified_access_token: float = 10  # MCPGateway.access_token_cache_seconds


class ClientMetadataError(Exception):
    """A client id that is a URL whose document cannot be used; the message says why."""


class HubSignInProvider(
    OAuthAuthorizationServerProvider[GatewayCode, GatewayRefreshToken, GatewayAccessToken]
):
    """The SDK's provider over our store, and the token verifier of the MCP URL."""

    def __init__(
        self,
        store: Store,
        identity: HubIdentity,
        *,
        issuer: str,
        resource: str,
        hub_authorize_url: str,
        lifetimes: Lifetimes,
        http: httpx2.AsyncClient,
        allow_http_client_metadata: bool = False,
    ) -> None:
        self.store = store
        self.identity = identity
        self.issuer = issuer
        self.resource = resource
        self.hub_authorize_url = hub_authorize_url
        self.lifetimes = lifetimes
        self.http = http
        self.allow_http_client_metadata = allow_http_client_metadata
        self._verified: dict[str, tuple[float, GatewayAccessToken]] = {}

    async def _db(self, function: Any, *args: Any) -> Any:
        return await anyio.to_thread.run_sync(function, *args)

    # -- clients -------------------------------------------------------------------------------

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        info = await self._db(self.store.client, client_id)
        if info is not None:
            return OAuthClientInformationFull.model_validate(info)
        if not client_id.startswith(("https://", "http://")):
            return None
        try:
            client = await self._fetch_client_metadata(client_id)
        except ClientMetadataError as error:
            # The SDK answers an unknown client with a plain error: log the reason for operators.
            self.identity.hub_auth.log.warning("Client metadata document refused: %s", error)
            return None
        expires_at = time.time() + self.lifetimes.client_metadata
        await self._db(
            self.store.save_client, client_id, client.model_dump(mode="json"), expires_at
        )
        return client

    async def _fetch_client_metadata(self, url: str) -> OAuthClientInformationFull:
        """A Client ID Metadata Document: the client's registration, published at its client id."""
        parts = urlsplit(url)
        if parts.scheme != "https" and not (
            self.allow_http_client_metadata and parts.hostname in ("127.0.0.1", "localhost", "::1")
        ):
            raise ClientMetadataError(f"{url}: a client id URL must be https")
        if parts.path in ("", "/") or parts.fragment:
            raise ClientMetadataError(f"{url}: a client id URL needs a path and no fragment")
        try:
            response = await self.http.get(url, follow_redirects=False, timeout=5)
        except httpx2.HTTPError as error:
            raise ClientMetadataError(f"{url}: not reachable ({error})") from error
        if response.status_code != 200 or len(response.content) > 64 * 1024:
            raise ClientMetadataError(f"{url}: HTTP {response.status_code}, not a document")
        try:
            document = response.json()
            if document.get("client_id") != url:
                raise ClientMetadataError(f"{url}: the document's client_id is not its URL")
            return OAuthClientInformationFull.model_validate(
                {
                    **document,
                    "client_id": url,
                    "client_secret": None,
                    "token_endpoint_auth_method": "none",
                    "scope": document.get("scope") or SCOPE,
                }
            )
        except (ValueError, AttributeError, ValidationError) as error:
            raise ClientMetadataError(f"{url}: not a client metadata document ({error})") from error

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        await self._db(
            self.store.save_client, client_info.client_id, client_info.model_dump(mode="json"), None
        )

    # -- the authorization request: on to the hub's login ------------------------------------------

    async def authorize(
        self, client: OAuthClientInformationFull, params: AuthorizationParams
    ) -> str:
        if params.resource and params.resource.rstrip("/") != self.resource.rstrip("/"):
            raise AuthorizeError(
                error="invalid_request",
                error_description=f"resource must be this gateway, {self.resource}",
            )
        key = new_secret()
        verifier, challenge, method = self.identity.hub_auth.generate_pkce_code_challenge()
        await self._db(
            self.store.begin_sign_in,
            key,
            client.client_id,
            params.model_dump(mode="json"),
            verifier,
            self.lifetimes.sign_in,
        )
        hub_auth = self.identity.hub_auth
        query = urlencode(
            {
                "response_type": "code",
                "client_id": hub_auth.oauth_client_id,
                "redirect_uri": hub_auth.oauth_redirect_uri,
                "state": key,
                "code_challenge": challenge,
                "code_challenge_method": method,
            }
        )
        return f"{self.hub_authorize_url}?{query}"

    async def pending_sign_in(self, key: str) -> SignIn | None:
        return await self._db(self.store.sign_in, key) if key else None

    async def signed_in(self, key: str, user: str, hub_token: str) -> bool:
        """The hub confirmed who signed in; False when the sign-in expired or was answered."""
        return await self._db(self.store.signed_in, key, user, hub_token)

    async def cancel_sign_in(self, key: str) -> None:
        await self._db(self.store.end_sign_in, key)

    async def issue_code(self, key: str) -> tuple[AuthorizationParams, str]:
        """After the person's consent: our code for the client, and the request it answers."""
        sign_in = await self._db(self.store.sign_in, key)
        if sign_in is None or sign_in.user is None or sign_in.hub_token is None:
            raise LookupError("unknown sign-in")
        params = AuthorizationParams.model_validate(sign_in.request)
        code = new_secret()
        grant = Grant(
            client_id=sign_in.client_id,
            user=sign_in.user,
            scopes=params.scopes or [SCOPE],
            resource=params.resource or self.resource,
            expires_at=time.time() + self.lifetimes.code,
            hub_token=sign_in.hub_token,
            details={
                "code_challenge": params.code_challenge,
                "redirect_uri": str(params.redirect_uri),
                "redirect_uri_provided_explicitly": params.redirect_uri_provided_explicitly,
            },
        )
        if not await self._db(self.store.end_sign_in, key):
            raise LookupError("sign-in already answered")
        await self._db(self.store.save_code, code, grant)
        return params, code

    # -- codes and tokens ----------------------------------------------------------------------

    async def load_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: str
    ) -> GatewayCode | None:
        grant = await self._db(self.store.code, authorization_code, client.client_id)
        if grant is None:
            return None
        details = grant.details or {}
        return GatewayCode(
            code=authorization_code,
            scopes=grant.scopes,
            expires_at=grant.expires_at,
            client_id=grant.client_id,
            code_challenge=details["code_challenge"],
            redirect_uri=details["redirect_uri"],
            redirect_uri_provided_explicitly=details["redirect_uri_provided_explicitly"],
            resource=grant.resource,
            subject=grant.user,
            hub_token=grant.hub_token,
        )

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: GatewayCode
    ) -> OAuthToken:
        if not await self._db(self.store.use_code, authorization_code.code):
            raise TokenError(error="invalid_grant", error_description="the code was used already")
        grant = Grant(
            client_id=client.client_id,
            user=authorization_code.subject or "",
            scopes=authorization_code.scopes,
            resource=authorization_code.resource,
            expires_at=0,
            hub_token=authorization_code.hub_token,
            grant_id=grant_id(),
        )
        issued, answer = self._new_tokens(grant)
        await self._db(self.store.save_tokens, issued, grant)
        return answer

    def _new_tokens(self, grant: Grant) -> tuple[dict[str, tuple[str, float]], OAuthToken]:
        now = time.time()
        access, refresh = TOKEN_PREFIX + new_secret(), TOKEN_PREFIX + new_secret()
        issued = {
            "access": (access, now + self.lifetimes.access_token),
            "refresh": (refresh, now + self.lifetimes.refresh_token),
        }
        answer = OAuthToken(
            access_token=access,
            expires_in=int(self.lifetimes.access_token),
            scope=" ".join(grant.scopes),
            refresh_token=refresh,
        )
        return issued, answer

    async def load_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: str
    ) -> GatewayRefreshToken | None:
        grant = await self._db(self.store.token, refresh_token, "refresh")
        if grant is None or grant.client_id != client.client_id:
            return None
        return GatewayRefreshToken(
            token=refresh_token,
            client_id=grant.client_id,
            scopes=grant.scopes,
            expires_at=int(grant.expires_at),
            resource=grant.resource,
            subject=grant.user,
            hub_token=grant.hub_token,
            grant_id=grant.grant_id,
        )

    async def exchange_refresh_token(
        self,
        client: OAuthClientInformationFull,
        refresh_token: GatewayRefreshToken,
        scopes: list[str],
    ) -> OAuthToken:
        if await self.identity.user_with_server_access(refresh_token.hub_token) is None:
            await self._revoke_grant(refresh_token.grant_id)
            raise TokenError(
                error="invalid_grant",
                error_description="the hub sign-in behind this token ended; sign in again",
            )
        grant = Grant(
            client_id=client.client_id,
            user=refresh_token.subject or "",
            scopes=scopes or refresh_token.scopes,
            resource=refresh_token.resource,
            expires_at=0,
            hub_token=refresh_token.hub_token,
            grant_id=refresh_token.grant_id,
        )
        issued, answer = self._new_tokens(grant)
        if not await self._db(self.store.rotate, refresh_token.token, grant, issued):
            raise TokenError(error="invalid_grant", error_description="the refresh token was used")
        self._forget(grant_id=grant.grant_id)  # the old access token is gone
        return answer

    async def load_access_token(self, token: str) -> GatewayAccessToken | None:
        now = time.monotonic()
        verified = self._verified.get(token)
        if verified is not None and now - verified[0] < self.lifetimes.verified_access_token:
            return verified[1]
        if not token.startswith(TOKEN_PREFIX):
            access = await self._hub_token(token)
            if access is not None:
                self._remember(token, access, now)
            return access
        grant = await self._db(self.store.token, token, "access")
        if grant is None:
            self._verified.pop(token, None)
            return None
        if await self.identity.user_with_server_access(grant.hub_token) != grant.user:
            # The hub ended that sign-in (revoked, expired, or the user is gone).
            await self._revoke_grant(grant.grant_id)
            return None
        access = GatewayAccessToken(
            token=token,
            client_id=grant.client_id,
            scopes=grant.scopes,
            expires_at=int(grant.expires_at),
            resource=grant.resource,
            subject=grant.user,
            claims={"grant_id": grant.grant_id},
            hub_token=grant.hub_token,
        )
        self._remember(token, access, now)
        return access

    def _remember(self, token: str, access: GatewayAccessToken, now: float) -> None:
        if len(self._verified) >= 10_000:  # bounded: drop the oldest lookups
            for stale in list(self._verified)[:1_000]:
                del self._verified[stale]
        self._verified[token] = (now, access)

    def _forget(self, grant_id: str | None = None, user: str | None = None) -> None:
        for token, (_, access) in list(self._verified.items()):
            if (access.claims or {}).get("grant_id") == grant_id or access.subject == user:
                del self._verified[token]

    async def _hub_token(self, token: str) -> GatewayAccessToken | None:
        user = await self.identity.user_with_server_access(token)
        if user is None:
            return None
        return GatewayAccessToken(
            token=token,
            client_id=HUB_TOKEN_CLIENT,
            scopes=[SCOPE],
            resource=self.resource,
            subject=user,
            hub_token=token,
        )

    async def _revoke_grant(self, grant_id: str) -> None:
        self._forget(grant_id=grant_id)
        await self._db(self.store.revoke_grant, grant_id)

    async def forget_user(self, user: str) -> None:
        """Drop every token of a user the hub no longer has."""
        self._forget(user=user)
        await self._db(self.store.revoke_user, user)

    async def verify_token(self, token: str) -> GatewayAccessToken | None:
        return await self.load_access_token(token)

    async def revoke_token(self, token: GatewayAccessToken | GatewayRefreshToken) -> None:
        if isinstance(token, GatewayRefreshToken):
            await self._revoke_grant(token.grant_id)
        elif token.claims and token.claims.get("grant_id"):
            await self._revoke_grant(token.claims["grant_id"])
        # A hub API token is the hub's to revoke (on its token page), not ours.
