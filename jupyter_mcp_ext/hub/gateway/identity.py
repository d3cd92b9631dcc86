"""Who a hub token belongs to, and whether it can reach its owner's own server: asked of the hub
(``GET /hub/api/user`` with that token, through the hub's own ``HubAuth``, which caches answers)."""

from __future__ import annotations

from typing import Any

from jupyterhub.services.auth import HubOAuth
from starlette.authentication import AuthenticationError
from tornado.web import HTTPError


class HubUnreachable(AuthenticationError):
    """The hub could not say who a token belongs to (down, or it refused the gateway's token)."""


def can_reach_own_server(model: dict[str, Any]) -> bool:
    """Whether the token the hub described may reach its owner's default server."""
    if model.get("kind") != "user" or not model.get("name"):
        return False
    name = model["name"]
    scopes = set(model.get("scopes") or ())
    return bool(
        scopes & {"access:servers", f"access:servers!user={name}", f"access:servers!server={name}/"}
    )


class HubIdentity:
    """The hub's answer about tokens: its user model, or None when the hub does not accept it."""

    def __init__(self, hub_auth: HubOAuth) -> None:
        self.hub_auth = hub_auth

    async def owner(self, hub_token: str, use_cache: bool = True) -> dict[str, Any] | None:
        try:
            model = await self.hub_auth.user_for_token(hub_token, use_cache=use_cache, sync=False)
        except HTTPError as error:
            raise HubUnreachable(
                f"The hub could not check the token ({error.log_message}); try again shortly."
            ) from error
        return model or None

    async def user_with_server_access(self, hub_token: str) -> str | None:
        """The token's user when it can reach that user's own server, else None."""
        model = await self.owner(hub_token)
        return model["name"] if model and can_reach_own_server(model) else None
