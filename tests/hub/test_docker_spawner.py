"""The Docker deployment (deploy/jupyterhub/docker) for real: a JupyterHub process with the npm
configurable-http-proxy and DockerSpawner, one container per user from the single-user image built
from this checkout, agents speaking MCP through the hub's proxy — all on 127.0.0.1 (the containers
use the host's network).

Needs a Docker daemon (started here when dockerd is installed and none runs, and stopped after)
and the images (deploy/jupyterhub/docker/build-images.sh: the debootstrap base once, then cached).
Every container and volume the hub made is removed at the end, by id and by name.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from support import MCP_ACCEPT, eventually, free_port, initialize_request, stop_process

CHECKOUT = Path(__file__).resolve().parents[2]
DOCKER_DIR = CHECKOUT / "deploy" / "jupyterhub" / "docker"
IMAGE = "jupyter-mcp-ext/singleuser:test"
SCIPY_IMAGE = "jupyter-mcp-ext/singleuser-scipy:test"
MEM_LIMIT = 256 * 1024 * 1024
NOTEBOOKS = "/home/jovyan/work"

# Building the images from nothing (debootstrap, wheels) takes minutes; the first test pays it.
pytestmark = pytest.mark.timeout(900)


def docker(*args: str, check: bool = True, timeout: float = 120) -> str:
    """Run the docker CLI; its stdout."""
    done = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def daemon_answers() -> bool:
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


@pytest.fixture(scope="session")
def docker_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A Docker daemon to talk to: the running one, or dockerd started here and stopped after."""
    if shutil.which("docker") is None:
        pytest.skip("no docker client (Debian: apt-get install docker.io)")
    if daemon_answers():
        yield
        return
    if shutil.which("dockerd") is None or os.geteuid() != 0:
        pytest.skip("no Docker daemon answers, and dockerd cannot be started here (needs root)")
    log = tmp_path_factory.mktemp("dockerd") / "dockerd.log"
    with log.open("wb") as out:
        dockerd = subprocess.Popen(["dockerd"], stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not daemon_answers():
            if dockerd.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:]
                pytest.skip(f"dockerd did not come up; its log ends with:\n{tail}")
            time.sleep(0.5)
        yield
    finally:
        stop_process(dockerd, timeout=60)


