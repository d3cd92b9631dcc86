"""Cost of serving MCP through JupyterHub: the local demo hub (deploy/jupyterhub/local) with the npm
configurable-http-proxy and N users' servers running this checkout's extension, all on 127.0.0.1.

It starts the hub in a temporary directory (the demo's configuration, with N benchmark users and
capacity limits raised through its MCP_HUB_* settings), drives it through its REST API as a
platform service, and measures:

1. Cold start: time from POST /hub/api/users/<u>/server to the first answered MCP call through
   the proxy, per user (users started in batches of ``--batch``; median and max over users).
2. Idle memory: RSS of each user's server process tree once started and idle (the extension
   loaded, one MCP call answered, no kernel yet).
3. Proxy overhead: ``tools/call`` of a cheap read tool (``list_notebooks``) over one MCP session
   through the hub's proxy vs one directly to the same user's server (127.0.0.1:<its port>) with
   the same hub token, in rotated rounds: median, p95 and the overhead in ms and as a ratio.
4. Load: N users x 2 agents, each agent its own MCP session through the proxy and its own
   notebook, doing edit + execute (append_code_cell, then insert_execute_code_cell of tiny code)
   for D seconds: calls/s, errors (target 0), latency median/p95, the CPU seconds and peak RSS of
   the hub and the proxy, and the CPU seconds of users' servers and kernels and of the agents.
   Before the window each agent starts its notebook's kernel (``--kernel-batch`` at a time).

Every process started (hub, proxy, culler, users' servers, kernels) is stopped by PID at the end,
and the run checks that none is left.

Usage::

    python benchmarks/bench_hub.py                   # 20 users x 2 agents for 60 s, n=200
    python benchmarks/bench_hub.py --users 10 --duration 30
    python benchmarks/bench_hub.py --quick           # a smoke run: 2 users, 5 s, 30 calls
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from harness import (
    Row,
    Verdicts,
    cpu_of,
    free_port,
    parse_args,
    print_machine,
    print_table,
    rotated_rounds,
    text_of,
    tool_ok,
)
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

REPO = Path(__file__).resolve().parents[1]
DEMO_CONFIG = REPO / "deploy" / "jupyterhub" / "local" / "jupyterhub_config.py"
READ_TOOL = ("list_notebooks", {})
AGENTS_PER_USER = 2  # in the load, unless --agents says otherwise


# -- processes -------------------------------------------------------------------------------


def _stat(pid: int) -> list[str] | None:
    try:
        # comm may hold spaces and parentheses: the fields follow its closing ')'.
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def descendants(pid: int) -> list[int]:
    """Every process started by ``pid`` and by them (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            parents.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"


def rss_mb(pid: int, key: str = "VmRSS") -> float:
    """A memory figure of /proc/<pid>/status in MB (VmRSS: now; VmHWM: the peak); 0 if gone."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def cmdline(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    return ""


def server_url(pid: int) -> str:
    """The loopback URL a user's server listens on (JUPYTERHUB_SERVICE_URL in its environment)."""
    for item in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
        if item.startswith(b"JUPYTERHUB_SERVICE_URL="):
            return item.split(b"=", 1)[1].decode().rstrip("/") + "/"
    raise RuntimeError(f"process {pid} has no JUPYTERHUB_SERVICE_URL: not a user's server")


def stop_all(pids: list[int], grace: float = 30.0) -> list[int]:
    """SIGTERM to each, SIGKILL after ``grace`` s to those left; the PIDs that needed SIGKILL."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    killed = [pid for pid in pids if alive(pid)]
    for pid in killed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return killed


# -- the hub ---------------------------------------------------------------------------------


@dataclass
class Hub:
    """The hub process, what it started, and users' servers (which outlive it on purpose:
    ``cleanup_servers = False``)."""

    state: Path
    users: list[str]
    port: int = field(default_factory=free_port)
    gateway_port: int = field(default_factory=free_port)  # the MCP gateway service's
    token: str = field(default_factory=lambda: secrets.token_hex(16))  # the platform service's
    process: subprocess.Popen[bytes] | None = None
    servers: dict[str, int] = field(default_factory=dict)  # user -> server PID

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def gateway_url(self) -> str:
        return f"{self.url}services/mcp/"

    def start(self, spawn_limit: int, **extra: str) -> None:
        """Start the demo hub with the benchmark's users and limits; ``extra`` settings (MCP_HUB_*
        without the prefix) add to them or replace them."""
        settings = {
            "USERS": ",".join(self.users),
            "PLATFORM_TOKEN": self.token,
            "PORT": str(self.port),
            "GATEWAY_PORT": str(self.gateway_port),
            "ACTIVE_SERVER_LIMIT": str(len(self.users) + 1),
            "CONCURRENT_SPAWN_LIMIT": str(spawn_limit),
            "IDLE_TIMEOUT": "3600",  # no culling during the run
            "MEM_LIMIT": "256M",
            **extra,
        }
        env = {
            **os.environ,
            # Users' servers import this checkout's extension (the spawner passes PYTHONPATH on).
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            **{f"MCP_HUB_{name}": value for name, value in settings.items()},
        }
        with open(self.state / "hub.log", "wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "jupyterhub",
                    "-f",
                    str(DEMO_CONFIG),
                    f"--JupyterHub.hub_port={free_port()}",
                    f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{free_port()}",
                ],
                cwd=self.state,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 120
        while "JupyterHub is now running" not in self.log():
            if self.process.poll() is not None:
                raise RuntimeError(f"the hub exited ({self.process.returncode}):\n{self.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the hub did not start within 120 s:\n{self.log()}")
            time.sleep(0.2)

    def log(self, tail: int = 0) -> str:
        text = (self.state / "hub.log").read_text(errors="replace")
        return "\n".join(text.splitlines()[-tail:]) if tail else text

    def proxy_pid(self) -> int:
        assert self.process is not None
        for pid in descendants(self.process.pid):
            if "configurable-http-proxy" in cmdline(pid):
                return pid
        raise RuntimeError("the hub runs no configurable-http-proxy")

    def api(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(
            base_url=f"{self.url}hub/api/",
            headers={"Authorization": f"token {self.token}"},
            timeout=120,
        )

    async def user_token(self, user: str) -> str:
        """A token reaching only ``user``'s own server, as a user makes for an agent."""
        async with self.api() as http:
            response = await http.post(
                f"users/{user}/tokens",
                json={"scopes": [f"access:servers!user={user}"], "expires_in": 7200},
            )
        if response.status_code != 201:
            raise RuntimeError(f"token for {user}: {response.status_code} {response.text}")
        return response.json()["token"]

    async def server_pid(self, user: str) -> int:
        async with self.api() as http:
            response = await http.get(f"users/{user}")
        response.raise_for_status()
        pid = response.json()["servers"][""]["state"]["pid"]
        self.servers[user] = pid
        return pid

    def close(self) -> list[str]:
        """Stop users' servers (they stop their kernels), then the hub (its proxy and culler),
        by PID; what was left after SIGTERM, and what is still running at the end."""
        problems = []
        servers = [pid for pid in self.servers.values() if "jupyterhub-singleuser" in cmdline(pid)]
        trees = {pid: descendants(pid) for pid in servers}
        for pid in stop_all(servers):
            problems.append(f"server {pid} needed SIGKILL")
        kernels = [child for tree in trees.values() for child in tree]
        for pid in stop_all(kernels, grace=5):
            problems.append(f"process {pid} of a server ({cmdline(pid)[:60]}) outlived it")
        if self.process is not None and self.process.poll() is None:
            started = descendants(self.process.pid)
            for pid in stop_all([self.process.pid]):
                problems.append(f"the hub {pid} needed SIGKILL")
            self.process.wait()
            for pid in stop_all(started, grace=10):
                problems.append(f"process {pid} of the hub ({cmdline(pid)[:60]}) outlived it")
        everything = [*servers, *kernels]
        if self.process is not None:
            everything.append(self.process.pid)
        problems += [f"process {pid} still runs" for pid in everything if alive(pid)]
        return problems


