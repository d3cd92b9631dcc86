"""Latency of jupyter-mcp-ext tools, end to end, through the official MCP SDK client.

Not a test: it prints figures. It starts a real Jupyter server (the extension auto-enables)
as a subprocess in a temporary directory, opens ONE session of ``mcp.Client`` over
Streamable HTTP with the server's token, and times, one block after another (nothing
interleaved), N calls of each operation after a warm-up:

- the no-op baseline: a ``tools/call`` that runs no tool body (an unknown tool name: the server
  goes through authentication, the SDK and its tools/call dispatch, and answers a tool error).
  ``--baseline ping|discover`` uses a protocol no-op instead: ``ping`` (handshake era; removed
  in 2026-07-28, where the server answers JSON-RPC -32601) or ``server/discover`` (modern).
- reference rows: the protocol no-op of the negotiated era (``ping`` or ``server/discover``)
  and ``list_files`` on an empty directory (the cheapest real tool);
- ``get_notebook_info`` and the edits ``append_markdown_cell`` and ``overwrite_cell_source``
  (alternating between two sources, so every call changes text) on a small notebook;
- ``read_all_cells`` on a 1,000-cell notebook (code cells with a small stream output, and
  markdown cells), written with nbformat before the server starts.

The baseline is timed in a block before the tools and again in a block after them; its median
is taken over both blocks. Each row also shows the CPU time per call of this client process and
of the server process (all threads), read from /proc around the block. Then it checks the
targets: each edit's median <= baseline median + 1 ms, and read_all_cells (1,000 cells)
median <= 30 ms. The exit status is 0 when every target passes, 1 otherwise.

Usage::

    python benchmarks/bench_tools.py                 # modern protocol (mode auto)
    python benchmarks/bench_tools.py --mode legacy   # handshake era (initialize, session id, SSE)
    python benchmarks/bench_tools.py --n 500 --warmup 50

Diagnostics (their figures are not benchmark figures):

    --raw                    after each SDK block, replay the SDK's last HTTP requests with bare
                             httpx2 (no SDK client code): splits client cost from server cost
    --py-spy DIR             record the server with py-spy during each block (DIR/<op>.txt,
                             collapsed stacks) and print the hottest server functions
    --cprofile-client OP     cProfile the client process during block OP (e.g. read_all_cells)
    --server-cprofile DIR    start the server under a small bootstrap that cProfiles its event-loop
                             thread (CPU-time timer) per block, times every garbage collection and
                             reads per-thread CPU; prints the hot spots, keeps DIR/<op>.prof
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx2
import nbformat
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

EDIT_TARGET_MS = 1.0  # edit median <= baseline median + this
READ_ALL_TARGET_MS = 30.0  # read_all_cells (1,000 cells) median <= this
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
SOURCES = ("x = 1\ny = x + 1\nprint(y)\n", "x = 2\ny = x + 1\nprint(y)\n")  # overwrite alternates


# -- the notebooks and the server ----------------------------------------------------------


def write_notebooks(root: Path, cells: int) -> dict[str, Any]:
    big = nbformat.v4.new_notebook()
    big.metadata["kernelspec"] = dict(KERNELSPEC)
    for i in range(cells):
        if i % 2 == 0:
            cell = nbformat.v4.new_code_cell(f"value_{i} = {i} * 2\nprint(value_{i})", execution_count=i // 2 + 1)
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{i * 2}\n")]
        else:
            cell = nbformat.v4.new_markdown_cell(f"## Step {i}\n\nSome *markdown* explaining step {i}.")
        big.cells.append(cell)
    nbformat.write(big, root / "big.ipynb")

    small = nbformat.v4.new_notebook()
    small.metadata["kernelspec"] = dict(KERNELSPEC)
    small.cells = [nbformat.v4.new_code_cell(SOURCES[0])] + [
        nbformat.v4.new_markdown_cell(f"Note {i}") for i in range(9)
    ]
    nbformat.write(small, root / "edit.ipynb")
    (root / "empty").mkdir()
    return {"big.ipynb": (root / "big.ipynb").stat().st_size, "edit.ipynb": (root / "edit.ipynb").stat().st_size}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class JupyterServer:
    proc: subprocess.Popen
    url: str  # root URL ending in '/'
    token: str
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


# --server-cprofile: the server runs as `python -c BOOTSTRAP ...` instead of `python -m jupyter_server ...`;
# SIGUSR2 toggles cProfile (timer: thread CPU time) on the server's main thread (its event loop), with gc callbacks timing every
# collection and per-thread CPU times read from /proc; each "off" writes block.prof and block.json.
PROFILE_BOOTSTRAP = r"""
import cProfile, gc, json, os, runpy, signal, sys, threading, time
OUT = os.environ["BENCH_SERVER_PROFILE_DIR"]
state = {"prof": None, "gc_start": None}
gc_stats = {}
def thread_cpu():
    names = {t.native_id: t.name for t in threading.enumerate()}
    tick = os.sysconf("SC_CLK_TCK")
    cpu = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            fields = open(f"/proc/self/task/{tid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = "main (event loop)" if int(tid) == os.getpid() else names.get(int(tid), "native thread")
        cpu[name] = cpu.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return cpu
def gc_callback(phase, info):
    if phase == "start":
        state["gc_start"] = time.perf_counter()
    elif state["gc_start"] is not None:
        key = str(info["generation"])
        count, seconds = gc_stats.get(key, (0, 0.0))
        gc_stats[key] = (count + 1, seconds + time.perf_counter() - state["gc_start"])
def toggle(signum, frame):
    if state["prof"] is None:
        gc_stats.clear()
        state["cpu0"], state["wall0"] = thread_cpu(), time.perf_counter()
        gc.callbacks.append(gc_callback)
        state["prof"] = cProfile.Profile(time.thread_time)  # CPU time of the loop thread, not wall time
        state["prof"].enable()
    else:
        state["prof"].disable()
        gc.callbacks.remove(gc_callback)
        cpu1, wall = thread_cpu(), time.perf_counter() - state["wall0"]
        cpu = {name: cpu1[name] - state["cpu0"].get(name, 0.0) for name in cpu1}
        state["prof"].dump_stats(os.path.join(OUT, "block.prof"))
        with open(os.path.join(OUT, "block.json.tmp"), "w") as f:
            json.dump({"gc": gc_stats, "thread_cpu": cpu, "wall": wall}, f)
        os.replace(os.path.join(OUT, "block.json.tmp"), os.path.join(OUT, "block.json"))
        state["prof"] = None
signal.signal(signal.SIGUSR2, toggle)
sys.argv[0] = "jupyter-server"
runpy.run_module("jupyter_server", run_name="__main__", alter_sys=True)
"""


# --skeleton (bench_execute): these modules of benchmarks/ are imported into the server before it starts.
PRELOAD_BOOTSTRAP = r"""
import importlib, os, runpy, sys
sys.path.insert(0, os.environ["BENCH_PRELOAD_PATH"])
for name in os.environ["BENCH_PRELOAD"].split(","):
    importlib.import_module(name)
sys.argv[0] = "jupyter-server"
runpy.run_module("jupyter_server", run_name="__main__", alter_sys=True)
"""


def start_server(tmp: Path, root: Path, profile_dir: Path | None = None, extra: list[str] = (),
                 preload: list[str] = ()) -> JupyterServer:
    cwd = tmp / "cwd"  # jupyter_server_ydoc writes .jupyter_ystore.db into the CWD
    cwd.mkdir()
    port, token = free_port(), secrets.token_hex(16)
    log_path = tmp / "server.log"
    env = dict(os.environ)
    launcher = ["-m", "jupyter_server"]
    if profile_dir is not None and preload:
        raise ValueError("--server-cprofile and a preload (--skeleton) cannot be combined")
    if profile_dir is not None:
        launcher = ["-c", PROFILE_BOOTSTRAP]
        env["BENCH_SERVER_PROFILE_DIR"] = str(profile_dir)
    if preload:
        launcher = ["-c", PRELOAD_BOOTSTRAP]
        env["BENCH_PRELOAD_PATH"] = str(Path(__file__).resolve().parent)
        env["BENCH_PRELOAD"] = ",".join(preload)
    cmd = [
        sys.executable, *launcher, "--allow-root", "--no-browser",
        f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--BaseFileIdManager.db_path={tmp / 'file_id_manager.db'}",  # not the user's data dir
        *extra,
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    server = JupyterServer(proc=proc, url=f"http://127.0.0.1:{port}/", token=token, log_path=log_path)
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"Jupyter server exited with {proc.returncode}:\n{server.log_tail()}")
        try:
            req = urllib.request.Request(server.url + "api/status", headers={"Authorization": f"token {token}"})
            with urllib.request.urlopen(req, timeout=2) as resp:
                if resp.status == 200:
                    json.load(resp)
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
            pass
        if time.monotonic() > deadline:
            stop_server(server)
            raise RuntimeError(f"Jupyter server did not answer /api/status within 90 s:\n{server.log_tail()}")
        time.sleep(0.2)


def stop_server(server: JupyterServer, timeout: float = 20) -> None:
    if server.proc.poll() is not None:
        return
    server.proc.send_signal(signal.SIGTERM)
    try:
        server.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()
        log = server.log_path.read_text(errors="replace").splitlines()
        start = next((i for i, line in enumerate(log) if "received signal 15" in line), len(log))
        errors = [line.strip() for line in log[start:] if line.startswith("[E") or "Error:" in line]
        print(f"! the server did not exit within {timeout:.0f} s of SIGTERM: killed it (SIGKILL). "
              "Errors it logged while stopping:\n  " + "\n  ".join(errors[-4:] or ["(none)"]))


# -- measuring -----------------------------------------------------------------------------


@dataclass
class Stats:
    name: str
    times_ms: list[float]
    note: str = ""
    raw_ms: list[float] = field(default_factory=list)  # bare-HTTP replay (--raw)
    client_cpu_ms: float | None = None  # CPU time per call of this process (the SDK client)
    server_cpu_ms: float | None = None  # CPU time per call of the server process, all threads

    @property
    def median(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.times_ms)
        return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]  # nearest rank

    @property
    def minimum(self) -> float:
        return min(self.times_ms)


class RequestRecorder:
    """httpx2 request hook: keeps the last POSTs the SDK sent (for --raw replays)."""

    def __init__(self) -> None:
        self.requests: collections.deque[httpx2.Request] = collections.deque(maxlen=2)
        self.enabled = False

    async def __call__(self, request: httpx2.Request) -> None:
        if self.enabled and request.method == "POST":
            self.requests.append(request)


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, all threads (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ServerProfiler:
    """cProfile of the server's event-loop thread during one block (--server-cprofile; diagnostic)."""

    def __init__(self, directory: Path | None, pid: int) -> None:
        self.directory, self.pid = directory, pid

    def start(self) -> None:
        if self.directory is None:
            return
        for leftover in ("block.json", "block.prof"):
            (self.directory / leftover).unlink(missing_ok=True)
        os.kill(self.pid, signal.SIGUSR2)
        time.sleep(0.2)  # the handler runs when the server's loop next wakes

    def stop(self, name: str, calls: int) -> None:
        if self.directory is None:
            return
        os.kill(self.pid, signal.SIGUSR2)
        done = self.directory / "block.json"
        deadline = time.monotonic() + 60
        while not done.exists():
            if time.monotonic() > deadline:
                print(f"! no server profile for {name}")
                return
            time.sleep(0.05)
        prof, info = self.directory / f"{name}.prof", self.directory / f"{name}.json"
        os.replace(self.directory / "block.prof", prof)
        os.replace(done, info)
        print(f"\n== cProfile (CPU time) of the server's event-loop thread during {name} ({prof}; cProfile "
              f"inflates Python-heavy code: read shares, not times) ==")
        print(summarize_server_profile(prof, json.loads(info.read_text()), calls))


def summarize_server_profile(prof: Path, info: dict[str, Any], calls: int, top: int = 22) -> str:
    stats = pstats.Stats(str(prof))
    total = stats.total_tt or 1e-9
    lines = [f"  wall {info['wall']:.2f} s for {calls} calls; CPU by thread (s): "
             + ", ".join(f"{name} {cpu:.2f}" for name, cpu in sorted(info["thread_cpu"].items()) if cpu > 0)]
    gc_total = sum(seconds for _count, seconds in info["gc"].values())
    lines.append(f"  garbage collection on the loop thread: {gc_total * 1000 / calls:.2f} ms per call ("
                 + ", ".join(f"gen{gen}: {count} x, {seconds * 1000:.0f} ms" for gen, (count, seconds)
                             in sorted(info["gc"].items())) + ")")
    rows = []
    for (filename, line, func), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append((tottime, cumtime, ncalls, _short_frame(f"{func} ({filename}:{line})")))
    lines.append(f"  profiled CPU time of the loop thread {total:.2f} s; self time (tottime) share:")
    lines += [f"    {100 * t / total:5.1f}%  {ncalls / calls:8.1f}/call  {where}"
              for t, _c, ncalls, where in sorted(rows, reverse=True)[:top]]
    lines.append("  inclusive time (cumtime) share, project and MCP/Jupyter/pycrdt code:")
    keep = ("jupyter_mcp_ext", "mcp/", "pycrdt", "jupyter_ydoc", "jupyter_server", "tornado/web",
            "tornado/http1", "starlette", "pydantic", "json/", "sqlite", "anyio/to_thread", "jupyter_core")
    shown = 0
    for t, c, ncalls, where in sorted(rows, key=lambda r: r[1], reverse=True):
        if not any(k in where for k in keep) or "run_forever" in where:
            continue
        lines.append(f"    {100 * c / total:5.1f}%  {ncalls / calls:8.1f}/call  {where}")
        shown += 1
        if shown >= top + 8:
            break
    return "\n".join(lines)


class PySpy:
    """py-spy recording the server during one block (diagnostic)."""

    def __init__(self, directory: Path | None, pid: int) -> None:
        self.directory, self.pid = directory, pid
        self.proc: subprocess.Popen | None = None
        self.out: Path | None = None

    def start(self, name: str) -> None:
        if self.directory is None:
            return
        self.out = self.directory / f"{name}.txt"
        self.proc = subprocess.Popen(
            ["py-spy", "record", "--pid", str(self.pid), "--rate", "500", "--format", "raw", "--nonblocking",
             "--output", str(self.out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        time.sleep(1.0)  # attach

    def stop(self) -> Path | None:
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.proc = None
        return self.out


def summarize_collapsed(path: Path, top: int = 14) -> str:
    """Hottest functions of a py-spy collapsed-stack file: self time and inclusive time."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    busy = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [_short_frame(frame) for frame in stack.split(";")]
        total += count
        leaf = frames[-1]
        idle = "select" in leaf and ("epoll" in leaf or "selectors" in leaf)
        if idle:
            continue
        busy += count
        own[leaf] += count
        for frame in set(frames):
            inclusive[frame] += count
    if not total:
        return "  (no samples)"
    lines = [f"  samples: {total}, busy (not in epoll select): {busy} ({100 * busy / total:.0f}%)"]
    lines.append("  self time (share of busy samples):")
    lines += [f"    {100 * n / busy:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    lines.append("  inclusive time (share of busy samples), project and libraries:")
    shown = 0
    for frame, n in inclusive.most_common():
        if any(skip in frame for skip in ("asyncio/", "_run_once", "run_forever", "<module>", "start (", "_run (")):
            continue
        lines.append(f"    {100 * n / busy:5.1f}%  {frame}")
        shown += 1
        if shown >= top + 6:
            break
    return "\n".join(lines)


def _short_frame(frame: str) -> str:
    # py-spy frames look like "function (path/to/file.py:123)"
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path, _, _line = where.rpartition(":")
    for marker in ("site-packages/", "lib/python3", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{name} ({path})"


async def run_block(
    name: str,
    call: Callable[[int], Awaitable[Any]],
    check: Callable[[Any], None],
    *,
    n: int,
    warmup: int,
    recorder: RequestRecorder,
    spy: PySpy,
    cprofile_op: str | None,
    server_pid: int,
    server_profiler: ServerProfiler | None = None,
) -> Stats:
    times: list[float] = []
    for i in range(warmup):
        check(await call(i))
    gc.collect()
    spy.start(name)
    if server_profiler:
        server_profiler.start()
    profiler = cProfile.Profile() if cprofile_op == name else None
    recorder.enabled = True
    if profiler:
        profiler.enable()
    perf = time.perf_counter
    client_cpu0, server_cpu0 = time.process_time(), process_cpu_seconds(server_pid)
    try:
        for i in range(warmup, warmup + n):
            t0 = perf()
            result = await call(i)
            t1 = perf()
            times.append((t1 - t0) * 1000)
            check(result)
    finally:
        client_cpu1, server_cpu1 = time.process_time(), process_cpu_seconds(server_pid)
        if profiler:
            profiler.disable()
        recorder.enabled = False
        out = spy.stop()
        if server_profiler:
            server_profiler.stop(name, n)
    if profiler:
        buf = io.StringIO()
        pstats.Stats(profiler, stream=buf).sort_stats("cumulative").print_stats(30)
        print(f"\n== cProfile of the client during {name} ({n} calls) ==\n{buf.getvalue()}")
    if out is not None and out.exists():
        print(f"\n== py-spy, server during {name} ({out}) ==\n{summarize_collapsed(out)}")
    stats = Stats(name, times, client_cpu_ms=(client_cpu1 - client_cpu0) * 1000 / n)
    if server_cpu0 is not None and server_cpu1 is not None:
        stats.server_cpu_ms = (server_cpu1 - server_cpu0) * 1000 / n
    return stats


async def raw_replay(http: httpx2.AsyncClient, recorder: RequestRecorder, n: int, warmup: int) -> list[float]:
    """Send the SDK's last recorded requests again with bare httpx2, alternating; returns ms per call."""
    requests = list(recorder.requests)
    recorder.requests.clear()
    if not requests:
        return []
    times: list[float] = []
    perf = time.perf_counter
    for i in range(warmup + n):
        original = requests[i % len(requests)]
        t0 = perf()
        response = await http.request("POST", original.url, headers=original.headers, content=original.content)
        await response.aread()
        t1 = perf()
        if response.status_code in (401, 403) or response.status_code >= 500:  # (modern ping answers 404)
            raise RuntimeError(f"raw replay answered {response.status_code}: {response.text[:200]}")
        if i >= warmup:
            times.append((t1 - t0) * 1000)
    return times


# -- the benchmark --------------------------------------------------------------------------


def tool_ok(result: Any) -> None:
    if result.is_error:
        raise RuntimeError(f"tool call failed: {result.content[0].text}")


def source_changed(result: Any) -> None:
    tool_ok(result)
    if not result.structured_content["chars_inserted"]:
        raise RuntimeError("overwrite_cell_source changed nothing")


def tool_error_expected(result: Any) -> None:
    if not result.is_error:
        raise RuntimeError("the unknown tool unexpectedly succeeded")


def ignore(_: Any) -> None:
    pass


async def benchmark(server: JupyterServer, args: argparse.Namespace, spy: PySpy) -> list[Stats]:
    recorder = RequestRecorder()
    server_profiler = ServerProfiler(args.server_cprofile, server.proc.pid) if args.server_cprofile else None
    headers = {"Authorization": f"Bearer {server.token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=60, event_hooks={"request": [recorder]}) as http:
        transport = streamable_http_client(server.url + "mcp", http_client=http)
        async with Client(transport, mode=args.mode) as client:
            version = client.protocol_version
            modern = version in MODERN_PROTOCOL_VERSIONS
            print(f"MCP session: mode={args.mode}, negotiated protocol {version}")
            baseline_kind = args.baseline or "tool"

            async def ping(_: int) -> Any:
                try:
                    return await client.session.send_ping()
                except MCPError as error:  # modern protocol: -32601 Method not found
                    return error

            async def discover(_: int) -> Any:
                return await client.session.send_discover(version)

            async def no_tool(_: int) -> Any:
                return tool_error_expected(await client.call_tool("no_such_tool", {}))

            baseline_label = {
                "tool": "no-op baseline: tools/call, no tool body",
                "ping": "no-op baseline: ping" + (" (answered -32601: ping is removed in 2026-07-28)" if modern else ""),
                "discover": "no-op baseline: server/discover",
            }[baseline_kind]
            baseline_call = {"tool": no_tool, "ping": ping, "discover": discover}[baseline_kind]

            small, big = "edit.ipynb", "big.ipynb"
            await client.list_tools()  # the client validates structured results against these schemas
            info = (await client.call_tool("get_notebook_info", {"notebook_path": big})).structured_content
            if info["cell_count"] != args.cells:
                raise RuntimeError(f"{big} has {info['cell_count']} cells, expected {args.cells}")
            cell_id = (await client.call_tool("read_cell", {"notebook_path": small, "cell_index": 0})).structured_content[
                "cell"
            ]["cell_id"]

            blocks: list[tuple[str, Callable[[int], Awaitable[Any]], Callable[[Any], None], str]] = [
                (baseline_label, baseline_call, ignore, "baseline"),
            ]
            if baseline_kind != "tool":
                blocks.append(("ref: tools/call unknown tool", no_tool, ignore, "ref"))
            if baseline_kind != ("discover" if modern else "ping"):
                blocks.append(("ref: server/discover" if modern else "ref: ping", discover if modern else ping,
                               ignore, "ref"))
            blocks += [
                ("ref: list_files (empty dir)", lambda i: client.call_tool("list_files", {"path": "empty"}), tool_ok,
                 "ref"),
                ("get_notebook_info", lambda i: client.call_tool("get_notebook_info", {"notebook_path": small}),
                 tool_ok, "read"),
                ("append_markdown_cell",
                 lambda i: client.call_tool("append_markdown_cell", {"notebook_path": small, "source": f"Cell {i}."}),
                 tool_ok, "edit"),
                ("overwrite_cell_source",
                 lambda i: client.call_tool("overwrite_cell_source",
                                            {"notebook_path": small, "cell_id": cell_id, "source": SOURCES[(i + 1) % 2]}),
                 source_changed, "edit"),
                (f"read_all_cells ({args.cells} cells)",
                 lambda i: client.call_tool("read_all_cells", {"notebook_path": big}), tool_ok, "readall"),
            ]
            results: list[Stats] = []
            for label, call, check, kind in blocks:
                short = label.split(":")[0] if kind == "baseline" else label.split(" (")[0].removeprefix("ref: ")
                short = short.replace(" ", "_").replace("/", "_")
                stats = await run_block(short, call, check, n=args.n, warmup=args.warmup, recorder=recorder, spy=spy,
                                        cprofile_op=args.cprofile_client, server_pid=server.proc.pid,
                                        server_profiler=server_profiler)
                stats.name, stats.note = label, kind
                if args.raw:
                    stats.raw_ms = await raw_replay(http, recorder, args.n, args.warmup)
                recorder.requests.clear()
                results.append(stats)
                print(f"  measured {label}: median {stats.median:.2f} ms", flush=True)

            # The baseline again at the end: drift check, and pooled with the first block for the baseline median.
            again = await run_block("baseline_again", blocks[0][1], ignore, n=args.n, warmup=args.warmup,
                                    recorder=recorder, spy=PySpy(None, 0), cprofile_op=None,
                                    server_pid=server.proc.pid)
            again.name, again.note = baseline_label.replace("no-op baseline", "baseline again, at the end"), "drift"
            results.insert(1, again)
            recorder.requests.clear()

            # Sizes of the answers, outside any timing.
            read_all = await client.call_tool("read_all_cells", {"notebook_path": big})
            size = len(json.dumps(read_all.structured_content)) + len(read_all.content[0].text)
            print(f"read_all_cells answer: {len(read_all.structured_content['cells'])} cells, "
                  f"~{size / 1024:.0f} KiB of JSON (structured content + text)")
            final = (await client.call_tool("get_notebook_info", {"notebook_path": small})).structured_content
            print(f"{small} now has {final['cell_count']} cells")
    return results


def _cpu(value: float | None) -> str:
    return f"{value:8.2f}" if value is not None else f"{'-':>8}"


def report(results: list[Stats], args: argparse.Namespace) -> bool:
    first, last = results[0], results[1]
    pooled = Stats(first.name.replace("no-op baseline", "NO-OP BASELINE, pooled (first + last block)"),
                   first.times_ms + last.times_ms, note="baseline")
    for attr in ("client_cpu_ms", "server_cpu_ms"):
        values = [getattr(first, attr), getattr(last, attr)]
        setattr(pooled, attr, None if None in values else sum(values) / 2)
    results = [pooled, *results]
    base = pooled.median
    print()
    what = first.name.removeprefix("no-op baseline: ")
    print(f"No-op baseline = {what}: an MCP round trip over the same session that runs no tool; timed in a block "
          f"before and a block after the tools, and its median taken over both blocks ({2 * args.n} calls).")
    print(f"{args.n} timed calls per row after {args.warmup} warm-up calls; time.perf_counter around each await.")
    header = (f"{'operation':54} {'median':>8} {'p95':>8} {'min':>7} {'-base':>8} {'x base':>7} "
              f"{'cli cpu':>8} {'srv cpu':>8}")
    if args.raw:
        header += f" {'raw med':>8}"
    print(header)
    print("-" * len(header))
    for s in results:
        line = (f"{s.name[:54]:54} {s.median:8.2f} {s.p95:8.2f} {s.minimum:7.2f} {s.median - base:+8.2f} "
                f"{s.median / base:7.2f} {_cpu(s.client_cpu_ms)} {_cpu(s.server_cpu_ms)}")
        if args.raw:
            line += f" {statistics.median(s.raw_ms):8.2f}" if s.raw_ms else f" {'':>8}"
        print(line)
    print("(ms; '-base' = median minus baseline median; 'x base' = median / baseline median; 'cli cpu' / 'srv cpu' = "
          "CPU time per call, mean over the block, of this client process / of the server process (all threads)"
          + ("; 'raw med' = median of the same HTTP requests replayed with bare httpx2, no SDK client)" if args.raw
             else ")"))
    print()
    ok = True
    for s in results:
        if s.note == "edit":
            passed = s.median <= base + EDIT_TARGET_MS
            ok &= passed
            print(f"{'PASS' if passed else 'FAIL'}: {s.name} median {s.median:.2f} ms <= baseline median "
                  f"{base:.2f} + {EDIT_TARGET_MS:.0f} ms = {base + EDIT_TARGET_MS:.2f} ms "
                  f"(overhead {s.median - base:+.2f} ms)")
        elif s.note == "readall":
            passed = s.median <= READ_ALL_TARGET_MS
            ok &= passed
            print(f"{'PASS' if passed else 'FAIL'}: {s.name} median {s.median:.2f} ms <= {READ_ALL_TARGET_MS:.0f} ms")
    return ok


def extension_revision() -> str:
    """Git commit of the jupyter_mcp_ext package measured, and whether its files differ from it."""
    import jupyter_mcp_ext

    package = Path(jupyter_mcp_ext.__file__).parent
    try:
        head = subprocess.run(["git", "-C", str(package), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(package), "status", "--porcelain", "--", "."],
                               capture_output=True, text=True, timeout=10, check=True).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return f"{package} (not a git checkout)"
    return f"{package} at commit {head}" + (f" + {len(dirty)} uncommitted file change(s)" if dirty else "")


def check_py_spy(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.py_spy:
        args.py_spy.mkdir(parents=True, exist_ok=True)
        if not shutil.which("py-spy"):
            parser.error("--py-spy needs py-spy on PATH (pip install py-spy)")


@contextlib.contextmanager
def running_server(
    args: argparse.Namespace, prefix: str, prepare_root: Callable[[Path], None] | None = None
) -> Iterator[tuple[JupyterServer, Path]]:
    """A Jupyter server on a fresh temporary root (``prepare_root`` fills it first), settled.

    On failure the server log's tail is printed; the server is always stopped and the temporary
    directory removed (unless ``--keep``).
    """
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    root = tmp / "root"
    root.mkdir()
    server: JupyterServer | None = None
    try:
        if prepare_root is not None:
            prepare_root(root)
        if args.server_cprofile:
            args.server_cprofile = args.server_cprofile.resolve()
            args.server_cprofile.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        server = start_server(tmp, root, args.server_cprofile, args.server_arg, getattr(args, "preload", []))
        if args.server_arg:
            print("Extra server arguments: " + " ".join(args.server_arg))
        print(f"Jupyter server pid {server.proc.pid} at {server.url} answered /api/status after "
              f"{time.perf_counter() - t0:.1f} s; settling {args.settle:.0f} s", flush=True)
        time.sleep(args.settle)  # let start-up work (extension discovery, language servers) finish
        yield server, root
    except BaseException:
        if server is not None:
            print(f"--- server log (tail) ---\n{server.log_tail()}", file=sys.stderr)
        raise
    finally:
        if server is not None:
            stop_server(server)
            print(f"Server stopped (exit code {server.proc.returncode}).")
        if args.keep:
            print(f"Kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def print_machine(dists: list[str], cpu_note: str = "") -> None:
    """Python, package versions, cores and load, and the extension code measured: what a figure depends on."""

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "-"

    print(f"Python {platform.python_version()} ({platform.python_implementation()}) on {platform.platform()}")
    print("Packages: " + ", ".join(f"{d} {version(d)}" for d in dists))
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    load = os.getloadavg()
    print(f"CPU cores: os.cpu_count()={os.cpu_count()}, usable by this process={affinity}; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}{cpu_note}")
    print(f"Extension code: {extension_revision()}")


def print_environment(args: argparse.Namespace) -> None:
    print_machine(["jupyter-mcp-ext", "mcp", "mcp-types", "jupyter_server", "jupyter-server-ydoc", "jupyter-ydoc",
                   "pycrdt", "pycrdt-websocket", "tornado", "httpx2", "pydantic", "jsonschema"])
    print(f"Mode: {args.mode}; n={args.n}, warm-up={args.warmup}, notebook cells={args.cells}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["auto", "legacy"], default="auto",
                        help="auto: modern protocol 2026-07-28; legacy: handshake era (initialize, SSE)")
    parser.add_argument("--n", type=int, default=200, help="timed calls per operation (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed calls before each block (default 20)")
    parser.add_argument("--cells", type=int, default=1000, help="cells of the read_all_cells notebook")
    parser.add_argument("--baseline", choices=["tool", "ping", "discover"], default=None,
                        help="no-op baseline (default: tool = a tools/call with no tool body)")
    parser.add_argument("--raw", action="store_true", help="also replay each block's HTTP requests without the SDK")
    parser.add_argument("--py-spy", type=Path, default=None, metavar="DIR", help="py-spy the server per block")
    parser.add_argument("--server-cprofile", type=Path, default=None, metavar="DIR",
                        help="run the server under a bootstrap that cProfiles its event loop per block (diagnostic)")
    parser.add_argument("--cprofile-client", default=None, metavar="OP",
                        help="cProfile the client during one block (names: no-op_baseline, ping, "
                             "tools_call_unknown_tool, list_files, get_notebook_info, append_markdown_cell, "
                             "overwrite_cell_source, read_all_cells)")
    parser.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                        help="extra Jupyter server argument, repeatable (e.g. --server-arg=--ServerApp.log_level=WARN)")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds to wait after the server answers")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (server log)")
    args = parser.parse_args()
    if args.n < 1 or args.warmup < 0:
        parser.error("--n must be >= 1 and --warmup >= 0")
    warnings.simplefilter("ignore")  # send_ping is deprecated in SDK 2.x; it is what the handshake era has

    print_environment(args)
    check_py_spy(parser, args)

    def prepare(root: Path) -> None:
        sizes = write_notebooks(root, args.cells)
        print(f"Notebooks: big.ipynb {args.cells} cells ({sizes['big.ipynb'] / 1024:.0f} KiB on disk), "
              f"edit.ipynb 10 cells (edits and get_notebook_info)")

    with running_server(args, "bench-mcp-", prepare) as (server, _):
        results = asyncio.run(benchmark(server, args, PySpy(args.py_spy, server.proc.pid)))
        ok = report(results, args)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
