"""Cost of the MCP hub gateway (``<hub>/services/mcp/``, one MCP URL for every user): the local
demo hub (deploy/jupyterhub/local) with the npm configurable-http-proxy, the gateway as the hub's
service and N users' servers running this checkout's extension, all on 127.0.0.1.

It starts the hub as bench_hub.py does (N benchmark users, capacity limits raised), starts every
user's server ahead (not measured), and measures:

1. Per-call overhead: ``tools/call`` of a cheap read tool (``list_notebooks``) and ``tools/list``,
   each over one MCP session straight to ``<hub>/user/<u>/mcp`` with a hub token of the user, one
   through the gateway with the same token, and one through the gateway with an OAuth access token
   (signed in once with the hub's login, as tests/hub/sign_in.py does; the gateway looks such a
   token up in its database on every call), in rotated rounds: median, p95, the difference to the
   direct call, and the gateway's CPU time per call. Target: at most 2 ms more, median.
2. First call of a stopped user: opening a session through the gateway with a hub token and
   calling the read tool (the gateway starts the server) vs the hub's own spawn time (POST
   /hub/api/users/<u>/server until the progress stream says ready), alternately, the server stopped
   through the hub's API before each.
3. Load: N users x 2 agents through the gateway, each agent its own MCP session and notebook,
   doing edit + execute (bench_hub.py's agents) for D seconds: calls/s, errors (target 0), latency,
   and the CPU seconds and RSS of the gateway, the hub and the proxy.

Every process started is stopped by PID at the end, and the run checks that none is left.

Usage::

    python benchmarks/bench_gateway.py               # 20 users x 2 agents for 60 s, n=200
    python benchmarks/bench_gateway.py --users 5 --duration 30 --starts 5
    python benchmarks/bench_gateway.py --quick       # a smoke run: 2 users x 1 agent, 5 s
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from bench_hub import (
    READ_TOOL,
    Hub,
    _proxy_version,
    alive,
    check_prerequisites,
    cmdline,
    descendants,
    load,
    mcp_session,
    report_load,
    rss_mb,
    run_on_hub,
    start_users,
)
from harness import (
    Block,
    Row,
    Verdicts,
    parse_args,
    print_machine,
    print_table,
    rotated_rounds,
    tool_ok,
)

REPO = Path(__file__).resolve().parents[1]
# The scripted hub sign-in of the tests (tests/hub/sign_in.py), importable as the tests import it.
sys.path.append(str(REPO / "tests"))
from hub.sign_in import Browser, MemoryStorage, signed_in_session  # noqa: E402

OVERHEAD_TARGET_MS = 2.0
GATEWAY_MODULE = "jupyter_mcp_ext.hub.gateway"


# -- the gateway -----------------------------------------------------------------------------


def gateway_pid(hub: Hub) -> int:
    """The gateway's process: the hub's service running ``python -m jupyter_mcp_ext.hub.gateway``."""
    assert hub.process is not None
    for pid in descendants(hub.process.pid):
        if GATEWAY_MODULE in cmdline(pid):
            return pid
    raise RuntimeError(f"the hub runs no MCP gateway ({GATEWAY_MODULE})")


async def wait_for_gateway(hub: Hub, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with hub.api() as http:
        while True:
            try:
                if (await http.get(f"{hub.gateway_url}health")).status_code == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the gateway did not answer within {timeout:.0f} s")
            await asyncio.sleep(0.2)


async def oauth_access_token(hub: Hub, user: str, password: str) -> str:
    """An access token of the gateway's own, from one sign-in with the hub's login page."""
    storage = MemoryStorage()
    async with signed_in_session(hub.gateway_url, Browser(user, password), storage) as client:
        await client.list_tools()
    assert storage.tokens is not None
    return storage.tokens.access_token


# -- 1. per-call overhead --------------------------------------------------------------------


def tools_listed(result: Any) -> None:
    if not result.tools:
        raise RuntimeError("tools/list answered no tools")


async def overhead(
    hub: Hub, user: str, hub_token: str, oauth_token: str, gateway: int, args: argparse.Namespace
) -> dict[str, Block]:
    """The same calls straight to the user's server and through the gateway, interleaved."""
    direct_url = f"{hub.url}user/{user}/mcp"
    print(f"  direct:  {direct_url}\n  gateway: {hub.gateway_url}", flush=True)
    async with (
        mcp_session(direct_url, hub_token, args.mode) as direct,
        mcp_session(hub.gateway_url, hub_token, args.mode) as with_hub_token,
        mcp_session(hub.gateway_url, oauth_token, args.mode) as with_oauth_token,
    ):
        paths = {
            "direct": ("BASE: {} direct to /user/<u>/mcp", direct),
            "hub": ("{} via the gateway, hub token", with_hub_token),
            "oauth": ("{} via the gateway, OAuth token", with_oauth_token),
        }
        rows: dict[str, Row] = {}
        for path, (label, client) in paths.items():
            rows[f"call {path}"] = Row(
                label.format(READ_TOOL[0]), lambda _, c=client: c.call_tool(*READ_TOOL), tool_ok
            )
            rows[f"list {path}"] = Row(
                label.format("tools/list"), lambda _, c=client: c.list_tools(), tools_listed
            )
        blocks = await rotated_rounds(
            rows, n=args.n, rounds=args.rounds, warmup=args.warmup, server_pid=gateway
        )
    for op, name in (("call", READ_TOOL[0]), ("list", "tools/list")):
        print()
        print_table(
            [blocks[f"{op} {path}"] for path in paths], blocks[f"{op} direct"], f"{name} direct"
        )
    print("('srv cpu' here is the gateway process's CPU time per call)")
    return blocks