@contextlib.asynccontextmanager
async def mcp_session(url: str, token: str, mode: str) -> AsyncIterator[Client]:
    """The official MCP SDK client on ``url`` with a hub token, as an agent connects."""
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=300) as http,
        Client(streamable_http_client(url, http_client=http), mode=mode) as client,
    ):
        yield client


# -- 1. cold start ---------------------------------------------------------------------------


async def cold_start(hub: Hub, user: str, token: str, mode: str, limit: float) -> float:
    """Seconds from the start request to the first answered MCP call through the proxy."""
    t0 = time.perf_counter()
    async with hub.api() as http:
        response = await http.post(f"users/{user}/server")
    if response.status_code not in (201, 202):
        raise RuntimeError(f"start of {user}: {response.status_code} {response.text}")
    last: BaseException | None = None
    while time.perf_counter() - t0 < limit:
        try:
            async with mcp_session(f"{hub.url}user/{user}/mcp", token, mode) as client:
                tool_ok(await client.call_tool(*READ_TOOL))
            return time.perf_counter() - t0
        except Exception as error:  # not up yet: the hub answers for the server until it is
            last = error
            await asyncio.sleep(0.25)
    raise RuntimeError(f"{user}'s server answered no MCP call within {limit:.0f} s: {last!r}")


