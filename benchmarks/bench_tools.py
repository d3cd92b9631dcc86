"""Latency of jupyter-mcp-ext's edit and read tools, end to end, through the official MCP SDK client.

It starts a real Jupyter server (the extension auto-enables) in a temporary directory, opens ONE
session of ``mcp.Client`` over Streamable HTTP, and times N sequential calls of each row, in
rotated rounds (see ``harness.rotated_rounds``):

- the no-op baseline: a ``tools/call`` that runs no tool body (an unknown tool name: the server
  goes through authentication, the SDK and its tools/call dispatch, and answers a tool error);
- the edits ``append_markdown_cell`` and ``overwrite_cell_source`` (alternating between two
  sources, so every call changes text) on a 10-cell notebook;
- ``read_all_cells`` on a 1,000-cell notebook (code cells with a small stream output, and
  markdown cells), written with nbformat before the server starts.

Targets: each edit's median <= baseline median + 1 ms; read_all_cells (1,000 cells) median <=
30 ms. The exit status is 0 when every target passes (with ``--quick``: when every call worked).

Usage::

    python benchmarks/bench_tools.py                 # modern protocol (mode auto)
    python benchmarks/bench_tools.py --mode legacy   # handshake era (initialize, session id, SSE)
    python benchmarks/bench_tools.py --quick         # a smoke run: a few calls per row
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
from pathlib import Path
from typing import Any

import nbformat
from harness import (
    Row,
    Verdicts,
    mcp_session,
    new_notebook,
    parse_args,
    print_machine,
    print_table,
    rotated_rounds,
    running_server,
    tool_error_expected,
    tool_ok,
)

EDIT_TARGET_MS = 1.0  # edit median <= baseline median + this
READ_ALL_TARGET_MS = 30.0  # read_all_cells (1,000 cells) median <= this
SOURCES = ("x = 1\ny = x + 1\nprint(y)\n", "x = 2\ny = x + 1\nprint(y)\n")  # overwrite alternates
SMALL, BIG = "edit.ipynb", "big.ipynb"


def write_notebooks(root: Path, cells: int) -> None:
    big = []
    for i in range(cells):
        if i % 2 == 0:
            cell = nbformat.v4.new_code_cell(
                f"value_{i} = {i} * 2\nprint(value_{i})", execution_count=i // 2 + 1
            )
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{i * 2}\n")]
        else:
            cell = nbformat.v4.new_markdown_cell(f"## Step {i}\n\nSome *markdown* on step {i}.")
        big.append(cell)
    new_notebook(root / BIG, big)
    small = [nbformat.v4.new_code_cell(SOURCES[0])]
    small += [nbformat.v4.new_markdown_cell(f"Note {i}") for i in range(9)]
    new_notebook(root / SMALL, small)


def source_changed(result: Any) -> None:
    tool_ok(result)
    if not result.structured_content["chars_inserted"]:
        raise RuntimeError("overwrite_cell_source changed nothing")


async def benchmark(server: Any, args: argparse.Namespace) -> int:
    async with mcp_session(server, args.mode) as client:
        print(f"MCP session: mode={args.mode}, negotiated protocol {client.protocol_version}")
        await client.list_tools()  # the client validates structured results against these schemas
        info = await client.call_tool("get_notebook_info", {"notebook_path": BIG})
        if info.structured_content["cell_count"] != args.cells:
            raise RuntimeError(f"{BIG} has {info.structured_content['cell_count']} cells")
        first = await client.call_tool("read_cell", {"notebook_path": SMALL, "cell_index": 0})
        cell_id = first.structured_content["cell"]["cell_id"]
        overwrites = itertools.count(1)  # across blocks, so that every call changes the source

        async def overwrite(_: int) -> Any:
            source = SOURCES[next(overwrites) % 2]
            arguments = {"notebook_path": SMALL, "cell_id": cell_id, "source": source}
            return await client.call_tool("overwrite_cell_source", arguments)

        async def append(i: int) -> Any:
            arguments = {"notebook_path": SMALL, "source": f"Cell {i}."}
            return await client.call_tool("append_markdown_cell", arguments)

        rows = {
            "baseline": Row(
                "NO-OP BASELINE: tools/call, no tool body",
                lambda _: client.call_tool("no_such_tool", {}),
                tool_error_expected,
            ),
            "append": Row("append_markdown_cell", append, tool_ok),
            "overwrite": Row("overwrite_cell_source", overwrite, source_changed),
            "read_all": Row(
                f"read_all_cells ({args.cells} cells)",
                lambda _: client.call_tool("read_all_cells", {"notebook_path": BIG}),
                tool_ok,
            ),
        }
        blocks = await rotated_rounds(
            rows, n=args.n, rounds=args.rounds, warmup=args.warmup, server_pid=server.pid
        )
    base = blocks["baseline"]
    print(f"\n{args.n} timed calls per row in {args.rounds} rounds; one MCP session.")
    print_table(list(blocks.values()), base, "the no-op baseline")
    print()
    verdicts = Verdicts(args.quick)
    limit = base.median + EDIT_TARGET_MS
    for key in ("append", "overwrite"):
        edit = blocks[key]
        verdicts.check(
            edit.median <= limit,
            f"{edit.name} median {edit.median:.2f} ms <= baseline median {base.median:.2f} + "
            f"{EDIT_TARGET_MS:.0f} ms = {limit:.2f} ms (overhead {edit.median - base.median:+.2f} ms)",
            timing=True,
        )
    read_all = blocks["read_all"]
    verdicts.check(
        read_all.median <= READ_ALL_TARGET_MS,
        f"{read_all.name} median {read_all.median:.2f} ms <= {READ_ALL_TARGET_MS:.0f} ms",
        timing=True,
    )
    return verdicts.exit_status()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="timed calls per row (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed calls per row first")
    parser.add_argument(
        "--cells", type=int, default=1000, help="cells of the read_all_cells notebook"
    )
    args = parse_args(parser, quick={"n": 10, "warmup": 2})

    print_machine(["jupyter-mcp-ext", "mcp", "jupyter_server", "jupyter-server-ydoc", "pycrdt"])
    print(f"Mode: {args.mode}; n={args.n} in {args.rounds} rounds, warm-up={args.warmup}")
    with running_server(args, lambda root: write_notebooks(root, args.cells)) as (server, _):
        return asyncio.run(benchmark(server, args))


if __name__ == "__main__":
    sys.exit(main())
