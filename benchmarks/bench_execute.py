"""Cost of running code through jupyter-mcp-ext, end to end, through the official MCP SDK client.

It starts a real Jupyter server (the extension auto-enables, and ``skeleton_tools.py`` is imported
into it for the ``bare_execute`` reference tool) in a temporary directory, connects ``mcp.Client``
over Streamable HTTP, and measures, one section after another:

1. Latency, N sequential runs of ``1+1`` per row on one MCP session, in rotated rounds (see
   ``harness.rotated_rounds``):
   - ``bare_execute``, the least an in-process MCP tool can do to run code (the extension's
     kernel runner, nothing else): the reference of the target;
   - ``insert_execute_code_cell``, appended to one notebook (it grows by N cells). Target: median
     <= bare_execute median + 1 ms: our own cost over that least;
   - the no-op ``tools/call`` of an unknown tool (the MCP round trip alone), for reference.
   jupyter_server_ydoc writes every Y update to its SQLite y-store in a background task: the block
   after an execute block starts once those writes are done.
2. A cell printing 20,000 lines: time, size of the tool result, and (target) every line reaches
   the .ipynb on disk through the room's autosave.
3. 8 concurrent MCP clients (each its own HTTP client and session, in its own notebook) x 20
   executions. Targets: >= 120 ops/s; no errors and every cell, read back, in its own notebook
   with its own output.
4. The server's RSS before and after 50 short-lived MCP sessions x 20 mixed calls (info, reads,
   appends, executions). Target: growth <= 20 MB, no errors.

The exit status is 0 when every target passes (with ``--quick``: when every call worked and
every output arrived where it belongs).

Usage::

    python benchmarks/bench_execute.py                  # modern protocol (mode auto)
    python benchmarks/bench_execute.py --mode legacy    # handshake era (initialize, session id, SSE)
    python benchmarks/bench_execute.py --quick          # a smoke run: a few calls per row
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import sqlite3
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from harness import (
    Block,
    JupyterServer,
    Row,
    Verdicts,
    children_of,
    cpu_of,
    mcp_session,
    new_notebook,
    parse_args,
    print_machine,
    print_table,
    process_cpu_seconds,
    rest_get,
    rotated_rounds,
    running_server,
    text_of,
    tool_error_expected,
    tool_ok,
)
from mcp import Client

EXEC_MARGIN_MS = 1.0  # insert_execute_code_cell median <= bare_execute median + this
CONCURRENT_TARGET_OPS = 120.0  # ops/s of the concurrent clients, with no errors
RSS_TARGET_MB = 20.0  # growth of the server's RSS over the short-lived sessions
BIG_MARK = "BIGOUT"
EXEC = "exec.ipynb"


def executed(result: Any, expect: str) -> None:
    """An insert_execute_code_cell result that ran and whose outputs contain ``expect``."""
    tool_ok(result)
    sc = result.structured_content
    if sc["status"] != "ok":
        raise RuntimeError(f"execution status {sc['status']}: {text_of(result)[:500]}")
    outputs = "".join(o["text"] for o in sc["outputs"])
    if expect not in outputs:
        raise RuntimeError(f"expected {expect!r} in the outputs, got {outputs[:200]!r}")


def stream_text(output: dict[str, Any]) -> str:
    text = output.get("text", "")
    return "".join(text) if isinstance(text, list) else text


def ystore_rows(server: JupyterServer) -> int | None:
    """Rows of jupyter_server_ydoc's update store (.jupyter_ystore.db in the server's CWD)."""
    db = server.tmp / "cwd" / ".jupyter_ystore.db"
    if not db.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            return conn.execute("SELECT COUNT(*) FROM yupdates").fetchone()[0]
    except sqlite3.Error:
        return None


async def ystore_drain(server: JupyterServer, quiet: float = 1.0, limit: float = 180.0) -> None:
    """Wait until the y-store's row count has not grown for ``quiet`` seconds."""
    t0 = last_change = time.monotonic()
    rows = ystore_rows(server)
    while time.monotonic() - last_change < quiet and time.monotonic() - t0 < limit:
        await asyncio.sleep(0.1)
        now_rows = ystore_rows(server)
        if now_rows != rows:
            rows, last_change = now_rows, time.monotonic()


# -- 1. latency ------------------------------------------------------------------------------


