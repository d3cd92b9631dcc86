"""What the benchmarks share: a Jupyter server of their own, MCP clients, timed blocks in rotated
rounds, and the report (the machine, rows against a baseline, target verdicts).

A benchmark is a script, not a test: it prints figures. Its targets are checked against
baselines measured in the same run, because absolute times depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
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
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx2
import nbformat
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
BENCHMARKS = Path(__file__).resolve().parent
BLOCK_WARMUP = 5  # untimed calls before each timed block


def new_notebook(path: Path, cells: Sequence[Any] = ()) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.cells = list(cells)
    nbformat.write(nb, path)


# -- the server ------------------------------------------------------------------------------


@dataclass
class JupyterServer:
    proc: subprocess.Popen[bytes]
    url: str  # root URL ending in '/'
    token: str
    tmp: Path  # holds the server's log and its CWD (where jupyter_server_ydoc keeps its y-store)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def log_path(self) -> Path:
        return self.tmp / "server.log"

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


# Imports modules of benchmarks/ into the server before it starts (tools of the benchmark's own).
PRELOAD_BOOTSTRAP = r"""
import importlib, os, runpy, sys
sys.path.insert(0, os.environ["BENCH_PRELOAD_PATH"])
for name in os.environ["BENCH_PRELOAD"].split(","):
    importlib.import_module(name)
