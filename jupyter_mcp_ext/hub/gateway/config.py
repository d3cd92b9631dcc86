"""The gateway's part of a hub's configuration, for ``jupyterhub_config.py``: the service, the
roles it and the users need, and the proxy routes of the OAuth discovery documents.

    from jupyter_mcp_ext.hub.gateway.config import (
        mcp_gateway_roles, mcp_gateway_routes, mcp_gateway_service)
    c.JupyterHub.public_url = "https://hub.example.com/"
    c.JupyterHub.services.append(mcp_gateway_service())
    c.JupyterHub.load_roles += mcp_gateway_roles()
    c.Proxy.extra_routes.update(mcp_gateway_routes())
"""

from __future__ import annotations

import sys
from typing import Any

# What the hub sign-in hands the gateway for a person: a token that reaches their own servers and
# says their name — nothing else of theirs.
USER_TOKEN_SCOPES = ["access:servers!user", "read:users:name!user"]
# What the gateway itself may do on the hub: see and start servers (never stop them).
GATEWAY_SCOPES = ["read:servers", "start:servers"]


def mcp_gateway_service(
    name: str = "mcp",
    port: int = 8902,
    db_url: str = "sqlite:///mcp-gateway.sqlite",
    host: str = "127.0.0.1",
    extra_args: list[str] | None = None,
    api_token: str | None = None,
) -> dict[str, Any]:
    """A hub-managed service running the gateway at ``<hub>/services/<name>/``.

    ``api_token``: the service's hub API token, which is also its OAuth client secret. Give one
    when more gateway processes than the hub's own serve the service (replicas on one PostgreSQL):
    they need it too. By default the hub makes a new one at each start."""
    service: dict[str, Any] = {
        "name": name,
        "url": f"http://{host}:{port}",
        "command": [sys.executable, "-m", "jupyter_mcp_ext.hub.gateway", *(extra_args or [])],
        "environment": {"MCP_GATEWAY_DB_URL": db_url},
        "oauth_client_allowed_scopes": USER_TOKEN_SCOPES,
        # The gateway asks the person itself, naming the MCP client that asks (the hub's own
        # page could name only the gateway).
        "oauth_no_confirm": True,
    }
    if api_token:
        service["api_token"] = api_token
    return service


def mcp_gateway_roles(name: str = "mcp") -> list[dict[str, Any]]:
    """The gateway's role, and the users' right to sign in to it (keeps the default ``self``)."""
    return [
        {"name": f"{name}-gateway", "scopes": GATEWAY_SCOPES, "services": [name]},
        {"name": "user", "scopes": ["self", f"access:services!service={name}"]},
    ]


def mcp_gateway_routes(
    name: str = "mcp", port: int = 8902, host: str = "127.0.0.1"
) -> dict[str, str]:
    """OAuth discovery at the origin's root (RFC 9728, RFC 8414, OpenID) sent to the gateway."""
    target = f"http://{host}:{port}"
    return {
        f"/.well-known/{document}/services/{name}/": target
        for document in (
            "oauth-protected-resource",
            "oauth-authorization-server",
            "openid-configuration",
        )
    }