async def latency(
    server: JupyterServer, root: Path, args: argparse.Namespace, client: Client
) -> dict[str, Block]:
    new_notebook(root / EXEC)
    kernels = lambda: children_of(server.pid)  # noqa: E731

    def run(tool: str) -> Callable[[int], Awaitable[Any]]:
        return lambda _: client.call_tool(tool, {"notebook_path": EXEC, "source": "1+1"})

    def two(result: Any) -> None:
        executed(result, "2")

    two(await run("insert_execute_code_cell")(0))  # starts the notebook's kernel
    noop = lambda _: client.call_tool("no_such_tool", {})  # noqa: E731
    rows = {
        "noop": Row("ref: no-op tools/call (unknown tool)", noop, tool_error_expected, kernels),
        "bare": Row(
            "BASE: bare_execute 1+1 (the runner only)", run("bare_execute"), tool_ok, kernels
        ),
        "exec": Row(
            "insert_execute_code_cell 1+1 (one notebook, grows)",
            run("insert_execute_code_cell"),
            two,
            kernels,
            after_block=lambda: ystore_drain(server),
        ),
    }
    return await rotated_rounds(
        rows, n=args.n, rounds=args.rounds, warmup=args.warmup, server_pid=server.pid
    )


def report_latency(blocks: dict[str, Block], args: argparse.Namespace, verdicts: Verdicts) -> None:
    bare, ex = blocks["bare"], blocks["exec"]
    print(
        f"\n== 1. Latency: {args.n} timed calls per row in {args.rounds} rounds, one MCP session =="
    )
    print_table(list(blocks.values()), bare, "bare_execute")
    limit = bare.median + EXEC_MARGIN_MS
    verdicts.check(
        ex.median <= limit,
        f"insert_execute_code_cell median {ex.median:.2f} ms <= bare_execute median "
        f"{bare.median:.2f} + {EXEC_MARGIN_MS:.0f} ms = {limit:.2f} ms "
        f"(overhead {ex.median - bare.median:+.2f} ms)",
        timing=True,
    )


# -- 2. a cell printing many lines -----------------------------------------------------------


async def big_output(root: Path, args: argparse.Namespace, client: Client) -> dict[str, Any]:
    path = "bigout.ipynb"
    new_notebook(root / path)
    arguments = {"notebook_path": path, "source": "1+1"}
    tool_ok(await client.call_tool("insert_execute_code_cell", arguments))  # starts the kernel
    lines, runs = args.lines, []
    for run in range(args.big_runs):
        code = f"for i in range({lines}):\n    print(f'{BIG_MARK}-{run}-{{i:06d}}')"
        t0 = time.perf_counter()
        result = await client.call_tool(
            "insert_execute_code_cell", {"notebook_path": path, "source": code}
        )
        elapsed = (time.perf_counter() - t0) * 1000
        executed(result, f"{BIG_MARK}-{run}-{lines - 1:06d}")  # the tail of the output is kept
        sc = result.structured_content
        text_bytes = len(text_of(result).encode())
        runs.append(
            {
                "ms": elapsed,
                "text_bytes": text_bytes,
                "cell_id": sc["cell_id"],
                "structured_bytes": len(json.dumps(sc).encode()),
                "notes": sc["notes"],
            }
        )

    # The live document reaches disk through the room's autosave.
    expected = {
        r["cell_id"]: [f"{BIG_MARK}-{n}-{i:06d}" for i in range(lines)] for n, r in enumerate(runs)
    }
    t0 = time.monotonic()
    on_disk: dict[str, list[str]] = {}
    while time.monotonic() - t0 < args.save_wait:
        with contextlib.suppress(OSError, json.JSONDecodeError):
            nb = json.loads((root / path).read_text())
            on_disk = {
                cell["id"]: "".join(
                    stream_text(o) for o in cell.get("outputs", []) if o["output_type"] == "stream"
                ).splitlines()
                for cell in nb["cells"]
                if cell.get("id") in expected
            }
            if all(on_disk.get(cid) == want for cid, want in expected.items()):
                break
        await asyncio.sleep(0.25)
    ok = all(on_disk.get(cid) == want for cid, want in expected.items())
    missing = "; ".join(f"cell {c}: {len(on_disk.get(c, []))}/{lines} lines" for c in expected)
    return {
        "runs": runs,
        "ok": ok,
        "seen_after": time.monotonic() - t0,
        "missing": missing,
        "file_bytes": (root / path).stat().st_size,
    }