sys.argv[0] = "jupyter-server"
runpy.run_module("jupyter_server", run_name="__main__", alter_sys=True)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    tmp: Path, root: Path, preload: Sequence[str] = (), extra: Sequence[str] = ()
) -> JupyterServer:
    cwd = tmp / "cwd"  # jupyter_server_ydoc writes .jupyter_ystore.db into the CWD
    cwd.mkdir()
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    launcher = ["-m", "jupyter_server"]
    if preload:
        launcher = ["-c", PRELOAD_BOOTSTRAP]
        env["BENCH_PRELOAD_PATH"] = str(BENCHMARKS)
        env["BENCH_PRELOAD"] = ",".join(preload)
    cmd = [
        sys.executable,
        *launcher,
        "--allow-root",
        "--no-browser",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--BaseFileIdManager.db_path={tmp / 'file_id_manager.db'}",  # not the user's data dir
        *extra,
    ]
    with open(tmp / "server.log", "wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = JupyterServer(proc=proc, url=f"http://127.0.0.1:{port}/", token=token, tmp=tmp)
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None:
            raise RuntimeError(
                f"Jupyter server exited with {proc.returncode}:\n{server.log_tail()}"
            )
        with contextlib.suppress(OSError, json.JSONDecodeError):
            if rest_get(server, "api/status", timeout=2) is not None:
                return server
        if time.monotonic() > deadline:
            stop_server(server)
            raise RuntimeError(f"The server did not answer within 90 s:\n{server.log_tail()}")
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
        print(f"! the server did not exit within {timeout:.0f} s of SIGTERM: killed it")


def rest_get(server: JupyterServer, path: str, timeout: float = 10) -> Any:
    request = urllib.request.Request(
        server.url + path, headers={"Authorization": f"token {server.token}"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.load(response)


@contextlib.contextmanager
def running_server(
    args: argparse.Namespace,
    prepare_root: Callable[[Path], None] | None = None,
    preload: Sequence[str] = (),
) -> Iterator[tuple[JupyterServer, Path]]:
    """A Jupyter server on a fresh temporary root (``prepare_root`` fills it first), settled.

    On failure the server log's tail is printed; the server is always stopped and the temporary
    directory removed (unless ``--keep``).
    """
    tmp = Path(tempfile.mkdtemp(prefix="bench-"))
    root = tmp / "root"
    root.mkdir()
    server: JupyterServer | None = None
    try:
        if prepare_root is not None:
            prepare_root(root)
        t0 = time.perf_counter()
        server = start_server(tmp, root, preload, args.server_arg)
        print(
            f"Jupyter server pid {server.pid} at {server.url} answered after "
            f"{time.perf_counter() - t0:.1f} s; settling {args.settle:.1f} s",
            flush=True,
        )
        time.sleep(args.settle)  # let start-up work (extension discovery, language servers) finish
        yield server, root
    except BaseException:
        if server is not None:
            print(f"--- server log (tail) ---\n{server.log_tail()}", file=sys.stderr)
        raise
    finally:
        if server is not None:
            stop_server(server)
        if args.keep:
            print(f"Kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


# -- clients ---------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def mcp_session(server: JupyterServer, mode: str) -> AsyncIterator[Client]:
    """One MCP client: its own HTTP client (connection pool) and its own MCP session."""
    headers = {"Authorization": f"Bearer {server.token}"}
    async with httpx2.AsyncClient(headers=headers, timeout=300) as http:
        transport = streamable_http_client(server.url + "mcp", http_client=http)
        async with Client(transport, mode=mode) as client:
            yield client


def text_of(result: Any) -> str:
    return "".join(getattr(block, "text", "") for block in result.content)


def tool_ok(result: Any) -> None:
    if result.is_error:
        raise RuntimeError(f"tool call failed: {text_of(result)[:500]}")


def tool_error_expected(result: Any) -> None:
    if not result.is_error:
        raise RuntimeError("the unknown tool unexpectedly succeeded")


# -- processes -------------------------------------------------------------------------------


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, all threads (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


# -- timing ----------------------------------------------------------------------------------


@dataclass
class Block:
    """Times of one row's calls, with the CPU time per call of the client, server and kernels."""

    name: str
    times_ms: list[float]
    client_cpu_ms: float | None = None
    server_cpu_ms: float | None = None
    kernel_cpu_ms: float | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.times_ms)

    @property
    def p95(self) -> float:
        ordered = sorted(self.times_ms)
        return ordered[
            min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))
        ]  # nearest rank

    @property
    def minimum(self) -> float:
        return min(self.times_ms)


@dataclass
class Row:
    """One measured operation: ``call(i)`` is awaited and its result passed to ``check``."""

    label: str
    call: Callable[[int], Awaitable[Any]]
    check: Callable[[Any], None]
    kernel_pids: Callable[[], list[int]] = list
    after_block: Callable[[], Awaitable[None]] | None = None  # e.g. wait for queued writes
    server_pid: int | None = None  # the server it calls, where rows call different servers


async def timed_block(row: Row, n: int, warmup: int, server_pid: int | None) -> Block:
    """``warmup`` untimed then ``n`` timed sequential calls; CPU per call from /proc around them."""
    server_pid = row.server_pid or server_pid
    for i in range(warmup):
        row.check(await row.call(i))
    gc.collect()
    kernels = row.kernel_pids()
    perf = time.perf_counter
    times: list[float] = []
    client0, server0, kernel0 = (
        time.process_time(),
        process_cpu_seconds(server_pid) if server_pid else None,
        cpu_of(kernels),
    )
    for i in range(warmup, warmup + n):
        t0 = perf()
        result = await row.call(i)
        times.append((perf() - t0) * 1000)
        row.check(result)
    client1, server1, kernel1 = (
        time.process_time(),
        process_cpu_seconds(server_pid) if server_pid else None,
        cpu_of(kernels),
    )
    block = Block(row.label, times, client_cpu_ms=(client1 - client0) * 1000 / n)
    if server0 is not None and server1 is not None:
        block.server_cpu_ms = (server1 - server0) * 1000 / n
    if kernels:
        block.kernel_cpu_ms = (kernel1 - kernel0) * 1000 / n
    if row.after_block is not None:
        await row.after_block()
    return block


def merge(name: str, parts: list[Block]) -> Block:
    """One row from blocks of the same call: all their times, CPU per call weighted by calls."""
    block = Block(name, [t for part in parts for t in part.times_ms])
    total = len(block.times_ms)
    for attr in ("client_cpu_ms", "server_cpu_ms", "kernel_cpu_ms"):
        values = [getattr(part, attr) for part in parts]
        if None not in values:
            weighted = sum(v * len(part.times_ms) for v, part in zip(values, parts, strict=True))
            setattr(block, attr, weighted / total)
    return block


async def rotated_rounds(
    rows: dict[str, Row], *, n: int, rounds: int, warmup: int, server_pid: int | None = None
) -> dict[str, Block]:
    """``n`` timed calls of every row, in ``rounds`` rounds, after ``warmup`` untimed calls of each.

    Each round times a block of every row (after BLOCK_WARMUP untimed calls) in an order rotated
    from round to round, so a machine busier for a while slows every row alike.
    """
    for row in rows.values():
        for i in range(warmup):
            row.check(await row.call(i))
    parts: dict[str, list[Block]] = {key: [] for key in rows}
    keys = list(rows)
    per_round = -(-n // rounds)
    for r in range(rounds):
        order = keys[r % len(keys) :] + keys[: r % len(keys)]
        print(f"timing: round {r + 1} of {rounds}: {', '.join(order)}", flush=True)
        for key in order:
            size = min(per_round, n - sum(len(b.times_ms) for b in parts[key]))
            if size > 0:
                parts[key].append(await timed_block(rows[key], size, BLOCK_WARMUP, server_pid))
    return {key: merge(rows[key].label, parts[key]) for key in rows}


# -- the report ------------------------------------------------------------------------------


def _cpu(value: float | None) -> str:
    return f"{value:8.2f}" if value is not None else f"{'-':>8}"


def print_table(blocks: list[Block], base: Block, base_name: str) -> None:
    """Median, p95, min, the median against ``base``'s, and CPU time per call, one row per block."""
    kernels = any(b.kernel_cpu_ms is not None for b in blocks)
    header = (
        f"{'operation':52} {'n':>4} {'median':>8} {'p95':>8} {'min':>7} {'-base':>8} "
        f"{'x base':>6} {'cli cpu':>8} {'srv cpu':>8}" + (f" {'krn cpu':>8}" if kernels else "")
    )
    print(header)
    print("-" * len(header))
    for b in blocks:
        print(
            f"{b.name[:52]:52} {len(b.times_ms):4d} {b.median:8.2f} {b.p95:8.2f} {b.minimum:7.2f} "
            f"{b.median - base.median:+8.2f} {b.median / base.median:6.2f} {_cpu(b.client_cpu_ms)} "
            f"{_cpu(b.server_cpu_ms)}" + (f" {_cpu(b.kernel_cpu_ms)}" if kernels else "")
        )
    print(
        f"(ms; base = {base_name}, measured in the same rounds; '-base' = median minus its median, "
        "'x base' = median / its median; cli/srv" + ("/krn" if kernels else "") + " cpu = CPU ms "
        "per call of this client process / the server process (all threads)"
        + (" / the kernels)" if kernels else ")")
    )


@dataclass
class Verdicts:
    """The target rows. A *timing* target (a time, a rate, a memory growth) is only meaningful
    with a full run's samples: in quick mode it is printed but does not set the exit status."""

    quick: bool
    failed: list[str] = field(default_factory=list)
    failed_timing: list[str] = field(default_factory=list)

    def check(self, passed: bool, text: str, *, timing: bool) -> None:
        print(f"{'PASS' if passed else 'FAIL'}: {text}")
        if not passed:
            (self.failed_timing if timing else self.failed).append(text)

    def exit_status(self) -> int:
        load = os.getloadavg()
        print(f"\nLoad average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
        if self.quick:
            print(
                "Quick mode: too few calls for timing targets; only correctness sets the exit status."
            )
            return 1 if self.failed else 0
        print(
            "ALL TARGETS PASS" if not (self.failed or self.failed_timing) else "SOME TARGETS FAIL"
        )
        return 1 if self.failed or self.failed_timing else 0


def extension_revision() -> str:
    """Git commit of the jupyter_mcp_ext package measured, and whether its files differ from it."""
    import jupyter_mcp_ext

    package = Path(jupyter_mcp_ext.__file__).parent
    try:
        git = ["git", "-C", str(package)]
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "."], capture_output=True, text=True, check=True
        ).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return f"{package} (not a git checkout)"
    return f"{package} at commit {head}" + (f" + {len(dirty)} changed file(s)" if dirty else "")


def core_share(seconds: float = 0.5) -> float:
    """Share of one core a busy loop in this process gets right now (other load shows here)."""
    wall0, cpu0 = time.perf_counter(), time.thread_time()
    while time.perf_counter() - wall0 < seconds:
        pass
    return (time.thread_time() - cpu0) / (time.perf_counter() - wall0)


def print_machine(dists: list[str]) -> None:
    """Python, package versions, cores and load, and the extension code: what a figure depends on."""

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "-"

    print(f"Python {platform.python_version()} on {platform.platform()}")
    print("Packages: " + ", ".join(f"{d} {version(d)}" for d in dists))
    load = os.getloadavg()
    print(
        f"CPU cores: {os.cpu_count()}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
        f"a busy loop here gets {core_share():.0%} of a core"
    )
    print(f"Extension code: {extension_revision()}")


# -- the command line ------------------------------------------------------------------------


def parse_args(parser: argparse.ArgumentParser, quick: dict[str, Any]) -> argparse.Namespace:
    """The options every benchmark has; ``--quick`` swaps the defaults for ``quick`` (a smoke run:
    every row and target printed from a few calls; options given explicitly still win)."""
    parser.add_argument(
        "--mode",
        choices=["auto", "legacy"],
        default="auto",
        help="auto: modern protocol; legacy: handshake era (initialize, session id, SSE)",
    )
    parser.add_argument("--quick", action="store_true", help="a few calls per row (smoke run)")
    parser.add_argument(
        "--rounds", type=int, default=4, help="rounds of rotated blocks (default 4)"
    )
    parser.add_argument(
        "--settle", type=float, default=3.0, help="seconds after the server answers"
    )
    parser.add_argument(
        "--server-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra Jupyter server argument, repeatable",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    if args.quick:
        parser.set_defaults(settle=0.5, rounds=2, **quick)
        args = parser.parse_args()
    if args.n < 1 or args.warmup < 1 or args.rounds < 1:
        parser.error("--n, --warmup and --rounds must be >= 1")
    return args
