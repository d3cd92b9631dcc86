"""Embedding JupyterLab in another page: which origins may frame it and talk to it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from jupyter_server.utils import url_path_join

CSP_HEADER = "Content-Security-Policy"

# The key of the frontend's options in JupyterLab's page config (PageConfig.getOption).
PAGE_CONFIG_KEY = "jupyterMcpExt"


def check_origin(origin: str) -> str:
    """``origin`` as browsers write it (``scheme://host[:port]``), or ValueError saying what is valid."""
    parts = urlsplit(origin.strip())
    try:
        port = parts.port
    except ValueError:  # not a number, or out of range
        port = -1
    valid = (
        parts.scheme in ("http", "https")
        and parts.hostname
        and port != -1
        and not parts.username
        and parts.path in ("", "/")
        and not parts.query
        and not parts.fragment
        and "*" not in origin
    )
    if not valid or parts.hostname is None:
        raise ValueError(
            f"{origin!r} is not an origin: write scheme, host and port only, "
            "e.g. 'https://platform.example.com' or 'http://localhost:3000'."
        )
    default_port = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname.lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{f':{port}' if port not in (None, default_port) else ''}"


def frame_ancestors_policy(origins: list[str], base_url: str) -> str:
    """The Content-Security-Policy Jupyter sends by default, with the embedding origins added."""
    return "; ".join(
        [
            " ".join(["frame-ancestors 'self'", *origins]),
            "report-uri " + url_path_join(base_url, "api/security/csp-report"),
        ]
    )


def configure(web_settings: dict[str, Any], *, origins: list[str], mcp_path: str, log: Any) -> None:
    """Let the allowed origins frame JupyterLab, and tell the frontend whom it may talk to."""
    headers = web_settings.setdefault("headers", {})
    if CSP_HEADER in headers:
        if origins:
            log.warning(
                "MCP: ServerApp.tornado_settings sets its own %s; allowed_frame_origins %s are not added to it "
                "(its frame-ancestors must list them).",
                CSP_HEADER,
                origins,
            )
    elif origins:
        headers[CSP_HEADER] = frame_ancestors_policy(origins, web_settings.get("base_url", "/"))
    web_settings.setdefault("page_config_data", {})[PAGE_CONFIG_KEY] = json.dumps(
        {"allowedOrigins": origins, "mcpPath": mcp_path}
    )