def report_big_output(big: dict[str, Any], args: argparse.Namespace, verdicts: Verdicts) -> None:
    print(f"\n== 2. A cell printing {args.lines:,} lines, {args.big_runs} run(s) ==")
    for n, r in enumerate(big["runs"]):
        print(
            f"  run {n}: {r['ms']:.0f} ms; tool result text {r['text_bytes']:,} B, structured "
            f"{r['structured_bytes']:,} B; notes: {'; '.join(r['notes']) or '-'}"
        )
    print(f"  on disk after {big['seen_after']:.1f} s (autosave): {big['file_bytes']:,} B")
    verdicts.check(
        big["ok"],
        f"every one of the {args.lines:,} lines of each run is in the notebook on disk, in order"
        + ("" if big["ok"] else f" (MISSING: {big['missing']})"),
        timing=False,
    )


# -- 3. concurrent clients -------------------------------------------------------------------


async def concurrent(
    server: JupyterServer, root: Path, args: argparse.Namespace, client: Client
) -> dict[str, Any]:
    workers, per = args.clients, args.per_client
    tag = secrets.token_hex(3)
    paths = [f"conc_{c}.ipynb" for c in range(workers)]
    for p in paths:
        new_notebook(root / p)
    latencies: list[float] = []
    errors: list[str] = []

    async def warm_up(c: int, mcp: Client) -> None:  # starts the notebook's kernel, opens its room
        warm = {"notebook_path": paths[c], "source": f"print('WARM-{c}')"}
        executed(await mcp.call_tool("insert_execute_code_cell", warm), f"WARM-{c}")

    async def work(c: int, mcp: Client) -> None:
        for i in range(per):
            marker = f"MARK-{tag}-c{c:02d}-i{i:03d}"
            arguments = {"notebook_path": paths[c], "source": f"print('{marker}')"}
            t0 = time.perf_counter()
            try:
                result = await mcp.call_tool("insert_execute_code_cell", arguments)
                latencies.append((time.perf_counter() - t0) * 1000)
                executed(result, marker)
            except Exception as error:
                errors.append(f"client {c} op {i}: {error}")

    async with contextlib.AsyncExitStack() as stack:
        sessions = [await stack.enter_async_context(mcp_session(server, args.mode)) for _ in paths]
        await asyncio.gather(*(warm_up(c, mcp) for c, mcp in enumerate(sessions)))
        kernels = children_of(server.pid)
        server0, kernel0 = process_cpu_seconds(server.pid) or 0.0, cpu_of(kernels)
        t0 = time.perf_counter()
        await asyncio.gather(*(work(c, mcp) for c, mcp in enumerate(sessions)))
        wall = time.perf_counter() - t0
        server1, kernel1 = process_cpu_seconds(server.pid) or 0.0, cpu_of(kernels)

    # Every cell in its own notebook, once, with its own marker as its output.
    placed, misplaced = 0, []
    for c, p in enumerate(paths):
        result = await client.call_tool("read_all_cells", {"notebook_path": p})
        tool_ok(result)
        seen: list[str] = []
        for cell in result.structured_content["cells"]:
            if "MARK-" not in cell["source"]:
                continue
            marker = cell["source"].split("'")[1]
            output = "".join(o["text"] for o in cell.get("outputs") or []).strip()
            owner = int(marker.rsplit("-c", 1)[1].split("-")[0])  # (the tag may contain "-c")
            if owner != c:
                misplaced.append(f"{marker} in {p}")
            elif tag not in marker or output != marker or marker in seen:
                misplaced.append(f"{marker} in {p}: output {output[:80]!r}, seen {marker in seen}")
            else:
                seen.append(marker)
        placed += len(seen)
    ops = workers * per
    return {
        "ops": ops,
        "wall": wall,
        "ops_per_s": ops / wall if wall > 0 else 0.0,
        "errors": errors,
        "latencies": latencies,
        "placed": placed,
        "misplaced": misplaced,
        "server_cpu": server1 - server0,
        "kernel_cpu": kernel1 - kernel0,
    }