def report_overhead(blocks: dict[str, Block], verdicts: Verdicts) -> None:
    for path, token in (("hub", "a hub token"), ("oauth", "an OAuth token")):
        call, base = blocks[f"call {path}"], blocks["call direct"]
        listed, list_base = blocks[f"list {path}"], blocks["list direct"]
        extra = call.median - base.median
        verdicts.check(
            extra <= OVERHEAD_TARGET_MS,
            f"gateway overhead with {token}: {READ_TOOL[0]} median {extra:+.2f} ms "
            f"<= {OVERHEAD_TARGET_MS:.0f} ms (p95 {call.p95 - base.p95:+.2f} ms; tools/list "
            f"median {listed.median - list_base.median:+.2f} ms, p95 "
            f"{listed.p95 - list_base.p95:+.2f} ms; n={len(call.times_ms)} each)",
            timing=True,
        )


# -- 2. first call of a stopped user ---------------------------------------------------------


async def stop_server(hub: Hub, user: str) -> None:
    """Stop ``user``'s server through the hub's API and wait until its process is gone."""
    pid = hub.servers.get(user)
    async with hub.api() as http:
        response = await http.delete(f"users/{user}/server")
        # 400: not running (a start failed before); the wait below makes sure.
        if response.status_code not in (202, 204, 400):
            raise RuntimeError(f"stop of {user}: {response.status_code} {response.text}")
        deadline = time.monotonic() + 60
        while True:
            stopping = (await http.get(f"users/{user}")).json()["servers"].get("")
            if not stopping and not (pid is not None and alive(pid)):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{user}'s server did not stop within 60 s")
            await asyncio.sleep(0.2)


async def spawn_time(hub: Hub, user: str) -> float:
    """Seconds from the hub's start request until the hub says the server is ready."""
    t0 = time.perf_counter()
    async with hub.api() as http:
        response = await http.post(f"users/{user}/server")
        event: dict[str, Any] = {}
        if response.status_code == 202:
            async with http.stream("GET", f"users/{user}/server/progress") as events:
                async for line in events.aiter_lines():
                    event = json.loads(line[5:]) if line.startswith("data:") else {}
                    if event.get("ready") or event.get("failed"):
                        break
            if not event.get("ready"):
                raise RuntimeError(f"start of {user}: {event.get('message', 'no ready event')}")
        elif response.status_code != 201:
            raise RuntimeError(f"start of {user}: {response.status_code} {response.text}")
    took = time.perf_counter() - t0
    await hub.server_pid(user)
    return took


async def first_call_time(hub: Hub, user: str, token: str, mode: str) -> float:
    """Seconds from opening an MCP session through the gateway to its first answered call."""
    t0 = time.perf_counter()
    async with mcp_session(hub.gateway_url, token, mode) as client:
        tool_ok(await client.call_tool(*READ_TOOL))
    took = time.perf_counter() - t0
    await hub.server_pid(user)
    return took


