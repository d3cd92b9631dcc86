"""Cost of running code through jupyter-mcp-ext, end to end, through the official MCP SDK client.

Not a test: it prints figures. Like ``bench_tools.py`` (whose server, profiling and statistics
helpers it imports) it starts a real Jupyter server (the extension auto-enables) as a subprocess
in a temporary directory, connects ``mcp.Client`` over Streamable HTTP with the server's token,
and in ONE run measures, one section after another:

1. the floor: a bare ``jupyter_client`` AsyncKernelClient on a python3 kernel that this script
   starts with its own KernelManager, executing ``1+1`` (execute_request sent -> execute_reply
   and IOPub status idle received), N runs;
2. the no-op MCP baseline: ``tools/call`` of a tool name that does not exist (the server answers
   a tool error result and does no work), on one open session; and as reference rows the
   protocol's own no-op (``server/discover`` in the modern protocol, ``ping`` in the handshake
   era) and the same no-op with an idle pause before each call as long as the raw kernel median
   (the client waits that long inside an execute call), which shows what waking up after a wait
   costs on the machine;
3. ``insert_execute_code_cell`` with ``1+1``, N runs, appended to one notebook (it grows by N
   cells; ``--fresh-every K`` moves to a new notebook every K runs instead, each new notebook's
   first call untimed because it starts a kernel). Target: median <= raw kernel median + no-op
   median + 2 ms. Also, as a reference row, the same call on a notebook a browser watches
   (``watcher.py`` in a process of its own: a pycrdt peer in the notebook's room and a
   subscriber to the UI events (mcp/ui-events), so every edit is broadcast and show-cell events are sent).
   Sections 1-3 run in ``--rounds`` rounds (default 4): each round times a block of N/rounds
   calls of every row (after 5 warm-up calls), in an order rotated from round to round, so a
   machine that is busier for a while slows every row alike; medians are over all of a row's
   calls. jupyter_server_ydoc writes every Y update to its SQLite y-store (.jupyter_ystore.db)
   in a background task: its row count is read from outside, and the block after an execute
   block starts once the writes it queued are done;
4. a cell printing 20,000 lines: time of the call, size of the tool result (bytes of its text
   content, and of its structured content), and that the notebook got every line (the .ipynb
   is read from disk once the room's autosave has written it);
5. 8 concurrent MCP clients (each its own HTTP client and MCP session) x 20 appended+executed
   cells each, each client in its own notebook: ops/s, errors, latency; then every notebook is
   read back with read_all_cells and each cell's unique marker (in its source and its output)
   is checked to be in its own notebook, once, with its own output. Target: >= 120 ops/s and 0
   errors;
6. the server's RSS (``VmRSS`` of /proc/<pid>/status) before and after 1,000 mixed tool calls
   over 50 short-lived MCP sessions (open a client, 20 calls: get_notebook_info, reads, appends,
   executes; close it), plus what can be seen from outside: /api/sessions and /api/kernels
   counts, the server's threads and open file descriptors, the y-store's rows. Target: RSS
   growth <= 20 MB.

Every timed row shows median, p95 (nearest rank), min, and the CPU time per call of this client
process, of the Jupyter server process, and of the kernels (the server's child processes; for
the raw floor, the script's own kernel), read from /proc around the block. The exit status is
0 when every target passes, 1 otherwise.

Usage::

    python benchmarks/bench_execute.py                  # modern protocol (mode auto)
    python benchmarks/bench_execute.py --mode legacy    # handshake era (initialize, session id, SSE)
    python benchmarks/bench_execute.py --n 500 --fresh-every 100

Diagnostics (their figures are not benchmark figures):

    --py-spy DIR            record the server with py-spy during the no-op blocks and sections 3, 5
                            and 6, and print the hottest server functions (DIR/<block>.txt, collapsed
                            stacks)
    --server-cprofile DIR   start the server under bench_tools.py's bootstrap and cProfile its
                            event-loop thread (CPU time) during the same blocks
    --skeleton              also time bare_execute and bare_wait (skeleton_tools.py, imported into the
                            server): the least an in-process MCP tool can do to run code, and a tool
                            that only sleeps as long as the kernel takes
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import gc
import json
import os
import secrets
import sqlite3
import statistics
import sys
import time
import urllib.request
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import nbformat
from jupyter_client.manager import AsyncKernelManager
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tools import (  # noqa: E402  (the shared server, profiling and statistics helpers)
    KERNELSPEC,
    JupyterServer,
    PySpy,
    ServerProfiler,
    Stats,
    check_py_spy,
    print_machine,
    process_cpu_seconds,
    running_server,
)

EXEC_MARGIN_MS = 2.0  # insert_execute_code_cell median <= raw kernel median + no-op median + this
CONCURRENT_TARGET_OPS = 120.0  # ops/s, 8 clients x 20 ops, 0 errors
RSS_TARGET_MB = 20.0  # growth of the server's RSS over the short-lived sessions
BIG_MARK = "BIGOUT"
WATCHED = "watched.ipynb"  # the notebook a browser (watcher.py) has open during sections 1-3
BLOCK_WARMUP = 5  # untimed calls before each block of sections 1-3


# -- processes ---------------------------------------------------------------------------


def children_of(pid: int) -> list[int]:
    """Pids of the direct children of a process (the server's kernels)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return found


def cpu_of(pids: list[int]) -> float:
    return sum(process_cpu_seconds(pid) or 0.0 for pid in pids)


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (kB), threads and open file descriptors of a process."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
        elif key == "Threads":
            out[key] = int(value)
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return out


def ystore_rows(server: JupyterServer) -> int | None:
    """Rows of jupyter_server_ydoc's update store (.jupyter_ystore.db in the server's CWD): one per Y update."""
    db = server.log_path.parent / "cwd" / ".jupyter_ystore.db"
    if not db.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            return conn.execute("SELECT COUNT(*) FROM yupdates").fetchone()[0]
    except sqlite3.Error:
        return None


async def ystore_drain(server: JupyterServer, quiet: float = 1.0, limit: float = 180.0) -> tuple[int | None, float]:
    """Wait until the y-store row count stops growing for ``quiet`` s; (rows, seconds until the last growth)."""
    t0 = last_change = time.monotonic()
    rows = ystore_rows(server)
    while time.monotonic() - last_change < quiet and time.monotonic() - t0 < limit:
        await asyncio.sleep(0.1)
        now_rows = ystore_rows(server)
        if now_rows != rows:
            rows, last_change = now_rows, time.monotonic()
    return rows, last_change - t0


def rest_count(server: JupyterServer, path: str) -> int:
    req = urllib.request.Request(server.url + path, headers={"Authorization": f"token {server.token}"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return len(json.load(resp))


# -- measuring -----------------------------------------------------------------------------


@dataclass
class Block(Stats):
    kernel_cpu_ms: float | None = None  # CPU time per call of the kernel process(es)
    errors: int = 0


class Probes:
    """What is recorded around a measured section: py-spy and/or the server's cProfile (diagnostics)."""

    def __init__(self, args: argparse.Namespace, server: JupyterServer) -> None:
        self.spy = PySpy(args.py_spy, server.proc.pid)
        self.profiler = ServerProfiler(args.server_cprofile, server.proc.pid) if args.server_cprofile else None

    @contextlib.contextmanager
    def around(self, name: str, calls: int) -> Any:
        self.spy.start(name)
        if self.profiler:
            self.profiler.start()
        try:
            yield
        finally:
            out = self.spy.stop()
            if self.profiler:
                self.profiler.stop(name, calls)
            if out is not None and out.exists():
                print(f"\n== py-spy, server during {name} ({out}) ==\n{summarize_threads(out)}", flush=True)


IDLE_LEAVES = ("select (", "Condition.wait", "_wait_for_tstate_lock", "Queue.get", "WorkerThread.run")
SKIP_INCLUSIVE = ("asyncio/", "_run_once", "run_forever", "<module>", "runpy", "launch_instance", "start_ioloop",
                  "_bootstrap", "ServerApp.start", "BaseAsyncIOLoop.start", "WorkerThread.run")


def summarize_threads(path: Path, top: int = 16) -> str:
    """py-spy collapsed stacks of the server, split by thread role (the event loop vs anyio's worker
    threads), each with idle waits left out: wall-clock samples of a thread that runs or waits for a CPU."""
    from bench_tools import _short_frame

    total: collections.Counter[str] = collections.Counter()
    busy: collections.Counter[str] = collections.Counter()
    own: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    inclusive: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count, frames = int(count_text), [_short_frame(frame) for frame in stack.split(";")]
        role = ("event loop" if any("start_ioloop" in f for f in frames)
                else "worker threads" if any("WorkerThread.run" in f for f in frames) else "other threads")
        total[role] += count
        if any(idle in frames[-1] for idle in IDLE_LEAVES):
            continue
        busy[role] += count
        own[role][frames[-1]] += count
        for frame in set(frames):
            inclusive[role][frame] += count
    lines = ["  samples by thread role (busy = not in an idle wait): "
             + ", ".join(f"{role} {busy[role]} busy of {total[role]}" for role in sorted(total))]
    for role in ("event loop", "worker threads"):
        if not busy[role]:
            continue
        lines.append(f"  {role}: self time, share of its busy samples:")
        lines += [f"    {100 * n / busy[role]:5.1f}%  {frame}" for frame, n in own[role].most_common(top // 2 if
                  role != "event loop" else top)]
        lines.append(f"  {role}: inclusive time, share of its busy samples:")
        shown = 0
        for frame, n in inclusive[role].most_common():
            if any(skip in frame for skip in SKIP_INCLUSIVE):
                continue
            lines.append(f"    {100 * n / busy[role]:5.1f}%  {frame}")
            shown += 1
            if shown >= (top + 10 if role == "event loop" else top // 2):
                break
    return "\n".join(lines)


async def timed_block(
    name: str,
    call: Callable[[int], Awaitable[Any]],
    check: Callable[[Any, int], None],
    *,
    n: int,
    warmup: int,
    server_pid: int,
    kernel_pids: Callable[[], list[int]],
    probe: tuple[Probes, str] | None = None,
    pause_s: float = 0.0,
) -> Block:
    """``warmup`` untimed then ``n`` timed sequential calls; CPU per call of client, server and kernels.

    With ``pause_s``, every call (warm-up and timed) follows an untimed idle pause of that length.
    With ``probe`` (diagnostics), the server is profiled around the timed calls only.
    """
    for i in range(warmup):
        if pause_s:
            await asyncio.sleep(pause_s)
        check(await call(i), i)
    gc.collect()
    kernels = kernel_pids()
    perf = time.perf_counter
    times: list[float] = []
    around = probe[0].around(probe[1], n) if probe else contextlib.nullcontext()
    with around:
        client0, server0, kernel0 = time.process_time(), process_cpu_seconds(server_pid), cpu_of(kernels)
        for i in range(warmup, warmup + n):
            if pause_s:
                await asyncio.sleep(pause_s)
            t0 = perf()
            result = await call(i)
            times.append((perf() - t0) * 1000)
            check(result, i)
        client1, server1, kernel1 = time.process_time(), process_cpu_seconds(server_pid), cpu_of(kernels)
    block = Block(name, times, client_cpu_ms=(client1 - client0) * 1000 / n)
    if server0 is not None and server1 is not None:
        block.server_cpu_ms = (server1 - server0) * 1000 / n
    if kernels:
        block.kernel_cpu_ms = (kernel1 - kernel0) * 1000 / n
    return block


def _cpu(value: float | None) -> str:
    return f"{value:8.2f}" if value is not None else f"{'-':>8}"


HEADER = (f"{'operation':56} {'n':>5} {'median':>8} {'p95':>8} {'min':>7} "
          f"{'cli cpu':>8} {'srv cpu':>8} {'krn cpu':>8}")


def row(block: Block) -> str:
    return (f"{block.name[:56]:56} {len(block.times_ms):5d} {block.median:8.2f} {block.p95:8.2f} {block.minimum:7.2f} "
            f"{_cpu(block.client_cpu_ms)} {_cpu(block.server_cpu_ms)} {_cpu(block.kernel_cpu_ms)}")


def distribution(times_ms: list[float]) -> Stats:
    return Stats("", times_ms)


# -- section 1: the raw kernel floor -------------------------------------------------------


class RawKernel:
    """A python3 kernel started by this script, driven by a bare AsyncKernelClient."""

    def __init__(self) -> None:
        self.km = AsyncKernelManager(kernel_name="python3")
        self.kc: Any = None

    async def start(self) -> None:
        await self.km.start_kernel()
        self.kc = self.km.client()
        self.kc.start_channels()
        await self.kc.wait_for_ready(timeout=60)

    @property
    def pid(self) -> int:
        return self.km.provisioner.process.pid  # LocalProvisioner

    async def execute(self, code: str) -> dict[str, Any]:
        """Send an execute_request; return the execute_reply once it and IOPub idle have both arrived."""
        kc = self.kc
        msg_id = kc.execute(code, allow_stdin=False)  # store_history=True, as a notebook cell
        while True:
            msg = await kc.get_iopub_msg(timeout=30)
            if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "status"
                    and msg["content"]["execution_state"] == "idle"):
                break
        while True:
            reply = await kc.get_shell_msg(timeout=30)
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply

    async def stop(self) -> None:
        if self.kc is not None:
            self.kc.stop_channels()
        await self.km.shutdown_kernel(now=True)


class Watcher:
    """``watcher.py`` in a process of its own: a person with the notebook open in JupyterLab."""

    def __init__(self, server: JupyterServer, path: str) -> None:
        self.server, self.path = server, path
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        script = Path(__file__).resolve().parent / "watcher.py"
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, str(script), self.server.url, self.server.token, self.path,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        if line.strip() != b"ready":
            raise RuntimeError(f"watcher.py did not start: {line!r}")

    async def stop(self) -> dict[str, Any]:
        """What the watcher saw: the cells of its document and the show-cell events it received."""
        assert self.proc is not None
        self.proc.stdin.close()
        out, _ = await asyncio.wait_for(self.proc.communicate(), 60)
        return json.loads(out.decode().strip().splitlines()[-1])


def raw_ok(reply: dict[str, Any], _: int) -> None:
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"raw kernel execution failed: {reply['content']}")


# -- MCP helpers ---------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def mcp_session(server: JupyterServer, mode: str) -> AsyncIterator[Client]:
    """One MCP client: its own HTTP client (connection pool) and its own MCP session."""
    headers = {"Authorization": f"Bearer {server.token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=300) as http:
        async with Client(streamable_http_client(server.url + "mcp", http_client=http), mode=mode) as client:
            yield client


def text_of(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


def tool_ok(result: Any, _: int = 0) -> None:
    if result.is_error:
        raise RuntimeError(f"tool call failed: {text_of(result)[:500]}")


def executed(result: Any, expect: str) -> None:
    """An insert_execute_code_cell result that ran and whose outputs contain ``expect``."""
    tool_ok(result)
    sc = result.structured_content
    if sc["status"] != "ok":
        raise RuntimeError(f"execution status {sc['status']}: {text_of(result)[:500]}")
    outputs = "".join(o["text"] for o in sc["outputs"])
    if expect not in outputs:
        raise RuntimeError(f"expected {expect!r} in the outputs, got {outputs[:200]!r}")


def unknown_tool_answered(result: Any, _: int) -> None:
    if not result.is_error:
        raise RuntimeError("the unknown tool unexpectedly succeeded")


def ignore(_: Any, __: int) -> None:
    pass


def new_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nbformat.write(nb, path)


def stream_text(output: dict[str, Any]) -> str:
    text = output.get("text", "")
    return "".join(text) if isinstance(text, list) else text


# -- sections 1-3: latency -------------------------------------------------------------------


async def latency(server: JupyterServer, root: Path, args: argparse.Namespace, probes: Probes,
                  client: Client) -> dict[str, Any]:
    """Sections 1-3 in ``args.rounds`` rounds: each round times a block of every row, in an order
    rotated from round to round, so a machine that is busier for a while slows every row alike."""
    pid = server.proc.pid
    raw = RawKernel()
    t0 = time.perf_counter()
    await raw.start()
    print(f"raw kernel (pid {raw.pid}) ready in {time.perf_counter() - t0:.2f} s", flush=True)
    modern = client.protocol_version in MODERN_PROTOCOL_VERSIONS
    server_kernels = lambda: children_of(pid)  # noqa: E731
    exec_paths: list[str] = []
    since_new = 0  # timed executions in the current notebook

    def next_exec_notebook() -> None:
        exec_paths.append(f"exec_{len(exec_paths)}.ipynb")
        new_notebook(root / exec_paths[-1])

    async def raw_call(_: int) -> Any:
        return await raw.execute("1+1")

    async def noop(_: int) -> Any:
        return await client.call_tool("no_such_tool", {})

    async def protocol_noop(_: int) -> Any:
        if modern:
            return await client.session.send_discover(client.protocol_version)
        return await client.session.send_ping()

    async def execute(_: int) -> Any:
        return await client.call_tool("insert_execute_code_cell", {"notebook_path": exec_paths[-1], "source": "1+1"})

    async def watched(_: int) -> Any:
        return await client.call_tool("insert_execute_code_cell", {"notebook_path": WATCHED, "source": "1+1"})

    async def bare(_: int) -> Any:
        return await client.call_tool("bare_execute", {"notebook_path": exec_paths[-1], "source": "1+1"})

    async def wait(_: int) -> Any:
        return await client.call_tool("bare_wait", {"seconds": pause})

    def two(result: Any, _: int) -> None:
        executed(result, "2")

    # Start the notebook's kernel and settle the paced no-op's pause (the raw median) before timing.
    next_exec_notebook()
    for i in range(args.warmup):
        two(await execute(i), i)
        raw_ok(await raw_call(i), i)
    pause = statistics.median([await _timed(raw_call) for _ in range(args.warmup)]) / 1000
    new_notebook(root / WATCHED)
    watcher = Watcher(server, WATCHED)
    await watcher.start()
    for i in range(args.warmup):
        two(await watched(i), i)

    # key: (label, call, check, kernel pids, idle pause before each call)
    rows: dict[str, tuple[str, Callable[[int], Awaitable[Any]], Callable[[Any, int], None], Any, float]] = {
        "raw": ("FLOOR: raw AsyncKernelClient 1+1", raw_call, raw_ok, lambda: [raw.pid], 0.0),
        "noop": ("NO-OP BASELINE: tools/call unknown tool", noop, unknown_tool_answered, server_kernels, 0.0),
        "ref": ("ref: server/discover (modern no-op request)" if modern else "ref: ping (handshake-era no-op)",
                protocol_noop, ignore, server_kernels, 0.0),
        "noop_paced": (f"ref: no-op, each after an idle pause of {pause * 1000:.1f} ms", noop,
                       unknown_tool_answered, server_kernels, pause),
        "exec": ("insert_execute_code_cell 1+1" + (f" (new notebook every {args.fresh_every})" if args.fresh_every
                                                   else " (one notebook, grows)"), execute, two, server_kernels, 0.0),
        "watched": ("insert_execute_code_cell 1+1, a browser watching", watched, two, server_kernels, 0.0),
    }
    if args.skeleton:
        rows["bare"] = ("diag: bare_execute 1+1 (runner only, --skeleton)", bare, tool_ok, server_kernels, 0.0)
        rows["wait"] = (f"diag: bare_wait {pause * 1000:.1f} ms (sleeps, --skeleton)", wait, tool_ok,
                        server_kernels, 0.0)
    parts: dict[str, list[Block]] = {key: [] for key in rows}
    per_round = -(-args.n // args.rounds)
    ystore = {"rows": 0, "executes": 0, "late": 0, "known": True}  # over the execute blocks
    keys = list(rows)
    for r in range(args.rounds):
        order = keys[r % len(keys):] + keys[:r % len(keys)]
        print(f"timing: round {r + 1} of {args.rounds}: {', '.join(order)} ...", flush=True)
        for key in order:
            label, call, check, kernel_pids, pause_s = rows[key]
            n = min(per_round, args.n - sum(len(b.times_ms) for b in parts[key]))
            while n > 0:
                size = n
                if key == "exec" and args.fresh_every:
                    if since_new >= args.fresh_every:
                        next_exec_notebook()  # its first (untimed) call starts its kernel
                        since_new = 0
                    size = min(n, args.fresh_every - since_new)
                probe = (probes, f"{key}_{r}") if key in ("noop", "exec") else None
                rows_start = ystore_rows(server) if key == "exec" else None
                parts[key].append(await timed_block(label, call, check, n=size, warmup=BLOCK_WARMUP, server_pid=pid,
                                                    kernel_pids=kernel_pids, probe=probe, pause_s=pause_s))
                n -= size
                if key == "exec":
                    since_new += size
                    # jupyter_server_ydoc writes every Y update to its SQLite y-store in a task of its own:
                    # the next block starts once the writes queued by this one are done.
                    end = ystore_rows(server)
                    drained, _ = await ystore_drain(server)
                    if None in (rows_start, end, drained):
                        ystore["known"] = False
                    else:
                        ystore["rows"] += drained - rows_start
                        ystore["executes"] += size + BLOCK_WARMUP
                        ystore["late"] = max(ystore["late"], drained - end)
    await raw.stop()
    seen = await watcher.stop()

    blocks: dict[str, Any] = {key: merge(rows[key][0], parts[key]) for key in rows}
    watched_runs = args.warmup + sum(len(b.times_ms) + BLOCK_WARMUP for b in parts["watched"])
    blocks["watcher"] = {"runs": watched_runs, **seen}
    blocks["ystore"] = ystore
    info = (await client.call_tool("get_notebook_info", {"notebook_path": exec_paths[-1]})).structured_content
    blocks["exec_cells"] = info["cell_count"]
    blocks["exec_paths"] = exec_paths
    blocks["pause_ms"] = pause * 1000
    return blocks


async def _timed(call: Callable[[int], Awaitable[Any]]) -> float:
    t0 = time.perf_counter()
    await call(0)
    return (time.perf_counter() - t0) * 1000


def merge(name: str, parts: list[Block]) -> Block:
    """One row from blocks of the same call: all their times, CPU per call weighted by calls."""
    block = Block(name, [t for part in parts for t in part.times_ms])
    total = len(block.times_ms)
    for attr in ("client_cpu_ms", "server_cpu_ms", "kernel_cpu_ms"):
        values = [getattr(part, attr) for part in parts]
        setattr(block, attr, None if None in values else
                sum(v * len(part.times_ms) for v, part in zip(values, parts)) / total)
    return block


# -- section 4: a cell printing 20,000 lines -------------------------------------------------


async def big_output(server: JupyterServer, root: Path, args: argparse.Namespace, client: Client) -> dict[str, Any]:
    path = "bigout.ipynb"
    new_notebook(root / path)
    tool_ok(await client.call_tool("insert_execute_code_cell", {"notebook_path": path, "source": "1+1"}))  # kernel
    lines = args.lines
    runs = []
    for run in range(args.big_runs):
        code = f"for i in range({lines}):\n    print(f'{BIG_MARK}-{run}-{{i:06d}}')"
        t0 = time.perf_counter()
        result = await client.call_tool("insert_execute_code_cell", {"notebook_path": path, "source": code})
        elapsed = (time.perf_counter() - t0) * 1000
        executed(result, f"{BIG_MARK}-{run}-{lines - 1:06d}")  # the tail of the output is kept
        text_bytes = sum(len(b.text.encode()) for b in result.content if getattr(b, "type", "") == "text")
        structured_bytes = len(json.dumps(result.structured_content).encode())
        runs.append({"ms": elapsed, "text_bytes": text_bytes, "structured_bytes": structured_bytes,
                     "cell_id": result.structured_content["cell_id"], "notes": result.structured_content["notes"]})
        print(f"  big output run {run}: {elapsed:.0f} ms, text content {text_bytes} B", flush=True)

    # The live document reaches disk through the room's autosave (YDocExtension.document_save_delay).
    expected = {r["cell_id"]: [f"{BIG_MARK}-{n}-{i:06d}" for i in range(lines)] for n, r in enumerate(runs)}
    t0 = time.monotonic()
    verdict, on_disk = "not checked", {}
    while time.monotonic() - t0 < args.save_wait:
        try:
            nb = json.loads((root / path).read_text())
        except (OSError, json.JSONDecodeError):
            await asyncio.sleep(0.25)
            continue
        on_disk = {}
        for cell in nb["cells"]:
            if cell.get("id") in expected:
                text = "".join(stream_text(o) for o in cell.get("outputs", []) if o.get("output_type") == "stream")
                on_disk[cell["id"]] = text.splitlines()
        if all(on_disk.get(cid) == want for cid, want in expected.items()):
            verdict = f"all {lines} lines of each of the {len(runs)} cells on disk, in order"
            break
        await asyncio.sleep(0.25)
    else:
        verdict = "MISSING: " + "; ".join(f"cell {cid}: {len(on_disk.get(cid, []))}/{lines} lines"
                                          for cid in expected)
    seen_after = time.monotonic() - t0
    info = (await client.call_tool("get_notebook_info", {"notebook_path": path})).structured_content
    return {"runs": runs, "verdict": verdict, "seen_after": seen_after, "size_bytes": info["size_bytes"],
            "file_bytes": (root / path).stat().st_size, "ok": verdict.startswith("all")}


# -- section 5: concurrent clients -----------------------------------------------------------


async def concurrent(server: JupyterServer, root: Path, args: argparse.Namespace, probes: Probes,
                     client: Client) -> dict[str, Any]:
    workers, per = args.clients, args.per_client
    tag = secrets.token_hex(3)
    paths = [f"conc_{c}.ipynb" for c in range(workers)]
    for p in paths:
        new_notebook(root / p)
    barrier = asyncio.Barrier(workers + 1)
    latencies: list[float] = []
    errors: list[str] = []
    ends: list[float] = []

    async def worker(c: int) -> None:
        passed = False
        try:
            async with mcp_session(server, args.mode) as mcp:
                # untimed: starts this notebook's kernel (and opens its room)
                try:
                    executed(await mcp.call_tool("insert_execute_code_cell",
                                                 {"notebook_path": paths[c], "source": f"print('WARM-{c}')"}),
                             f"WARM-{c}")
                except Exception as error:  # noqa: BLE001
                    errors.append(f"client {c} warm-up: {error}")
                passed = True
                await barrier.wait()
                for i in range(per):
                    marker = f"MARK-{tag}-c{c:02d}-i{i:03d}"
                    t0 = time.perf_counter()
                    try:
                        result = await mcp.call_tool("insert_execute_code_cell",
                                                     {"notebook_path": paths[c], "source": f"print('{marker}')"})
                        latencies.append((time.perf_counter() - t0) * 1000)
                        executed(result, marker)
                    except Exception as error:  # noqa: BLE001
                        errors.append(f"client {c} op {i}: {error}")
                ends.append(time.perf_counter())
        except Exception as error:  # noqa: BLE001
            errors.append(f"client {c}: {type(error).__name__}: {error}")
        finally:
            if not passed:
                await barrier.wait()

    tasks = [asyncio.create_task(worker(c)) for c in range(workers)]
    await barrier.wait()  # every client connected and warmed up
    pid = server.proc.pid
    kernels = children_of(pid)
    client0, server0, kernel0 = time.process_time(), process_cpu_seconds(pid), cpu_of(kernels)
    t0 = time.perf_counter()
    with probes.around("concurrent", workers * per):
        await asyncio.gather(*tasks)
        wall = (max(ends) if ends else time.perf_counter()) - t0
    client1, server1, kernel1 = time.process_time(), process_cpu_seconds(pid), cpu_of(kernels)
    ops = workers * per

    # Every cell in its own notebook: the markers in the sources, and each cell's output is its own marker.
    placed, misplaced, mismatched, duplicates, counts_ok = 0, [], [], 0, True
    for c, p in enumerate(paths):
        result = await client.call_tool("read_all_cells", {"notebook_path": p})
        tool_ok(result)
        seen: set[str] = set()
        counts: list[int] = []
        for cell in result.structured_content["cells"]:
            source = cell["source"]
            if "MARK-" not in source:
                continue
            marker = source.split("'")[1]
            owner = int(marker.rsplit("-c", 1)[1].split("-")[0])  # (the random tag may contain "-c")
            if owner != c or tag not in marker:
                misplaced.append(f"{marker} in {p}")
                continue
            out = "".join(o["text"] for o in cell.get("outputs") or []).strip()
            if out != marker:
                mismatched.append(f"{marker}: output {out[:80]!r}")
            if marker in seen:
                duplicates += 1
            seen.add(marker)
            counts.append(cell.get("execution_count") or -1)
        placed += len(seen)
        counts_ok &= counts == sorted(counts) and len(set(counts)) == len(counts) and -1 not in counts
    return {
        "ops": ops, "wall": wall, "ops_per_s": ops / wall if wall > 0 else 0.0, "errors": errors,
        "latency": distribution(latencies) if latencies else None, "placed": placed, "misplaced": misplaced,
        "mismatched": mismatched, "duplicates": duplicates, "counts_ok": counts_ok,
        "cpu": {"client": client1 - client0, "server": (server1 or 0) - (server0 or 0), "kernels": kernel1 - kernel0},
    }


# -- section 6: memory over short-lived sessions ---------------------------------------------


# 20 calls per session: 5 get_notebook_info, 5 reads, 5 appends, 5 executions.
PATTERN = [
    "info", "read_notebook", "append_code", "execute",
    "info", "read_cell", "append_markdown", "execute",
    "info", "read_all_cells", "append_code", "execute",
    "info", "read_notebook", "append_markdown", "execute",
    "info", "read_cell", "append_code", "execute",
]


def mixed_call(op: str, path: str, s: int, k: int) -> tuple[str, dict[str, Any]]:
    if op == "info":
        return "get_notebook_info", {"notebook_path": path}
    if op == "read_notebook":
        return "read_notebook", {"notebook_path": path, "offset": 0, "limit": 20}
    if op == "read_cell":
        return "read_cell", {"notebook_path": path, "cell_index": -1}
    if op == "read_all_cells":
        return "read_all_cells", {"notebook_path": path}
    if op == "append_code":
        return "append_code_cell", {"notebook_path": path, "source": f"y_{s}_{k} = {k}"}
    if op == "append_markdown":
        return "append_markdown_cell", {"notebook_path": path, "source": f"Session {s}, call {k}."}
    return "insert_execute_code_cell", {"notebook_path": path, "source": f"z = {s} * 100 + {k}\nprint(z)"}


async def sessions_memory(server: JupyterServer, root: Path, args: argparse.Namespace,
                          probes: Probes) -> dict[str, Any]:
    pid = server.proc.pid
    paths = ["mix_0.ipynb", "mix_1.ipynb"]
    for p in paths:
        new_notebook(root / p)
    errors: list[str] = []
    calls = 0
    session_open_ms: list[float] = []
    session_total_ms: list[float] = []

    async def one_session(s: int) -> None:
        nonlocal calls
        path = paths[s % len(paths)]
        t0 = time.perf_counter()
        try:
            async with mcp_session(server, args.mode) as mcp:
                session_open_ms.append((time.perf_counter() - t0) * 1000)
                for k in range(args.calls_per_session):
                    op = PATTERN[k % len(PATTERN)]
                    name, arguments = mixed_call(op, path, s, k)
                    calls += 1
                    try:
                        result = await mcp.call_tool(name, arguments)
                        if op == "execute":
                            executed(result, str(s * 100 + k))
                        else:
                            tool_ok(result)
                    except Exception as error:  # noqa: BLE001
                        errors.append(f"session {s} call {k} ({name}): {error}")
        except Exception as error:  # noqa: BLE001
            errors.append(f"session {s}: {type(error).__name__}: {error}")
        session_total_ms.append((time.perf_counter() - t0) * 1000)

    # Warm-up (not counted): one session per notebook starts its kernel and opens its room.
    for s in range(-len(paths), 0):
        await one_session(s)
    errors.clear()
    calls = 0
    session_open_ms.clear()
    session_total_ms.clear()
    await asyncio.sleep(1.0)
    await ystore_drain(server)
    before = proc_status(pid) | {"sessions": rest_count(server, "api/sessions"),
                                 "kernels": rest_count(server, "api/kernels"), "ystore": ystore_rows(server)}
    samples = [(0, before["VmRSS"])]
    t0 = time.perf_counter()
    with probes.around("sessions", args.sessions * args.calls_per_session):
        for s in range(args.sessions):
            await one_session(s)
            if (s + 1) % max(1, args.sessions // 5) == 0:
                samples.append((s + 1, proc_status(pid)["VmRSS"]))
    wall = time.perf_counter() - t0
    after = proc_status(pid) | {"sessions": rest_count(server, "api/sessions"),
                                "kernels": rest_count(server, "api/kernels"), "ystore": ystore_rows(server)}
    await asyncio.sleep(args.rss_settle)
    settled = proc_status(pid) | {"ystore": ystore_rows(server)}
    cells = []
    async with mcp_session(server, args.mode) as mcp:
        for p in paths:
            info = await mcp.call_tool("get_notebook_info", {"notebook_path": p})
            cells.append(info.structured_content["cell_count"])
    return {"before": before, "after": after, "settled": settled, "samples": samples, "wall": wall, "calls": calls,
            "errors": errors, "open": distribution(session_open_ms), "session": distribution(session_total_ms),
            "cells": dict(zip(paths, cells))}


# -- the run ----------------------------------------------------------------------------------


async def benchmark(server: JupyterServer, root: Path, args: argparse.Namespace) -> bool:
    probes = Probes(args, server)
    async with mcp_session(server, args.mode) as client:
        print(f"MCP session: mode={args.mode}, negotiated protocol {client.protocol_version}", flush=True)
        await client.list_tools()  # the client validates structured results against these schemas
        lat = await latency(server, root, args, probes, client)
        print("section 4: a cell printing lines ...", flush=True)
        big = await big_output(server, root, args, client)
        print("section 5: concurrent clients ...", flush=True)
        conc = await concurrent(server, root, args, probes, client)
    print("section 6: short-lived sessions, memory ...", flush=True)
    mem = await sessions_memory(server, root, args, probes)
    return report(lat, big, conc, mem, args)


def report(lat: dict[str, Any], big: dict[str, Any], conc: dict[str, Any], mem: dict[str, Any],
           args: argparse.Namespace) -> bool:
    raw, noop, ex, paced = lat["raw"], lat["noop"], lat["exec"], lat["noop_paced"]
    print()
    print(f"== 1-3. Latency (ms; sequential calls, one MCP session; {args.rounds} rounds, each timing a block of "
          f"every row in an order rotated from round to round; each block after {BLOCK_WARMUP} warm-up calls) ==")
    print(f"{args.n} timed calls per row; notebook(s) {', '.join(lat['exec_paths'])} ended with "
          f"{lat['exec_cells']} cells.")
    print(HEADER)
    print("-" * len(HEADER))
    for key in ("raw", "noop", "ref", "noop_paced", "wait", "bare", "exec", "watched"):
        if key in lat:
            print(row(lat[key]))
    print("(cli/srv/krn cpu = CPU ms per call, mean over the blocks, of this client process / the Jupyter server "
          "process (all threads) / the kernel process(es))")
    ys = lat["ystore"]
    if ys["known"] and ys["executes"]:
        print(f"y-store (jupyter_server_ydoc's SQLite of Y updates), over the execute blocks: {ys['rows']} rows for "
              f"{ys['executes']} executions ({ys['rows'] / ys['executes']:.2f} per execution); at most {ys['late']} "
              "were still queued when a block ended (the next block starts once they are written)")
    floor_plus = raw.median + noop.median
    print(f"execute vs floor: median {ex.median:.2f} ms = {ex.median / raw.median:.2f} x raw kernel; "
          f"{ex.median - floor_plus:+.2f} ms over raw + no-op ({floor_plus:.2f} ms); "
          f"{ex.median / noop.median:.2f} x no-op; p95 {ex.p95:.2f} ms vs raw p95 {raw.p95:.2f} + no-op p95 "
          f"{noop.p95:.2f}")
    ok_exec = ex.median <= floor_plus + EXEC_MARGIN_MS
    print(f"{'PASS' if ok_exec else 'FAIL'}: insert_execute_code_cell median {ex.median:.2f} ms <= raw kernel median "
          f"{raw.median:.2f} + no-op median {noop.median:.2f} + {EXEC_MARGIN_MS:.0f} ms = "
          f"{floor_plus + EXEC_MARGIN_MS:.2f} ms")
    print(f"(reference: the same no-op after idle pauses takes {paced.median:.2f} ms, "
          f"{paced.median - noop.median:+.2f} ms over the back-to-back no-op: a cost of waking up after a wait, "
          f"which an execute call pays too; against it the execute call is "
          f"{ex.median - raw.median - paced.median:+.2f} ms over raw + no-op)")
    watched, seen = lat["watched"], lat["watcher"]
    print(f"a browser watching (watcher.py: a pycrdt peer in the notebook's room and a subscriber to the UI events, "
          f"in a process of its own): median {watched.median:.2f} ms, {watched.median - ex.median:+.2f} ms over the "
          f"unwatched notebook; its document ended with {seen['cells']} cells for {seen['runs']} executions, and it "
          f"received {seen['show_cell_events']} show-cell events")
    if "bare" in lat:
        bare = lat["bare"]
        wait = lat["wait"]
        print(f"(diagnostic: bare_execute, the least an in-process tool can do, takes {bare.median:.2f} ms, "
              f"{bare.median - floor_plus:+.2f} ms over raw + no-op; insert_execute_code_cell is "
              f"{ex.median - bare.median:+.2f} ms over it. bare_wait, a tool that only sleeps as long as the raw "
              f"median, takes {wait.median:.2f} ms: {wait.median - noop.median - lat['pause_ms']:+.2f} ms over no-op + "
              f"that sleep)")

    print()
    print(f"== 4. A cell printing {args.lines:,} lines (insert_execute_code_cell, {args.big_runs} runs, "
          "one notebook) ==")
    for n, r in enumerate(big["runs"]):
        print(f"  run {n}: {r['ms']:.0f} ms; tool result text content {r['text_bytes']:,} B, structured content "
              f"{r['structured_bytes']:,} B; notes: {'; '.join(r['notes']) or '-'}")
    print(f"  median {statistics.median(r['ms'] for r in big['runs']):.0f} ms")
    print(f"  on disk after {big['seen_after']:.1f} s (autosave): {big['verdict']}; "
          f"bigout.ipynb {big['file_bytes']:,} B "
          f"(get_notebook_info size_bytes {big['size_bytes']})")
    ok_big = big["ok"]
    print(f"{'PASS' if ok_big else 'FAIL'}: the notebook got every line")

    print()
    print(f"== 5. {args.clients} concurrent MCP clients x {args.per_client} insert_execute_code_cell, each in its own "
          f"notebook (each client: own HTTP client and session; one untimed warm-up call each starts its kernel) ==")
    lat5 = conc["latency"]
    cpu = conc["cpu"]
    print(f"  {conc['ops']} ops in {conc['wall']:.2f} s = {conc['ops_per_s']:.1f} ops/s; errors {len(conc['errors'])}"
          + (f"; per-op latency median {lat5.median:.1f} ms, p95 {lat5.p95:.1f} ms" if lat5 else ""))
    print(f"  CPU during the phase (s): this client process {cpu['client']:.2f}, server {cpu['server']:.2f}, "
          f"kernels {cpu['kernels']:.2f} (of {conc['wall'] * (os.cpu_count() or 1):.2f} core-seconds available); "
          f"per op: client {cpu['client'] * 1000 / conc['ops']:.1f} ms, "
          f"server {cpu['server'] * 1000 / conc['ops']:.1f} ms, "
          f"kernels {cpu['kernels'] * 1000 / conc['ops']:.1f} ms")
    print(f"  read back with read_all_cells: {conc['placed']}/{conc['ops']} markers found in their own notebook; "
          f"misplaced {len(conc['misplaced'])}, output mismatches {len(conc['mismatched'])}, duplicates "
          f"{conc['duplicates']}; execution counts increasing in every notebook: {conc['counts_ok']}")
    for line in (conc["errors"] + conc["misplaced"] + conc["mismatched"])[:8]:
        print(f"    ! {line}")
    ok_conc = (conc["ops_per_s"] >= CONCURRENT_TARGET_OPS and not conc["errors"] and conc["placed"] == conc["ops"]
               and not conc["misplaced"] and not conc["mismatched"] and not conc["duplicates"])
    print(f"{'PASS' if ok_conc else 'FAIL'}: {conc['ops_per_s']:.1f} ops/s >= {CONCURRENT_TARGET_OPS:.0f} with "
          f"{len(conc['errors'])} errors and every cell in its own notebook ({conc['placed']}/{conc['ops']})")

    print()
    b, a, st = mem["before"], mem["after"], mem["settled"]
    print(f"== 6. Server memory over {args.sessions} short-lived MCP sessions x {args.calls_per_session} mixed calls "
          f"({mem['calls']} calls: get_notebook_info, read_notebook/read_cell/read_all_cells, append code/markdown, "
          f"insert_execute_code_cell; 2 notebooks, alternating) ==")
    print(f"  {mem['wall']:.1f} s; errors {len(mem['errors'])}; session open (client connect) median "
          f"{mem['open'].median:.1f} ms; whole session median {mem['session'].median:.0f} ms; notebooks ended with "
          + ", ".join(f"{p} {n} cells" for p, n in mem["cells"].items()))
    for line in mem["errors"][:8]:
        print(f"    ! {line}")
    growth = (a["VmRSS"] - b["VmRSS"]) / 1024
    print(f"  VmRSS (MB): before {b['VmRSS'] / 1024:.1f}, after {a['VmRSS'] / 1024:.1f} (growth {growth:+.1f}), "
          f"after {args.rss_settle:.0f} s more {st['VmRSS'] / 1024:.1f}; VmHWM {st['VmHWM'] / 1024:.1f}")
    print("  VmRSS along the way (sessions done: MB): "
          + ", ".join(f"{s}: {kb / 1024:.1f}" for s, kb in mem["samples"]))
    print(f"  seen from outside, before -> after: /api/sessions {b['sessions']} -> {a['sessions']}, /api/kernels "
          f"{b['kernels']} -> {a['kernels']}, server threads {b['Threads']} -> {a['Threads']} (settled "
          f"{st['Threads']}), open fds {b['fds']} -> {a['fds']} (settled {st['fds']}), y-store rows {b['ystore']} -> "
          f"{a['ystore']} (settled {st['ystore']}; on disk, not RSS)")
    ok_mem = growth <= RSS_TARGET_MB and not mem["errors"]
    print(f"{'PASS' if ok_mem else 'FAIL'}: RSS growth {growth:+.1f} MB <= {RSS_TARGET_MB:.0f} MB"
          f" with {len(mem['errors'])} errors")
    ok = ok_exec and ok_big and ok_conc and ok_mem
    print()
    load = os.getloadavg()
    print(f"Load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; a busy loop here gets "
          f"{core_share():.0%} of a core")
    print("ALL TARGETS PASS" if ok else "SOME TARGETS FAIL (profile with --py-spy DIR or --server-cprofile DIR)")
    return ok


def core_share(seconds: float = 0.5) -> float:
    """Share of one core a busy loop in this process gets right now (other load on the machine shows here)."""
    wall0, cpu0 = time.perf_counter(), time.thread_time()
    while time.perf_counter() - wall0 < seconds:
        pass
    return (time.thread_time() - cpu0) / (time.perf_counter() - wall0)


def print_environment(args: argparse.Namespace) -> None:
    print_machine(["jupyter-mcp-ext", "mcp", "mcp-types", "jupyter_server", "jupyter-server-ydoc", "jupyter-ydoc",
                   "pycrdt", "jupyter_client", "ipykernel", "pyzmq", "tornado", "httpx2", "pydantic"],
                  f"; a busy loop here gets {core_share():.0%} of a core")
    print(f"Mode: {args.mode}; n={args.n} in {args.rounds} rounds, warm-up={args.warmup}, fresh notebook every "
          f"{args.fresh_every or 'never'}; {args.clients} clients x {args.per_client}; {args.sessions} sessions x "
          f"{args.calls_per_session} calls; {args.lines} output lines x {args.big_runs}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=["auto", "legacy"], default="auto",
                        help="auto: modern protocol 2026-07-28; legacy: handshake era (initialize, SSE)")
    parser.add_argument("--n", type=int, default=200, help="timed calls per latency row (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed calls before each latency block (default 20)")
    parser.add_argument("--rounds", type=int, default=4,
                        help="sections 1-3: rounds of blocks in rotated order (default 4)")
    parser.add_argument("--fresh-every", type=int, default=0, metavar="K",
                        help="execute block: a new notebook every K timed runs (default 0: one notebook)")
    parser.add_argument("--lines", type=int, default=20000, help="lines printed by the big-output cell")
    parser.add_argument("--big-runs", type=int, default=3, help="runs of the big-output cell (default 3)")
    parser.add_argument("--save-wait", type=float, default=60.0, help="seconds to wait for the big output on disk")
    parser.add_argument("--clients", type=int, default=8, help="concurrent MCP clients (default 8)")
    parser.add_argument("--per-client", type=int, default=20, help="executions per concurrent client (default 20)")
    parser.add_argument("--sessions", type=int, default=50, help="short-lived sessions (default 50)")
    parser.add_argument("--calls-per-session", type=int, default=20, help="calls per short-lived session (default 20)")
    parser.add_argument("--rss-settle", type=float, default=5.0, help="seconds before the last RSS reading")
    parser.add_argument("--py-spy", type=Path, default=None, metavar="DIR",
                        help="py-spy the server (no-op blocks, sections 3, 5, 6; diagnostic)")
    parser.add_argument("--server-cprofile", type=Path, default=None, metavar="DIR",
                        help="cProfile the server's event loop (no-op blocks, sections 3, 5, 6; diagnostic)")
    parser.add_argument("--skeleton", action="store_true",
                        help="also time bare_execute (benchmarks/skeleton_tools.py, imported into the server): "
                             "the least an in-process tool can do to run code (diagnostic)")
    parser.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                        help="extra Jupyter server argument, repeatable")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds to wait after the server answers")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (server log, notebooks)")
    args = parser.parse_args()
    if args.n < 1 or args.warmup < 1 or args.rounds < 1 or args.fresh_every < 0:
        parser.error("--n, --warmup and --rounds must be >= 1, --fresh-every >= 0")
    warnings.simplefilter("ignore")  # send_ping is deprecated in SDK 2.x; it is what the handshake era has

    args.preload = ["skeleton_tools"] if args.skeleton else []
    if args.skeleton and args.server_cprofile:
        parser.error("--skeleton and --server-cprofile cannot be combined")
    print_environment(args)
    check_py_spy(parser, args)
    with running_server(args, "bench-exec-") as (server, root):
        ok = asyncio.run(benchmark(server, root, args))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
