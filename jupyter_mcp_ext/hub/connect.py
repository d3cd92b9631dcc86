"""Ready-to-paste MCP client configs for one user's server, without an admin at hand.

Under JupyterHub (``--hub-url``, ``--user``): asks the hub for a new token that can reach only that
user's server (scope ``access:servers!user=<name>``) and expires, then prints the MCP URL
``<hub>/user/<name>/mcp`` with a Claude Code command and an ``mcp.json`` block. The token that asks
comes from an environment variable, never from the command line (``ps`` and shell history show
arguments). On a plain Jupyter server (``--server-url``) it prints the server's own MCP URL.

    JUPYTERHUB_API_TOKEN=... python -m jupyter_mcp_ext.hub.connect \\
        --hub-url https://hub.example.com/ --user alice

A token never goes into a URL, and nothing here logs one: it appears only in the printed configs.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

TOKEN_ENV = "JUPYTERHUB_API_TOKEN"
DEFAULT_EXPIRES_IN = 7 * 24 * 3600
DEFAULT_NOTE = "MCP client (jupyter_mcp_ext.hub.connect)"
TOKEN_PLACEHOLDER = "<token>"


class ConnectError(Exception):
    """A problem the person running the command can fix; the message says how."""


@dataclass(frozen=True)
class Connection:
    """What a client needs: the endpoint and its token, plus when the token stops working."""

    url: str
    token: str
    expires_at: str | None = None
    token_id: str | None = None


def base_url(url: str, option: str) -> str:
    """``url`` as an http(s) URL ending in '/', so relative paths join below it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConnectError(
            f"{option} must be an http(s) URL such as https://hub.example.com/, not {url!r}"
        )
    if parts.query or parts.fragment:
        raise ConnectError(f"{option} must not have a query or fragment: {url!r}")
    return url if url.endswith("/") else url + "/"


def user_server_url(hub_url: str, user: str) -> str:
    """The user's default server under the hub's base URL, as JupyterHub names it."""
    return urljoin(hub_url, f"user/{quote(user, safe='@~')}/")


def mcp_url(server_url: str, endpoint_path: str = "mcp") -> str:
    return urljoin(server_url, endpoint_path.strip("/"))


class Hub:
    """The hub's REST API at ``<hub_url>hub/api/``, authenticated with a token read from
    ``token_env`` (named in errors, so the person knows which token to fix)."""

    def __init__(self, hub_url: str, token: str, token_env: str, timeout: float = 30) -> None:
        self.hub_url = hub_url
        self.api_url = urljoin(hub_url, "hub/api/")
        self.token_env = token_env
        self._token = token
        self._timeout = timeout

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Status and JSON answer of one API call; a refused call is returned, not raised."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(urljoin(self.api_url, path), data=data, method=method)
        request.add_header("Authorization", f"token {self._token}")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as answer:
                return answer.status, _json(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, _json(error.read())
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise ConnectError(f"cannot reach the hub at {self.api_url}: {reason}") from None

    def check(self) -> None:
        """Fail clearly when the URL is not a JupyterHub (a typo, a missing base_url path)."""
        status, answer = self.request("GET", "")
        if status != 200 or not isinstance(answer, dict) or "version" not in answer:
            raise ConnectError(
                f"no JupyterHub API at {self.api_url} (HTTP {status}): give the hub's public URL, "
                "with its base_url path if it has one, e.g. https://example.com/jupyter/"
            )

    def server_url(self, user: str) -> tuple[str, bool | None]:
        """The user's server URL and whether it runs (None: this token may not see that).

        A running server's URL comes from the hub (right also with subdomains per user)."""
        status, model = self.request("GET", f"users/{quote(user, safe='@~')}")
        if status != 200 or not isinstance(model, dict):
            return user_server_url(self.hub_url, user), None
        running = model.get("server")
        if running:
            return urljoin(self.hub_url, running), True
        return user_server_url(self.hub_url, user), False

    def new_token(self, user: str, scope: str, expires_in: int, note: str) -> tuple[int, Any]:
        """Ask for a token of ``user`` limited to ``scope``: the hub's status and answer."""
        body = {"scopes": [scope], "expires_in": expires_in, "note": note}
        return self.request("POST", f"users/{quote(user, safe='@~')}/tokens", body)

    def create_token(self, user: str, expires_in: int, note: str) -> dict[str, Any]:
        status, answer = self.new_token(user, f"access:servers!user={user}", expires_in, note)
        if status == 201 and isinstance(answer, dict) and answer.get("token"):
            return answer
        message = answer.get("message") if isinstance(answer, dict) else None
        if status == 403:
            raise ConnectError(
                f"the hub refused to create a token for user {user!r} (HTTP 403: {message}). "
                f"The token in ${self.token_env} must be the user's own token, or an admin's or a "
                f"service's with the scope 'tokens!user={user}' (or 'tokens'); the user must exist."
            )
        raise ConnectError(f"the hub did not create a token (HTTP {status}: {message or answer})")


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return raw.decode(errors="replace")[:200]


def claude_code_command(connection: Connection, name: str) -> str:
    return (
        f"claude mcp add --transport http {name} {connection.url} "
        f'--header "Authorization: Bearer {connection.token}"'
    )


def mcp_json(connection: Connection, name: str) -> dict[str, Any]:
    """The ``mcpServers`` block Cursor and Claude Code read (VS Code names the key ``servers``)."""
    server = {
        "type": "http",
        "url": connection.url,
        "headers": {"Authorization": f"Bearer {connection.token}"},
    }
    return {"mcpServers": {name: server}}


def render_text(connection: Connection, name: str, notes: list[str]) -> str:
    lines = [f"MCP URL: {connection.url}"]
    if connection.expires_at:
        lines.append(f"Token expires: {connection.expires_at} (token id {connection.token_id})")
    lines += [f"Note: {note}" for note in notes]
    lines += [
        "",
        "Claude Code:",
        "",
        f"  {claude_code_command(connection, name)}",
        "",
        'mcp.json (Cursor .cursor/mcp.json; VS Code .vscode/mcp.json names the key "servers"):',
        "",
        json.dumps(mcp_json(connection, name), indent=2),
    ]
    return "\n".join(lines) + "\n"


def render_json(connection: Connection, name: str, notes: list[str]) -> str:
    return json.dumps(
        {
            "url": connection.url,
            "token": connection.token,
            "expires_at": connection.expires_at,
            "token_id": connection.token_id,
            "notes": notes,
            "claude_code": claude_code_command(connection, name),
            "mcp_json": mcp_json(connection, name),
        },
        indent=2,
    )


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be a whole number of seconds > 0, not {value!r}")
    return number


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m jupyter_mcp_ext.hub.connect",
        description=(
            "Print ready-to-paste MCP client configs (Claude Code command, mcp.json) for a user's "
            "Jupyter server. Under JupyterHub it creates a new token scoped to that user's server "
            "that expires; the token asking for it is read from an environment variable."
        ),
    )
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--hub-url", help="the hub's public URL, with its base_url path if any")
    where.add_argument(
        "--server-url",
        help="a plain (non-hub) Jupyter server's URL: print its MCP URL (default: "
        "$JUPYTER_SERVER_URL, set in notebooks and terminals of a server)",
        nargs="?",
        const=os.environ.get("JUPYTER_SERVER_URL") or "",
    )
    p.add_argument(
        "--user",
        default=os.environ.get("JUPYTERHUB_USER"),
        help="the hub user whose server the client reaches (default: $JUPYTERHUB_USER)",
    )
    p.add_argument(
        "--token-env",
        default=TOKEN_ENV,
        help=f"environment variable holding the token that asks the hub (default: {TOKEN_ENV}); "
        "the user's own token or an admin's/service's with the 'tokens' scope. Asked for "
        "interactively when unset",
    )
    p.add_argument(
        "--expires-in",
        type=positive_int,
        default=DEFAULT_EXPIRES_IN,
        help=f"seconds until the new token expires (default: {DEFAULT_EXPIRES_IN}, 7 days)",
    )
    p.add_argument("--note", default=DEFAULT_NOTE, help="the token's note on the hub's token page")
    p.add_argument("--name", default="jupyter", help="the MCP server's name in client configs")
    p.add_argument("--endpoint-path", default="mcp", help="MCPExtensionApp.endpoint_path")
    p.add_argument("--json", action="store_true", help="print one JSON object (for platforms)")
    return p