async def stopped_starts(
    hub: Hub, user: str, token: str, args: argparse.Namespace, verdicts: Verdicts
) -> None:
    spawns: list[float] = []
    firsts: list[float] = []
    failures: list[str] = []
    measure = {
        "spawn": lambda: spawn_time(hub, user),
        "first call through the gateway": lambda: first_call_time(hub, user, token, args.mode),
    }
    for rep in range(args.starts):
        # Alternate which goes first, so a machine busier for a while slows both alike.
        order = list(measure) if rep % 2 == 0 else list(reversed(measure))
        took: dict[str, float] = {}
        for what in order:
            await stop_server(hub, user)
            await asyncio.sleep(args.settle)
            try:
                took[what] = await measure[what]()
            except Exception as error:
                failures.append(f"{what}: {error!r}"[:300])
                with contextlib.suppress(Exception):  # it may run even so: stopped next time
                    await hub.server_pid(user)
        print(
            f"  repetition {rep + 1}: "
            + ", ".join(f"{what} {took[what]:.2f} s" for what in order if what in took),
            flush=True,
        )
        spawns += [took["spawn"]] if "spawn" in took else []
        firsts += [t for what, t in took.items() if what != "spawn"]
    if spawns and firsts:
        spawn, first = statistics.median(spawns), statistics.median(firsts)
        print(
            f"Stopped user's first call through the gateway (hub token; session opened, "
            f"{READ_TOOL[0]} answered): median {first:.2f} s, min {min(firsts):.2f}, max "
            f"{max(firsts):.2f}; the hub's spawn (POST .../server until ready): median "
            f"{spawn:.2f} s, min {min(spawns):.2f}, max {max(spawns):.2f}; difference "
            f"{first - spawn:+.2f} s median ({len(firsts)} repetitions)"
        )
    for failure in failures:
        print(f"  ! {failure}")
    verdicts.check(
        not failures,
        f"every first call through the gateway of a stopped user was answered, and every spawn "
        f"got ready ({len(failures)} failures in {2 * args.starts})",
        timing=False,
    )


# -- the run ---------------------------------------------------------------------------------


async def benchmark(hub: Hub, password: str, args: argparse.Namespace) -> Verdicts:
    verdicts = Verdicts(args.quick)
    await wait_for_gateway(hub)
    gateway = gateway_pid(hub)
    print(f"Gateway pid {gateway} at {hub.gateway_url}, RSS {rss_mb(gateway):.0f} MB")
    tokens = {user: await hub.user_token(user) for user in hub.users}

    print(f"\nStarting {len(hub.users)} users' servers ahead (not measured) ...", flush=True)
    await start_users(hub, tokens, args)

    user = hub.users[0]
    print(f"\n1. per-call overhead, {user}'s server ...", flush=True)
    oauth_token = await oauth_access_token(hub, user, password)
    report_overhead(await overhead(hub, user, tokens[user], oauth_token, gateway, args), verdicts)

    print(
        f"\n2. first call of a stopped user vs spawn, {user}, {args.starts} times ...", flush=True
    )
    await stopped_starts(hub, user, tokens[user], args, verdicts)

    await asyncio.sleep(args.settle)
    print(f"\n3. load through the gateway, {args.duration:.0f} s ...", flush=True)
    assert hub.process is not None
    figures = await load(
        hub,
        tokens,
        args,
        url_of=lambda _: hub.gateway_url,
        watched={"gateway": gateway, "hub": hub.process.pid, "proxy": hub.proxy_pid()},
    )
    report_load(figures, args, verdicts, route="through the gateway")
    return verdicts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--users", type=int, default=20, help="users, each with their own server (default 20)")
    add("--agents", type=int, default=2, help="agents per user in the load (default 2)")
    add("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    add("--n", type=int, default=200, help="timed calls per overhead row (default 200)")
    add("--warmup", type=int, default=20, help="untimed calls per overhead row first")
    add("--starts", type=int, default=3, help="stopped-user starts of each kind (default 3)")
    add("--batch", type=int, default=2, help="servers started at once (default 2)")
    add("--kernel-batch", type=int, default=4, help="kernels started at once (default 4)")
    add("--start-timeout", type=float, default=300.0, help="seconds a server may take to start")
    quick = {"users": 2, "agents": 1, "duration": 5.0, "n": 30, "warmup": 3, "starts": 1}
    args = parse_args(parser, quick)
    if min(args.users, args.agents, args.starts, args.batch, args.kernel_batch) < 1:
        parser.error("--users, --agents, --starts, --batch and --kernel-batch must be >= 1")
    if args.duration <= 0:
        parser.error("--duration must be > 0")
    check_prerequisites(parser)
    args.users_list = [f"bench{i:02d}" for i in range(args.users)]

    print_machine(["jupyter-mcp-ext", "jupyterhub", "mcp", "jupyter_server", "uvicorn", "httpx2"])
    print(f"configurable-http-proxy {_proxy_version()}")
    print(
        f"Mode: {args.mode}; overhead n={args.n} in {args.rounds} rounds, warm-up={args.warmup}; "
        f"{args.starts} stopped starts of each kind; {args.users} users x {args.agents} agents "
        f"for {args.duration:.0f} s"
    )
    password = secrets.token_hex(8)
    return run_on_hub(
        args,
        "bench-gateway-",
        lambda hub: benchmark(hub, password, args),
        "hub, proxy, gateway, culler, servers, kernels",
        PASSWORD=password,
    )


if __name__ == "__main__":
    sys.exit(main())