async def start_users(
    hub: Hub, tokens: dict[str, str], args: argparse.Namespace
) -> dict[str, float]:
    times: dict[str, float] = {}
    for i in range(0, len(hub.users), args.batch):
        batch = hub.users[i : i + args.batch]
        took = await asyncio.gather(
            *(cold_start(hub, u, tokens[u], args.mode, args.start_timeout) for u in batch)
        )
        times.update(zip(batch, took, strict=True))
        print(f"  started {', '.join(batch)}: {', '.join(f'{t:.1f}' for t in took)} s", flush=True)
    for user in hub.users:
        await hub.server_pid(user)
    return times


# -- 3. proxy overhead -----------------------------------------------------------------------


async def overhead(hub: Hub, user: str, token: str, args: argparse.Namespace) -> None:
    pid = hub.servers[user]
    direct_url = server_url(pid) + "mcp"
    proxy_url = f"{hub.url}user/{user}/mcp"
    print(f"  direct: {direct_url}\n  proxy:  {proxy_url}", flush=True)
    async with (
        mcp_session(direct_url, token, args.mode) as direct,
        mcp_session(proxy_url, token, args.mode) as proxied,
    ):
        rows = {
            "direct": Row(
                f"BASE: {READ_TOOL[0]} direct to the server",
                lambda _: direct.call_tool(*READ_TOOL),
                tool_ok,
            ),
            "proxy": Row(
                f"{READ_TOOL[0]} through the hub's proxy",
                lambda _: proxied.call_tool(*READ_TOOL),
                tool_ok,
            ),
        }
        blocks = await rotated_rounds(
            rows, n=args.n, rounds=args.rounds, warmup=args.warmup, server_pid=pid
        )
    base, via = blocks["direct"], blocks["proxy"]
    print()
    print_table([base, via], base, "the direct call")
    print(
        f"Proxy overhead: {via.median - base.median:+.2f} ms median "
        f"({via.median / base.median:.2f} x), {via.p95 - base.p95:+.2f} ms p95 "
        f"({via.p95 / base.p95:.2f} x); n={len(base.times_ms)} each"
    )


# -- 4. load ---------------------------------------------------------------------------------


@dataclass
class Start:
    """The agents' common window: each says when it is ready; all begin together.

    Kernels start a few at a time: each picks free TCP ports before it binds them, so dozens
    starting at once on one host can pick the same port, and a kernel that loses fails to start.
    """

    kernel_starts: asyncio.Semaphore
    go: asyncio.Event = field(default_factory=asyncio.Event)
    ready: int = 0
    end: float = 0.0


@dataclass
class AgentRun:
    calls: int = 0
    errors: list[str] = field(default_factory=list)
    times_ms: list[float] = field(default_factory=list)


async def agent(
    url: str, user: str, token: str, k: int, args: argparse.Namespace, start: Start
) -> AgentRun:
    """One agent on MCP ``url``: its notebook and kernel ready first, then edit + execute until
    the end."""
    run = AgentRun()
    path = f"agent-{k}.ipynb"
    async with mcp_session(url, token, args.mode) as client:
        tool_ok(await client.call_tool("create_notebook", {"notebook_path": path}))
        async with start.kernel_starts:
            tool_ok(
                await client.call_tool(
                    "insert_execute_code_cell", {"notebook_path": path, "source": "0"}
                )
            )  # starts the kernel
        start.ready += 1
        await start.go.wait()
        i = 0
        while time.perf_counter() < start.end:
            i += 1
            for tool, source, expect in (
                ("append_code_cell", f"x = {i}", None),
                ("insert_execute_code_cell", f"{i} + 1", str(i + 1)),
            ):
                t0 = time.perf_counter()
                try:
                    result = await client.call_tool(tool, {"notebook_path": path, "source": source})
                    tool_ok(result)
                    if expect is not None:
                        outputs = result.structured_content["outputs"]
                        if "".join(str(o.get("text", "")) for o in outputs) != expect:
                            raise RuntimeError(f"expected {expect}: {text_of(result)[:200]}")
                except Exception as error:
                    run.errors.append(f"{user}/{path} {tool}: {error!r}"[:300])
                run.times_ms.append((time.perf_counter() - t0) * 1000)
                run.calls += 1
    return run


