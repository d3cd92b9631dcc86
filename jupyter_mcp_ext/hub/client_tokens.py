"""Tokens for a user's MCP client, made from their own JupyterLab: the server asks its hub.

A server JupyterHub spawned knows its hub from the environment (``JUPYTERHUB_API_URL``,
``JUPYTERHUB_API_TOKEN``, ``JUPYTERHUB_USER``, ``JUPYTERHUB_SERVER_NAME``). It asks the hub for a
token that can reach only this server (``access:servers!server=<user>/<server>``) and expires.

The hub creates it only if the server's own token holds the scope ``tokens!user``, which operators
grant through ``c.Spawner.server_token_scopes`` (not by default: with it, code running in the
server may ask for tokens with any of the user's permissions; see deploy/README.md). Without it,
the answer names the hub's token page, where the person makes the token themselves.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .connect import ConnectError, Hub

TOKEN_NOTE = "MCP client (created in JupyterLab)"


@dataclass(frozen=True)
class HubServer:
    """This Jupyter server as its hub spawned it."""

    api_url: str  # the hub's API as this server reaches it, ending in 'hub/api/'
    api_token: str
    user: str
    server_name: str
    base_url: str  # the hub's public base URL path, e.g. '/' or '/jhub/'

    @classmethod
    def from_environment(cls, env: Mapping[str, str] = os.environ) -> HubServer | None:
        """The hub this server belongs to; None on a server JupyterHub did not spawn."""
        api_url, token, user = (
            env.get(name)
            for name in ("JUPYTERHUB_API_URL", "JUPYTERHUB_API_TOKEN", "JUPYTERHUB_USER")
        )
        if not (api_url and token and user):
            return None
        return cls(
            api_url=api_url.rstrip("/") + "/",
            api_token=token,
            user=user,
            server_name=env.get("JUPYTERHUB_SERVER_NAME", ""),
            base_url=env.get("JUPYTERHUB_BASE_URL", "/"),
        )

    @property
    def scope(self) -> str:
        """What a client token may do: reach this server, nothing else."""
        return f"access:servers!server={self.user}/{self.server_name}"

    @property
    def token_page(self) -> str:
        """The hub's page where a person makes tokens (a path on the hub's public origin)."""
        return self.base_url.rstrip("/") + "/hub/token"

    async def create_client_token(self, expires_in: int) -> dict[str, Any]:
        """A new token for this server's MCP endpoint: ``{"token", "expires_at", "scopes"}``.

        Raises ``ConnectError`` with a message a person can act on when the hub refuses.
        """
        hub = Hub(self.api_url.removesuffix("hub/api/"), self.api_token, "JUPYTERHUB_API_TOKEN")
        # The hub client is blocking (standard library): keep it off the server's event loop.
        status, answer = await asyncio.to_thread(
            hub.new_token, self.user, self.scope, expires_in, TOKEN_NOTE
        )
        if status == 201 and isinstance(answer, dict) and answer.get("token"):
            return {key: answer.get(key) for key in ("token", "expires_at", "scopes")}
        if status == 403:
            raise ConnectError(
                "The hub does not let this server create tokens (an operator can allow it by adding "
                "'tokens!user' to c.Spawner.server_token_scopes). Make one on the hub's token page, "
                f"{self.token_page}, with the scope {self.scope}, and paste it here."
            )
        message = answer.get("message") if isinstance(answer, dict) else answer
        raise ConnectError(f"The hub did not create a token (HTTP {status}: {message}).")