@pytest.fixture(scope="session")
def images(docker_daemon: None) -> dict[str, str]:
    """The single-user images of this checkout, built by the deployment's own script (cached)."""
    env = dict(os.environ, IMAGE=IMAGE, SCIPY_IMAGE=SCIPY_IMAGE)
    started = time.monotonic()
    built = subprocess.run(
        ["bash", str(DOCKER_DIR / "build-images.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=840,
        check=False,
    )
    if built.returncode != 0:
        output = (built.stdout + built.stderr)[-3000:]
        base = os.environ.get("LOCAL_BASE", "jupyter-mcp-ext/base:bookworm")
        if docker("image", "inspect", base, check=False) in ("", "[]\n"):
            pytest.skip(f"the local base image could not be built (debootstrap):\n{output}")
        pytest.fail(f"build-images.sh failed:\n{output}")
    print(f"\n[figure] build-images.sh took {time.monotonic() - started:.0f} s")
    return {"Python": IMAGE, "SciPy (numpy, pandas)": SCIPY_IMAGE}


class Hub:
    """A running JupyterHub: its public URL and REST API (with an admin service's token)."""

    def __init__(self, url: str, token: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        self.http = httpx2.Client(
            base_url=f"{url}/hub/api", headers={"Authorization": f"token {token}"}, timeout=60
        )

    def api(self, method: str, path: str, **kwargs: Any) -> httpx2.Response:
        return self.http.request(method, path, **kwargs)

    def container(self, user: str) -> dict[str, Any]:
        """``docker inspect`` of the user's container."""
        return json.loads(docker("inspect", f"{self.prefix}-{user}"))[0]

    def start(self, user: str, **options: Any) -> None:
        """Start the user's server and wait until the hub routes to it."""
        self.api("POST", f"/users/{user}")  # 201, or 409 when the user exists
        started = self.api("POST", f"/users/{user}/server", json=options)
        assert started.status_code in (201, 202), started.text
        deadline = time.monotonic() + 120
        while not self.api("GET", f"/users/{user}").json()["servers"].get("", {}).get("ready"):
            assert time.monotonic() < deadline, f"{user}'s server did not become ready in 120 s"
            time.sleep(0.5)

    def stop(self, user: str) -> None:
        stopped = self.api("DELETE", f"/users/{user}/server")
        assert stopped.status_code in (202, 204), stopped.text
        deadline = time.monotonic() + 60
        while self.api("GET", f"/users/{user}").json()["servers"]:
            assert time.monotonic() < deadline, f"{user}'s server did not stop in 60 s"
            time.sleep(0.5)

    def token(self, user: str) -> str:
        """A token that reaches only the user's own server, as a user makes for their agent."""
        made = self.api(
            "POST",
            f"/users/{user}/tokens",
            json={"scopes": [f"access:servers!user={user}"], "expires_in": 3600, "note": "agent"},
        )
        assert made.status_code == 201, made.text
        return made.json()["token"]

    def mcp_url(self, user: str) -> str:
        return f"{self.url}/user/{user}/mcp"


def hub_config(prefix: str, ports: dict[str, int], images: dict[str, str], token: str) -> str:
    """The production config with what a test changes: login without passwords, free ports, small
    memory limits, names of its own, and an admin service to drive the REST API."""
    return f"""
load_subconfig({str(DOCKER_DIR / "jupyterhub_config.py")!r})
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allow_all = True
c.JupyterHub.bind_url = "http://127.0.0.1:{ports["public"]}"
c.JupyterHub.hub_port = {ports["hub"]}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{ports["proxy_api"]}"
c.DockerSpawner.image = {images["Python"]!r}
c.DockerSpawner.allowed_images = {images!r}
# "greedy" asks for more memory than any host has: admission must refuse it.
c.DockerSpawner.mem_limit = lambda spawner: (
    1 << 50 if spawner.user.name == "greedy" else {MEM_LIMIT}
)
c.DockerSpawner.prefix = {prefix!r}
c.DockerSpawner.volumes = {{{prefix + "-{username}"!r}: {NOTEBOOKS!r}}}
c.JupyterHub.services.append({{"name": "test-admin", "api_token": {token!r}}})
c.JupyterHub.load_roles.append(
    {{
        "name": "test-admin",
        "scopes": ["admin:users", "admin:servers", "tokens", "list:users"],
        "services": ["test-admin"],
    }}
)
"""


@pytest.fixture(scope="session")
def hub(images: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """JupyterHub with the Docker deployment's config, on free loopback ports. At the end every
    server is stopped and every container and volume named with this run's prefix removed."""
    if shutil.which("configurable-http-proxy") is None:
        pytest.skip("no configurable-http-proxy (npm install -g configurable-http-proxy@5.3.0)")
    pytest.importorskip("dockerspawner", reason="pip install dockerspawner")
    run = tmp_path_factory.mktemp("docker-hub")
    prefix = f"mcptest-{secrets.token_hex(3)}"
    ports = {"public": free_port(), "hub": free_port(), "proxy_api": free_port()}
    ports["gateway"] = free_port()
    token = secrets.token_hex(16)
    (run / "jupyterhub_config.py").write_text(hub_config(prefix, ports, images, token))
    env = dict(
        os.environ,
        PYTHONPATH=str(CHECKOUT),
        MCP_HUB_PUBLIC_URL=f"http://127.0.0.1:{ports['public']}/",
        MCP_GATEWAY_PORT=str(ports["gateway"]),
    )
    log = (run / "hub.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterhub", "-f", str(run / "jupyterhub_config.py")],
        cwd=run,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    running = Hub(f"http://127.0.0.1:{ports['public']}", token, prefix)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx2.HTTPError):
                if running.api("GET", "/").status_code == 200:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the hub did not start:\n{(run / 'hub.log').read_text()}")
            time.sleep(0.3)
        yield running
    finally:
        with contextlib.suppress(httpx2.HTTPError):
            for user in running.api("GET", "/users").json():
                if user["servers"]:
                    running.api("DELETE", f"/users/{user['name']}/server")
        stop_process(process)
        log.close()
        running.http.close()
        for container in docker("ps", "-aq", "--filter", f"name=^{prefix}-").split():
            docker("rm", "--force", container)
        for volume in docker("volume", "ls", "-q", "--filter", f"name=^{prefix}-").split():
            docker("volume", "rm", "--force", volume)


@contextlib.asynccontextmanager
async def mcp(url: str, token: str) -> AsyncIterator[Client]:
    """The MCP SDK client at ``url`` with a hub token, as an agent connects through the hub."""
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=120) as http,
        Client(streamable_http_client(url, http_client=http)) as client,
    ):
        yield client


async def call(client: Client, name: str, **arguments: Any) -> Any:
    """A tool call that must succeed; its structured result."""
    result = await client.call_tool(name, arguments)
    assert not result.is_error, result.content[0].text
    return result.structured_content


def texts(result: dict[str, Any]) -> str:
    return "".join(output.get("text", "") for output in result["outputs"])


@pytest.fixture(scope="session")
def users(hub: Hub) -> dict[str, str]:
    """alice and bob, each with a running server and a token for their agent. Prints how long a
    cold start takes to the first answered MCP call, and an idle server's memory."""
    tokens = {}
    for user in ("alice", "bob"):
        started = time.monotonic()
        hub.start(user)
        tokens[user] = hub.token(user)

        async def first_call(user: str = user) -> None:
            async with mcp(hub.mcp_url(user), tokens[user]) as client:
                await call(client, "list_files")

        asyncio.run(first_call())
        print(
            f"\n[figure] {user}: cold start to first MCP answer {time.monotonic() - started:.1f} s"
        )
    stats = docker("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}")
    for line in stats.splitlines():
        if line.startswith(hub.prefix):
            print(f"[figure] idle server with the extension, no kernel: {line}")
    return tokens


def test_each_user_gets_a_container_of_their_own_with_the_memory_limit(hub, users):
    alice, bob = hub.container("alice"), hub.container("bob")

    assert alice["Id"] != bob["Id"]
    for container, user in ((alice, "alice"), (bob, "bob")):
        assert container["State"]["Running"], container["State"]
        assert container["Config"]["Image"] == IMAGE
        assert container["HostConfig"]["Memory"] == MEM_LIMIT
        assert container["HostConfig"]["CpuQuota"] == container["HostConfig"]["CpuPeriod"]
        assert container["HostConfig"]["NetworkMode"] == "host"
        (mount,) = container["Mounts"]
        assert (mount["Type"], mount["Name"], mount["Destination"]) == (
            "volume",
            f"{hub.prefix}-{user}",
            NOTEBOOKS,
        )


async def test_an_agent_edits_and_runs_a_notebook_in_its_users_own_server(hub, users):
    for user in ("alice", "bob"):
        async with mcp(hub.mcp_url(user), users[user]) as client:
            await call(client, "create_notebook", notebook_path="whoami.ipynb")
            await call(
                client, "insert_cell", notebook_path="whoami.ipynb", cell_index=0, source="1"
            )
            await call(
                client,
                "overwrite_cell_source",
                notebook_path="whoami.ipynb",
                cell_index=0,
                source="import os\nprint(os.environ['JUPYTERHUB_USER'])",
            )
            ran = await call(client, "execute_cell", notebook_path="whoami.ipynb", cell_index=0)

        assert ran["status"] == "ok" and texts(ran) == f"{user}\n", ran
        on_disk = await eventually(
            lambda user=user: json.loads(
                docker("exec", f"{hub.prefix}-{user}", "cat", f"{NOTEBOOKS}/whoami.ipynb")
            ),
            f"{user}'s edited and executed cell saved in their volume",
            until=lambda nb: nb["cells"] and nb["cells"][0]["outputs"],
            timeout=15,
            interval=0.5,
            ignoring=(AssertionError, ValueError),
        )
        assert "".join(on_disk["cells"][0]["source"]).endswith("['JUPYTERHUB_USER'])")


def test_a_users_token_is_refused_on_another_users_server(hub, users):
    def post(user: str, token: str) -> httpx2.Response:
        return httpx2.post(
            hub.mcp_url(user),
            json=initialize_request(),
            headers={"Accept": MCP_ACCEPT, "Authorization": f"Bearer {token}"},
            timeout=30,
        )

    assert post("alice", users["alice"]).status_code == 200
    refused = post("alice", users["bob"])
    # 401 from alice's server: bob's token does not authenticate anyone there.
    assert refused.status_code in (401, 403), refused.text
    assert "serverInfo" not in refused.text


async def test_a_users_server_cannot_see_another_users_files(hub, users):
    async with mcp(hub.mcp_url("bob"), users["bob"]) as client:
        await call(client, "create_notebook", notebook_path="bob-only.ipynb")
    async with mcp(hub.mcp_url("alice"), users["alice"]) as client:
        listed = await call(client, "list_files", max_depth=10)

    # As root in alice's container: not even its superuser finds bob's notebook anywhere.
    found_in_alices_container = docker(
        "exec",
        "--user",
        "root",
        f"{hub.prefix}-alice",
        "find",
        "/",
        "-path",
        "/proc",
        "-prune",
        "-o",
        "-name",
        "bob-only.ipynb",
        "-print",
    )
    assert "bob-only.ipynb" not in [f["path"] for f in listed["files"]]
    assert found_in_alices_container == ""
    assert "bob-only.ipynb" in docker("exec", f"{hub.prefix}-bob", "ls", NOTEBOOKS)


async def test_a_cell_past_the_memory_limit_kills_the_kernel_and_the_server_carries_on(hub, users):
    container = hub.container("alice")["Id"]
    async with mcp(hub.mcp_url("alice"), users["alice"]) as client:
        await call(client, "create_notebook", notebook_path="oom.ipynb")
        await call(client, "insert_execute_code_cell", notebook_path="oom.ipynb", source="x = 1")
        killed = await client.call_tool(
            "insert_execute_code_cell",
            {
                "notebook_path": "oom.ipynb",
                # Written byte by byte: the pages are really taken, unlike a zeroed allocation.
                "source": "hog = b'x' * (1 << 30)",
                "timeout": 120,
            },
        )
        await call(client, "restart_kernel", notebook_path="oom.ipynb")
        alive = await call(
            client, "insert_execute_code_cell", notebook_path="oom.ipynb", source="print('alive')"
        )
        cells = (await call(client, "read_all_cells", notebook_path="oom.ipynb"))["cells"]

    message = "\n".join(c.text for c in killed.content if c.type == "text")
    assert killed.structured_content["status"] == "died", message
    assert "died" in message and "memory" in message, message
    assert alive["status"] == "ok" and texts(alive) == "alive\n"
    assert [c["source"] for c in cells] == ["x = 1", "hog = b'x' * (1 << 30)", "print('alive')"]
    assert hub.container("alice")["Id"] == container  # the same server, not a new container


async def test_the_scipy_template_starts_its_image_and_the_volume_outlives_the_container(
    hub, images
):
    hub.start("carol", image="SciPy (numpy, pandas)")
    container = hub.container("carol")
    token = hub.token("carol")
    async with mcp(hub.mcp_url("carol"), token) as client:
        await call(client, "create_notebook", notebook_path="frame.ipynb")
        ran = await call(
            client,
            "insert_execute_code_cell",
            notebook_path="frame.ipynb",
            source="import pandas as pd\nprint(pd.DataFrame({'a': [1, 2]})['a'].sum())",
        )
    hub.stop("carol")

    assert container["Config"]["Image"] == SCIPY_IMAGE
    assert ran["status"] == "ok" and texts(ran) == "3\n", ran
    # remove=True: the container is gone; the notebook stays in carol's volume for her next start.
    assert docker("ps", "-aq", "--filter", f"id={container['Id']}") == ""
    kept = docker(
        "run",
        "--rm",
        "--volume",
        f"{hub.prefix}-carol:/data",
        "--entrypoint",
        "ls",
        images["Python"],
        "/data",
    )
    assert "frame.ipynb" in kept.split()


def test_admission_refuses_a_server_the_host_has_no_memory_for(hub, images):
    pytest.importorskip(
        "jupyter_mcp_ext.hub.admission", reason="the admission hook is not in this checkout"
    )
    hub.api("POST", "/users/greedy")
    refused = hub.api("POST", "/users/greedy/server")

    assert refused.status_code == 503, refused.text
    assert "memory" in refused.json()["message"].lower(), refused.text
    assert docker("ps", "-aq", "--filter", f"name=^{hub.prefix}-greedy$") == ""


async def test_an_agent_on_the_gateway_url_gets_its_users_container_started_and_works_in_it(hub):
    hub.api("POST", "/users/carol")  # 201, or 409 when the user exists
    token = hub.token("carol")
    assert not hub.api("GET", "/users/carol").json()["servers"]

    async with mcp(f"{hub.url}/services/mcp/", token) as client:
        await call(client, "create_notebook", notebook_path="via-gateway.ipynb")
        ran = await call(
            client,
            "insert_execute_code_cell",
            notebook_path="via-gateway.ipynb",
            cell_index=0,
            source="import os\nprint(os.environ['JUPYTERHUB_USER'])",
        )

    assert texts(ran) == "carol\n", ran
    assert hub.container("carol")["State"]["Running"]
    hub.stop("carol")