def tree_cpu(pids: list[int]) -> float:
    return cpu_of([p for pid in pids for p in (pid, *descendants(pid))])


async def load(
    hub: Hub,
    tokens: dict[str, str],
    args: argparse.Namespace,
    url_of: Callable[[str], str],
    watched: dict[str, int],
) -> dict[str, Any]:
    """The agents' run on ``url_of(user)``; CPU and RSS of the ``watched`` processes (by name)."""
    start = Start(asyncio.Semaphore(args.kernel_batch))
    agents = [
        asyncio.create_task(agent(url_of(u), u, tokens[u], k, args, start))
        for u in hub.users
        for k in range(args.agents)
    ]
    while start.ready < len(agents):
        if failed := [a for a in agents if a.done()]:
            await failed[0]  # raises the agent's error
            raise RuntimeError("an agent ended before the start")
        await asyncio.sleep(0.1)
    print(f"  {len(agents)} agents ready (each its notebook and kernel); go", flush=True)
    servers = list(hub.servers.values())
    cpu0 = {name: cpu_of([pid]) for name, pid in watched.items()}
    cpu0["servers"] = tree_cpu(servers)
    client0, t0 = time.process_time(), time.perf_counter()
    start.end = t0 + args.duration
    start.go.set()
    runs = await asyncio.gather(*agents)
    wall = time.perf_counter() - t0
    cpu = {name: cpu_of([pid]) - cpu0[name] for name, pid in watched.items()}
    cpu["servers"] = tree_cpu(servers) - cpu0["servers"]
    cpu["agents"] = time.process_time() - client0
    return {
        "runs": runs,
        "wall": wall,
        "cpu": cpu,
        "peak_mb": {name: rss_mb(pid, "VmHWM") for name, pid in watched.items()},
        "rss_mb": {name: rss_mb(pid) for name, pid in watched.items()},
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]  # nearest rank


def report_load(
    figures: dict[str, Any], args: argparse.Namespace, verdicts: Verdicts, route: str
) -> None:
    """The run's calls, errors and latency, and each watched process's CPU and memory."""
    runs: list[AgentRun] = figures["runs"]
    calls = sum(r.calls for r in runs)
    errors = [e for r in runs for e in r.errors]
    times = [t for r in runs for t in r.times_ms]
    wall, cpu = figures["wall"], figures["cpu"]
    print(
        f"{len(args.users_list)} users x {args.agents} agents, edit + execute for "
        f"{wall:.1f} s {route}: {calls} calls, {calls / wall:.1f} calls/s, "
        f"{len(errors)} errors; latency median {statistics.median(times):.1f} ms, "
        f"p95 {percentile(times, 0.95):.1f} ms"
    )
    for name in figures["rss_mb"]:
        print(
            f"  {name:7}: {cpu[name]:6.1f} CPU s ({cpu[name] / wall:.0%} of a core); "
            f"RSS {figures['rss_mb'][name]:.0f} MB at the end, peak {figures['peak_mb'][name]:.0f} MB"
        )
    for name, what in (
        ("servers", "users' servers and kernels"),
        ("agents", "the agents (this process)"),
    ):
        print(f"  {what}: {cpu[name]:.1f} CPU s ({cpu[name] / wall:.0%} of a core)")
    for error in errors[:10]:
        print(f"  ! {error}")
    verdicts.check(
        not errors and calls > 0,
        f"0 errors in the agents' edit + execute calls {route} ({len(errors)} of {calls})",
        timing=False,
    )


# -- the run ---------------------------------------------------------------------------------