def asking_token(token_env: str) -> str:
    token = os.environ.get(token_env, "").strip()
    if token:
        return token
    if sys.stdin.isatty():
        try:
            token = getpass.getpass(f"Hub token (${token_env} is not set): ").strip()
        except (EOFError, KeyboardInterrupt):
            print(file=sys.stderr)
    if not token:
        raise ConnectError(
            f"no token to ask the hub with: set ${token_env} to your own hub token (hub → Token "
            "page) or to an admin's/service's token with the 'tokens' scope"
        )
    return token


def hub_connection(args: argparse.Namespace) -> tuple[Connection, list[str]]:
    if not args.user:
        raise ConnectError("--user is required with --hub-url (or set $JUPYTERHUB_USER)")
    hub = Hub(base_url(args.hub_url, "--hub-url"), asking_token(args.token_env), args.token_env)
    hub.check()
    created = hub.create_token(args.user, args.expires_in, args.note)
    server_url, running = hub.server_url(args.user)
    notes = []
    if running is False:
        notes.append(
            f"{args.user}'s server is not running: start it from the hub's home page "
            f"({urljoin(hub.hub_url, 'hub/home')}) or with POST {hub.api_url}users/"
            f"{quote(args.user, safe='@~')}/server. A client calling a stopped server gets "
            "HTTP 403 (about '_xsrf'), not a start."
        )
    connection = Connection(
        url=mcp_url(server_url, args.endpoint_path),
        token=created["token"],
        expires_at=created.get("expires_at"),
        token_id=created.get("id"),
    )
    return connection, notes


def server_connection(args: argparse.Namespace) -> tuple[Connection, list[str]]:
    if not args.server_url:
        raise ConnectError("--server-url needs a URL here ($JUPYTER_SERVER_URL is not set)")
    url = mcp_url(base_url(args.server_url, "--server-url"), args.endpoint_path)
    notes = [
        f"replace {TOKEN_PLACEHOLDER} with the server's token (`jupyter server list` shows it)"
    ]
    return Connection(url=url, token=TOKEN_PLACEHOLDER), notes


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        connection, notes = (
            hub_connection(args) if args.hub_url is not None else server_connection(args)
        )
    except ConnectError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    render = render_json if args.json else render_text
    print(render(connection, args.name, notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
