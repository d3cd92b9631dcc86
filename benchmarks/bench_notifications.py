"""Latency of resource notifications: a person's keystroke in JupyterLab to the subscribed client.

It starts a real Jupyter server, opens a notebook with a pycrdt peer on the collaboration
websocket (the person's browser, as the tests' ``peer.py``), subscribes the official MCP SDK client
to ``notebook://<path>`` (``resources/subscribe`` in the handshake era, ``subscriptions/listen``
at 2026-07-28) and times N keystrokes, one per ``--gap`` seconds (notifications of one notebook
come at most twice a second), from the peer's edit to the notification's arrival.

Target: the median and p95 within 1 s (the issue's "notified within 1 s"). Exit status 0 when the
target passes (with ``--quick``: when every keystroke was told).

Usage::

    python benchmarks/bench_notifications.py                 # 2026-07-28 (mode auto)
    python benchmarks/bench_notifications.py --mode legacy   # handshake era
    python benchmarks/bench_notifications.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import warnings
from pathlib import Path

import httpx2
import mcp_types as types
from harness import (
    Verdicts,
    new_notebook,
    parse_args,
    print_machine,
    running_server,
)
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

sys.path.append(str(Path(__file__).resolve().parents[1] / "tests"))
from peer import open_peer  # the tests' browser stand-in

TARGET_S = 1.0
PATH = "watched.ipynb"
URI = "notebook://" + PATH


async def benchmark(server, args: argparse.Namespace) -> int:
    arrived: asyncio.Queue[float] = asyncio.Queue()

    async def on_message(message) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            arrived.put_nowait(time.perf_counter())

    headers = {"Authorization": f"Bearer {server.token}"}
    latencies = []
    async with (
        open_peer(server.url, server.token, PATH) as peer,
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(
            streamable_http_client(server.url + "mcp", http_client=http),
            mode=args.mode,
            message_handler=on_message if args.mode == "legacy" else None,
        ) as client,
    ):
        cell = peer.cell_ids()[0]
        print(f"MCP client: mode={args.mode}, negotiated protocol {client.protocol_version}")

        async def measure() -> None:
            for i in range(args.warmup + args.n):
                await asyncio.sleep(args.gap)
                while not arrived.empty():
                    arrived.get_nowait()
                typed = time.perf_counter()
                peer.type_at_end(cell, "x")
                told = await asyncio.wait_for(arrived.get(), 5)
                if i >= args.warmup:
                    latencies.append(told - typed)

        if args.mode == "legacy":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # resources/subscribe is deprecated, on purpose
                await client.subscribe_resource(URI)
            await measure()
        else:
            async with client.listen(resource_subscriptions=[URI]) as subscription:

                async def gather() -> None:
                    async for _ in subscription:
                        arrived.put_nowait(time.perf_counter())

                gathering = asyncio.create_task(gather())
                try:
                    await measure()
                finally:
                    gathering.cancel()

    ms = sorted(latency * 1000 for latency in latencies)
    median, p95 = statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    print(
        f"\n{len(ms)} keystrokes, {args.gap} s apart: keystroke -> notification median "
        f"{median:.1f} ms, p95 {p95:.1f} ms, min {ms[0]:.1f} ms, max {ms[-1]:.1f} ms\n"
    )
    verdicts = Verdicts(args.quick)
    verdicts.check(
        len(ms) == args.n, f"every one of the {args.n} keystrokes was told", timing=False
    )
    verdicts.check(
        p95 <= TARGET_S * 1000,
        f"notification latency median {median:.1f} ms, p95 {p95:.1f} ms <= {TARGET_S * 1000:.0f} ms",
        timing=True,
    )
    return verdicts.exit_status()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=60, help="timed keystrokes (default 60)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed keystrokes first")
    parser.add_argument(
        "--gap", type=float, default=0.6, help="seconds between keystrokes (default 0.6)"
    )
    args = parse_args(parser, quick={"n": 5, "warmup": 1})
    print_machine(["jupyter-mcp-ext", "mcp", "jupyter_server", "jupyter-server-ydoc", "pycrdt"])

    def prepare(root: Path) -> None:
        import nbformat

        new_notebook(root / PATH, [nbformat.v4.new_code_cell("x = 1")])

    with running_server(args, prepare) as (server, _):
        return asyncio.run(benchmark(server, args))


if __name__ == "__main__":
    sys.exit(main())
