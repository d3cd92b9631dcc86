"""`python -m jupyter_mcp_ext.hub.connect` against a real JupyterHub (npm configurable-http-proxy,
DummyAuthenticator, local process spawner, base_url /jhub/): the printed config reaches the
user's own server over MCP with a token the hub scoped to that server, and refusals are clear."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from support import free_port, stop_process

CHECKOUT = Path(__file__).resolve().parents[2]
SERVICE_TOKEN = "platform-service-token-for-tests"


class RunningHub:
    """A hub process started for the tests; ``url`` is its public URL with the base_url."""

    def __init__(self, url: str) -> None:
        self.url = url

    def api(self, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}hub/api/{path}", data=data, method=method)
        request.add_header("Authorization", f"token {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, parsed(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, parsed(error.read())

    def user_token(self, user: str) -> str:
        """A token of the user's own, with the user's permissions (what the hub's Token page
        gives)."""
        status, answer = self.api("POST", f"users/{user}/tokens", SERVICE_TOKEN, {"note": "own"})
        assert status == 201, answer
        return answer["token"]


def parsed(raw: bytes) -> Any:
    """JSON, or the text of a non-JSON answer (the proxy's 404 page while the hub starts)."""
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return raw.decode(errors="replace")


def hub_config(tmp: Path, proxy_port: int, hub_port: int, proxy_api_port: int) -> str:
    return textwrap.dedent(f"""
        import sys
        c.JupyterHub.ip = "127.0.0.1"
        c.JupyterHub.port = {proxy_port}
        c.JupyterHub.hub_ip = "127.0.0.1"
        c.JupyterHub.hub_port = {hub_port}
        c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
        c.JupyterHub.base_url = "/jhub/"
        c.JupyterHub.db_url = "sqlite:///{tmp}/jupyterhub.sqlite"
        c.JupyterHub.cookie_secret_file = "{tmp}/cookie_secret"
        c.JupyterHub.authenticator_class = "dummy"
        c.Authenticator.allowed_users = {{"alice", "bob"}}
        c.JupyterHub.spawner_class = "simple"
        c.SimpleLocalProcessSpawner.home_dir_template = "{tmp}/home/{{username}}"
        c.Spawner.cmd = [sys.executable, "-m", "jupyterhub.singleuser"]
        c.Spawner.args = ["--allow-root"]
        c.Spawner.environment = {{"PYTHONPATH": "{CHECKOUT}"}}
        c.Spawner.start_timeout = 60
        # Lets "Connect an AI agent" in a user's JupyterLab ask the hub for a token (see deploy/README.md).
        c.Spawner.server_token_scopes = ["access:servers!server", "users:activity!user", "tokens!user"]
        c.JupyterHub.services = [{{"name": "platform", "api_token": "{SERVICE_TOKEN}"}}]
        c.JupyterHub.load_roles = [
            {{
                "name": "platform",
                "scopes": ["tokens", "admin:users", "admin:servers"],
                "services": ["platform"],
            }}
        ]
    """)


def wait_for(probe, what: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for: {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    """A hub on free 127.0.0.1 ports with users alice and bob, and alice's server running."""
    pytest.importorskip("jupyterhub", reason="needs JupyterHub: pip install jupyterhub==6.1.1")
    if shutil.which("configurable-http-proxy") is None:
        pytest.skip("needs the npm configurable-http-proxy: npm i -g configurable-http-proxy@5.3.0")
    tmp = tmp_path_factory.mktemp("hub")
    ports = free_port(), free_port(), free_port()
    (tmp / "jupyterhub_config.py").write_text(hub_config(tmp, *ports))
    log = (tmp / "hub.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterhub", "-f", str(tmp / "jupyterhub_config.py")],
        cwd=tmp,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    running = RunningHub(f"http://127.0.0.1:{ports[0]}/jhub/")
    try:

        def answers() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"the hub exited: {(tmp / 'hub.log').read_text()[-3000:]}")
            try:
                return running.api("GET", "", SERVICE_TOKEN)[0] == 200
            except OSError:
                return False

        wait_for(answers, "the hub's API through the proxy", 60)
        status, answer = running.api("POST", "users/alice/server", SERVICE_TOKEN)
        assert status in (201, 202), answer
        wait_for(
            lambda: running.api("GET", "users/alice", SERVICE_TOKEN)[1].get("server"),
            "alice's server to be ready",
            90,
        )
        yield running
    finally:
        stop_process(process)
        log.close()
        # The hub stops its proxy on exit; the pid file names it if it did not.
        pid_file = tmp / "jupyterhub-proxy.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGTERM)


def connect(*args: str, token: str | None) -> subprocess.CompletedProcess[str]:
    """Run the CLI as a person would, with the asking token only in the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTERHUB_", "JUPYTER_"))}
    env["PYTHONPATH"] = str(CHECKOUT)
    if token is not None:
        env["JUPYTERHUB_API_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "jupyter_mcp_ext.hub.connect", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def list_tools(url: str, authorization: str) -> list[str]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": authorization}, timeout=30) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        return [tool.name for tool in (await client.list_tools()).tools]


async def test_printed_config_reaches_the_users_server_with_a_token_scoped_to_it(hub):
    run = connect("--hub-url", hub.url, "--user", "alice", "--json", token=SERVICE_TOKEN)
    assert run.returncode == 0, run.stderr
    printed = json.loads(run.stdout)
    url, token = printed["url"], printed["token"]
    assert url == f"{hub.url}user/alice/mcp"
    assert token not in url
    assert printed["claude_code"] == (
        f'claude mcp add --transport http jupyter {url} --header "Authorization: Bearer {token}"'
    )
    server = printed["mcp_json"]["mcpServers"]["jupyter"]
    assert server == {"type": "http", "url": url, "headers": {"Authorization": f"Bearer {token}"}}

    tools = await list_tools(server["url"], server["headers"]["Authorization"])
    assert "insert_execute_code_cell" in tools

    status, me = hub.api("GET", "user", token)
    assert status == 200 and me["name"] == "alice"
    # Besides access to her server, only what the hub gives every token: her own name and groups.
    assert set(me["scopes"]) == {
        "access:servers!user=alice",
        "read:users:name!user=alice",
        "read:users:groups!user=alice",
    }
    assert printed["expires_at"] is not None
    # The token can do nothing else on the hub: not even create tokens or read bob.
    assert hub.api("GET", "users/bob", token)[0] in (403, 404)
    assert hub.api("POST", "users/alice/tokens", token, {})[0] == 403


async def test_the_users_own_token_creates_the_config_and_the_text_form_is_ready_to_paste(hub):
    run = connect(
        "--hub-url", hub.url.rstrip("/"), "--user", "alice", "--expires-in", "600",
        token=hub.user_token("alice"),
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    url = f"{hub.url}user/alice/mcp"
    assert f"MCP URL: {url}" in run.stdout
    command = next(line.strip() for line in run.stdout.splitlines() if "claude mcp add" in line)
    assert command.startswith(f"claude mcp add --transport http jupyter {url} --header ")
    authorization = command.split("--header ", 1)[1].strip('"').split(": ", 1)[1]
    assert "insert_execute_code_cell" in await list_tools(url, authorization)
    block = json.loads(run.stdout[run.stdout.index("{") :])
    assert block["mcpServers"]["jupyter"]["headers"]["Authorization"] == authorization


async def test_a_user_makes_a_token_for_their_agent_from_their_own_jupyterlab(hub):
    async with httpx2.AsyncClient(
        headers={"Authorization": f"token {hub.user_token('alice')}"}
    ) as http:
        described = await http.get(f"{hub.url}user/alice/mcp/connect")
        created = await http.post(f"{hub.url}user/alice/mcp/connect")
    assert described.json() == {
        "mcp_path": "/jhub/user/alice/mcp",
        "hub": {
            "user": "alice",
            "scope": "access:servers!server=alice/",
            "token_page": "/jhub/hub/token",
        },
    }
    assert created.status_code == 201, created.text
    assert created.headers["Cache-Control"] == "no-store"
    token = created.json()["token"]
    status, me = hub.api("GET", "user", token)
    assert status == 200 and set(me["scopes"]) == {
        "access:servers!server=alice/",
        "read:users:name!user=alice",
        "read:users:groups!user=alice",
    }
    assert created.json()["expires_at"] is not None
    assert "insert_execute_code_cell" in await list_tools(
        f"{hub.url}user/alice/mcp", f"Bearer {token}"
    )


async def test_another_users_token_on_a_users_mcp_url_is_told_which_token_would_do(hub):
    headers = {"Authorization": f"Bearer {hub.user_token('bob')}", "Accept": "application/json"}
    async with httpx2.AsyncClient(headers=headers) as http:
        refused = await http.post(f"{hub.url}user/alice/mcp", json={})
    assert refused.status_code == 401
    message = refused.json()["message"]
    assert "belongs to 'alice' on a JupyterHub" in message
    assert "access:servers!server=alice/" in message and "/jhub/hub/token" in message


def test_another_users_token_is_refused_with_what_token_would_do(hub):
    run = connect("--hub-url", hub.url, "--user", "alice", token=hub.user_token("bob"))
    assert run.returncode == 1
    assert run.stdout == ""
    assert "HTTP 403" in run.stderr and "$JUPYTERHUB_API_TOKEN" in run.stderr
    assert "tokens!user=alice" in run.stderr and "Traceback" not in run.stderr


def test_a_stopped_server_is_named_in_a_note(hub):
    run = connect("--hub-url", hub.url, "--user", "bob", token=SERVICE_TOKEN)
    assert run.returncode == 0, run.stderr
    assert f"MCP URL: {hub.url}user/bob/mcp" in run.stdout
    assert "bob's server is not running" in run.stdout


def test_a_url_that_is_not_the_hub_says_so(hub):
    wrong = hub.url.replace("/jhub/", "/")
    run = connect("--hub-url", wrong, "--user", "alice", token=SERVICE_TOKEN)
    assert run.returncode == 1
    assert f"no JupyterHub API at {wrong}hub/api/" in run.stderr


def test_without_a_token_it_says_where_to_put_one(hub):
    run = connect("--hub-url", hub.url, "--user", "alice", token=None)
    assert run.returncode == 1
    assert "set $JUPYTERHUB_API_TOKEN" in run.stderr


def test_on_a_plain_server_it_prints_the_servers_own_mcp_url():
    run = connect("--server-url", "http://127.0.0.1:8888/base", token=None)
    assert run.returncode == 0, run.stderr
    assert "MCP URL: http://127.0.0.1:8888/base/mcp" in run.stdout
    assert (
        "claude mcp add --transport http jupyter http://127.0.0.1:8888/base/mcp "
        '--header "Authorization: Bearer <token>"'
    ) in run.stdout


def test_bad_arguments_are_named():
    assert (
        "must be an http(s) URL"
        in connect("--hub-url", "hub.example.com", "--user", "a", token="t").stderr
    )
    assert (
        "--expires-in: must be a whole number of seconds > 0, not '0'"
        in connect(
            "--hub-url", "http://127.0.0.1:9/", "--user", "a", "--expires-in", "0", token="t"
        ).stderr
    )
    assert "--user is required" in connect("--hub-url", "http://127.0.0.1:9/", token="t").stderr