async def benchmark(hub: Hub, args: argparse.Namespace) -> Verdicts:
    verdicts = Verdicts(args.quick)
    tokens = {user: await hub.user_token(user) for user in hub.users}

    print(f"\n1. cold start, {len(hub.users)} users in batches of {args.batch} ...", flush=True)
    starts = await start_users(hub, tokens, args)
    values = list(starts.values())
    print(
        f"Cold start (POST .../server to the first answered MCP call through the proxy): median "
        f"{statistics.median(values):.1f} s, min {min(values):.1f} s, max {max(values):.1f} s "
        f"over {len(values)} users (batches of {args.batch})"
    )
    verdicts.check(
        len(starts) == len(hub.users),
        f"every user's server answered its first MCP call ({len(starts)} of {len(hub.users)})",
        timing=False,
    )

    await asyncio.sleep(args.settle)
    print("\n2. idle memory ...", flush=True)
    rss = {u: sum(rss_mb(p) for p in (pid, *descendants(pid))) for u, pid in hub.servers.items()}
    idle = list(rss.values())
    print(
        f"Idle server RSS (process tree, extension loaded, no kernel): median "
        f"{statistics.median(idle):.0f} MB, min {min(idle):.0f}, max {max(idle):.0f}, "
        f"total {sum(idle):.0f} MB over {len(idle)} users"
    )

    print(f"\n3. proxy overhead, {hub.users[0]}'s server ...", flush=True)
    await overhead(hub, hub.users[0], tokens[hub.users[0]], args)

    print(f"\n4. load, {args.duration:.0f} s ...", flush=True)
    assert hub.process is not None
    figures = await load(
        hub,
        tokens,
        args,
        url_of=lambda user: f"{hub.url}user/{user}/mcp",
        watched={"hub": hub.process.pid, "proxy": hub.proxy_pid()},
    )
    report_load(figures, args, verdicts, route="through the hub's proxy")
    return verdicts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--users", type=int, default=20, help="users, each with their own server (default 20)")
    add("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    add("--agents", type=int, default=AGENTS_PER_USER, help="agents per user in the load")
    add("--n", type=int, default=200, help="timed calls per overhead row (default 200)")
    add("--warmup", type=int, default=20, help="untimed calls per overhead row first")
    add("--batch", type=int, default=2, help="servers started at once (default 2)")
    add("--kernel-batch", type=int, default=4, help="kernels started at once (default 4)")
    add("--start-timeout", type=float, default=300.0, help="seconds a server may take to start")
    quick = {"users": 2, "duration": 5.0, "n": 30, "warmup": 3}
    args = parse_args(parser, quick)
    if min(args.users, args.agents, args.batch, args.kernel_batch) < 1 or args.duration <= 0:
        parser.error("--users, --agents, --batch and --kernel-batch must be >= 1, --duration > 0")
    check_prerequisites(parser)
    args.users_list = [f"bench{i:02d}" for i in range(args.users)]

    print_machine(["jupyter-mcp-ext", "jupyterhub", "mcp", "jupyter_server", "tornado", "httpx2"])
    print(f"configurable-http-proxy {_proxy_version()}")
    print(
        f"Mode: {args.mode}; {args.users} users x {args.agents} agents for "
        f"{args.duration:.0f} s; overhead n={args.n} in {args.rounds} rounds, "
        f"warm-up={args.warmup}"
    )
    return run_on_hub(
        args,
        "bench-hub-",
        lambda hub: benchmark(hub, args),
        "hub, proxy, culler, servers, kernels",
    )


def run_on_hub(
    args: argparse.Namespace,
    prefix: str,
    run: Callable[[Hub], Awaitable[Verdicts]],
    processes: str,
    **settings: str,
) -> int:
    """Start the demo hub for ``args.users_list`` (with these MCP_HUB_* ``settings``), run the
    benchmark on it, then stop every process it started (``processes`` says which, in the
    verdict); the exit status."""
    state = Path(tempfile.mkdtemp(prefix=prefix))
    hub = Hub(state, args.users_list)
    verdicts: Verdicts | None = None
    try:
        t0 = time.perf_counter()
        hub.start(spawn_limit=args.batch, **settings)
        print(
            f"Hub pid {hub.process.pid} at {hub.url} running after {time.perf_counter() - t0:.1f} s"
        )
        verdicts = asyncio.run(run(hub))
    except BaseException:
        print(f"--- hub log (tail) ---\n{hub.log(tail=40)}", file=sys.stderr)
        raise
    finally:
        leftovers = hub.close()
        if args.keep:
            print(f"Kept {state}")
        else:
            shutil.rmtree(state, ignore_errors=True)
    print()
    verdicts.check(
        not leftovers,
        f"every process started stopped by PID ({processes})"
        + "".join(f"\n  ! {p}" for p in leftovers),
        timing=False,
    )
    return verdicts.exit_status()


def check_prerequisites(parser: argparse.ArgumentParser) -> None:
    """Exit with what to install when the demo hub cannot run here."""
    for module, package in (
        ("jupyterhub", "jupyterhub"),
        ("jupyterhub_idle_culler", "jupyterhub-idle-culler"),
    ):
        if importlib.util.find_spec(module) is None:
            parser.error(f"{package} is missing: pip install {package}")
    if shutil.which("configurable-http-proxy") is None:
        parser.error("configurable-http-proxy is missing: npm install -g configurable-http-proxy@5")


def _proxy_version() -> str:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        return subprocess.run(
            ["configurable-http-proxy", "--version"], capture_output=True, text=True, timeout=30
        ).stdout.strip()
    return "-"


if __name__ == "__main__":
    sys.exit(main())