def report_concurrent(conc: dict[str, Any], args: argparse.Namespace, verdicts: Verdicts) -> None:
    print(
        f"\n== 3. {args.clients} concurrent MCP clients x {args.per_client} "
        "insert_execute_code_cell, each in its own notebook ==\n"
        f"  {conc['ops']} ops in {conc['wall']:.2f} s; errors {len(conc['errors'])}"
        + (
            f"; latency median {statistics.median(conc['latencies']):.1f} ms"
            if conc["latencies"]
            else ""
        )
        + f"; CPU per op: server {conc['server_cpu'] * 1000 / conc['ops']:.1f} ms, "
        f"kernels {conc['kernel_cpu'] * 1000 / conc['ops']:.1f} ms"
    )
    for line in (conc["errors"] + conc["misplaced"])[:8]:
        print(f"    ! {line}")
    verdicts.check(
        conc["ops_per_s"] >= CONCURRENT_TARGET_OPS,
        f"{conc['ops_per_s']:.1f} ops/s >= {CONCURRENT_TARGET_OPS:.0f}",
        timing=True,
    )
    correct = not conc["errors"] and not conc["misplaced"] and conc["placed"] == conc["ops"]
    verdicts.check(
        correct,
        f"{len(conc['errors'])} errors, and every cell in its own notebook with its own output "
        f"({conc['placed']}/{conc['ops']})",
        timing=False,
    )


# -- 4. memory over short-lived sessions -----------------------------------------------------


# A session's calls, in turn: info, reads, appends and executions.
PATTERN = [
    "info",
    "read_notebook",
    "append_code",
    "execute",
    "info",
    "read_cell",
    "append_markdown",
    "execute",
    "info",
    "read_all_cells",
    "append_code",
    "execute",
    "info",
    "read_notebook",
    "append_markdown",
    "execute",
    "info",
    "read_cell",
    "append_code",
    "execute",
]


def mixed_call(op: str, path: str, s: int, k: int) -> tuple[str, dict[str, Any]]:
    calls: dict[str, tuple[str, dict[str, Any]]] = {
        "info": ("get_notebook_info", {}),
        "read_notebook": ("read_notebook", {"offset": 0, "limit": 20}),
        "read_cell": ("read_cell", {"cell_index": -1}),
        "read_all_cells": ("read_all_cells", {}),
        "append_code": ("append_code_cell", {"source": f"y_{s}_{k} = {k}"}),
        "append_markdown": ("append_markdown_cell", {"source": f"Session {s}, call {k}."}),
        "execute": ("insert_execute_code_cell", {"source": f"print({s} * 100 + {k})"}),
    }
    name, arguments = calls[op]
    return name, {"notebook_path": path, **arguments}


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS (kB), threads and open file descriptors of a process."""
    out: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "Threads"):
            out[key] = int(value.split()[0])
    out["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    return out


async def sessions_memory(
    server: JupyterServer, root: Path, args: argparse.Namespace
) -> dict[str, Any]:
    paths = ["mix_0.ipynb", "mix_1.ipynb"]
    for p in paths:
        new_notebook(root / p)
    errors: list[str] = []

    async def one_session(s: int) -> None:
        path = paths[s % len(paths)]
        try:
            async with mcp_session(server, args.mode) as mcp:
                for k in range(args.calls_per_session):
                    op = PATTERN[k % len(PATTERN)]
                    name, arguments = mixed_call(op, path, s, k)
                    try:
                        result = await mcp.call_tool(name, arguments)
                        if op == "execute":
                            executed(result, str(s * 100 + k))
                        else:
                            tool_ok(result)
                    except Exception as error:
                        errors.append(f"session {s} call {k} ({name}): {error}")
        except Exception as error:
            errors.append(f"session {s}: {type(error).__name__}: {error}")

    def state() -> dict[str, Any]:
        return proc_status(server.pid) | {
            "sessions": len(rest_get(server, "api/sessions")),
            "kernels": len(rest_get(server, "api/kernels")),
        }

    for s in range(-len(paths), 0):  # untimed: one session per notebook starts its kernel
        await one_session(s)
    errors.clear()
    await asyncio.sleep(1.0)
    await ystore_drain(server)
    before = state()
    t0 = time.perf_counter()
    for s in range(args.sessions):
        await one_session(s)
    wall = time.perf_counter() - t0
    after = state()
    await asyncio.sleep(args.rss_settle)
    return {"before": before, "after": after, "settled": state(), "wall": wall, "errors": errors}


def report_memory(mem: dict[str, Any], args: argparse.Namespace, verdicts: Verdicts) -> None:
    b, a, st = mem["before"], mem["after"], mem["settled"]
    growth = (a["VmRSS"] - b["VmRSS"]) / 1024
    print(
        f"\n== 4. Server memory over {args.sessions} short-lived MCP sessions x "
        f"{args.calls_per_session} mixed calls ==\n"
        f"  {mem['wall']:.1f} s; errors {len(mem['errors'])}; VmRSS (MB) before "
        f"{b['VmRSS'] / 1024:.1f}, after {a['VmRSS'] / 1024:.1f}, {args.rss_settle:g} s later "
        f"{st['VmRSS'] / 1024:.1f}\n"
        f"  before -> after (settled): /api/sessions {b['sessions']} -> {a['sessions']} "
        f"({st['sessions']}), /api/kernels {b['kernels']} -> {a['kernels']} ({st['kernels']}), "
        f"threads {b['Threads']} -> {a['Threads']} ({st['Threads']}), "
        f"open fds {b['fds']} -> {a['fds']} ({st['fds']})"
    )
    for line in mem["errors"][:8]:
        print(f"    ! {line}")
    verdicts.check(
        growth <= RSS_TARGET_MB,
        f"RSS growth {growth:+.1f} MB <= {RSS_TARGET_MB:.0f} MB",
        timing=True,
    )
    verdicts.check(not mem["errors"], f"{len(mem['errors'])} errors in the sessions", timing=False)


# -- the run ---------------------------------------------------------------------------------


async def benchmark(server: JupyterServer, root: Path, args: argparse.Namespace) -> int:
    async with mcp_session(server, args.mode) as client:
        print(f"MCP session: mode={args.mode}, negotiated protocol {client.protocol_version}")
        await client.list_tools()  # the client validates structured results against these schemas
        lat = await latency(server, root, args, client)
        print("2. a cell printing many lines ...", flush=True)
        big = await big_output(root, args, client)
        print("3. concurrent clients ...", flush=True)
        conc = await concurrent(server, root, args, client)
    print("4. short-lived sessions, memory ...", flush=True)
    mem = await sessions_memory(server, root, args)
    verdicts = Verdicts(args.quick)
    report_latency(lat, args, verdicts)
    report_big_output(big, args, verdicts)
    report_concurrent(conc, args, verdicts)
    report_memory(mem, args, verdicts)
    return verdicts.exit_status()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--n", type=int, default=200, help="timed calls per latency row (default 200)")
    add("--warmup", type=int, default=20, help="untimed calls per latency row first (default 20)")
    add("--lines", type=int, default=20000, help="lines printed by the big-output cell")
    add("--big-runs", type=int, default=3, help="runs of the big-output cell (default 3)")
    add("--save-wait", type=float, default=60.0, help="seconds to wait for the big output on disk")
    add("--clients", type=int, default=8, help="concurrent MCP clients (default 8)")
    add("--per-client", type=int, default=20, help="executions per concurrent client (default 20)")
    add("--sessions", type=int, default=50, help="short-lived sessions (default 50)")
    add("--calls-per-session", type=int, default=20, help="calls per short-lived session")
    add("--rss-settle", type=float, default=5.0, help="seconds before the last RSS reading")
    quick = {
        "n": 10,
        "warmup": 2,
        "lines": 2000,
        "big_runs": 1,
        "clients": 2,
        "per_client": 3,
        "sessions": 2,
        "calls_per_session": 8,
        "rss_settle": 0.5,
    }
    args = parse_args(parser, quick)

    print_machine(
        [
            "jupyter-mcp-ext",
            "mcp",
            "jupyter_server",
            "jupyter-server-ydoc",
            "pycrdt",
            "jupyter_client",
            "ipykernel",
            "pyzmq",
            "tornado",
        ]
    )
    print(
        f"Mode: {args.mode}; n={args.n} in {args.rounds} rounds, warm-up={args.warmup}; "
        f"{args.clients} clients x {args.per_client}; {args.sessions} sessions x "
        f"{args.calls_per_session} calls; {args.lines} output lines x {args.big_runs}"
    )
    with running_server(args, preload=["skeleton_tools"]) as (server, root):
        return asyncio.run(benchmark(server, root, args))


if __name__ == "__main__":
    sys.exit(main())
