"""What a change of the extension costs an agent's edit: the same calls against two versions of
the code, in one run.

Two Jupyter servers start side by side, one importing this checkout's ``jupyter_mcp_ext``, the
other the one of git revision ``--against`` (exported with ``git archive``). One MCP session on
each times, in rotated rounds (see ``harness.rotated_rounds``): the no-op ``tools/call`` (an
unknown tool), ``append_markdown_cell`` and ``overwrite_cell_source`` (alternating two sources)
on a 10-cell notebook. Both servers share the machine and its load, so the differences of the
medians are what the change costs; the no-op row's difference shows how far two servers differ
when the code does not.

Target (``--target-ms``, default 0.3, the issue's figure for presence + undo tracking): each edit's
median on this checkout <= its median on ``--against`` + the target.

Usage::

    python benchmarks/bench_versions.py --against 468276e       # this checkout vs that commit
    python benchmarks/bench_versions.py --quick                 # the same code twice: the noise
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import itertools
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
from harness import (
    BENCHMARKS,
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

SOURCES = ("x = 1\ny = x + 1\nprint(y)\n", "x = 2\ny = x + 1\nprint(y)\n")
NOTEBOOK = "edit.ipynb"
CHECKOUT = BENCHMARKS.parent


def write_notebook(root: Path) -> None:
    new_notebook(root / NOTEBOOK, [nbformat.v4.new_code_cell(f"x = {i}") for i in range(10)])


def export(revision: str, into: Path) -> str:
    """The package at ``revision`` in ``into``; returns the commit's short id."""
    git = ["git", "-C", str(CHECKOUT)]
    commit = subprocess.run(
        [*git, "rev-parse", "--short", f"{revision}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    archive = subprocess.run(
        [*git, "archive", "--format=tar", commit, "jupyter_mcp_ext"],
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return commit


@contextlib.contextmanager
def importing(code: Path) -> Iterator[None]:
    """Servers started meanwhile import ``jupyter_mcp_ext`` from ``code``."""
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = str(code)
    try:
        yield
    finally:
        if before is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = before


def edit_rows(client: Any, cell_id: str, tag: str, server_pid: int) -> dict[str, Row]:
    overwrites = itertools.count(1)  # across blocks, so that every call changes the source

    async def overwrite(_: int) -> Any:
        arguments = {
            "notebook_path": NOTEBOOK,
            "cell_id": cell_id,
            "source": SOURCES[next(overwrites) % 2],
        }
        return await client.call_tool("overwrite_cell_source", arguments)

    async def append(i: int) -> Any:
        return await client.call_tool(
            "append_markdown_cell", {"notebook_path": NOTEBOOK, "source": f"Cell {i}."}
        )

    async def no_op(_: int) -> Any:
        return await client.call_tool("no_such_tool", {})

    return {
        f"noop {tag}": Row(
            f"no-op tools/call ({tag})", no_op, tool_error_expected, server_pid=server_pid
        ),
        f"append {tag}": Row(
            f"append_markdown_cell ({tag})", append, tool_ok, server_pid=server_pid
        ),
        f"overwrite {tag}": Row(
            f"overwrite_cell_source ({tag})", overwrite, tool_ok, server_pid=server_pid
        ),
    }


async def benchmark(servers: dict[str, Any], args: argparse.Namespace, against: str) -> int:
    rows: dict[str, Row] = {}
    async with contextlib.AsyncExitStack() as stack:
        for tag, server in servers.items():
            client = await stack.enter_async_context(mcp_session(server, args.mode))
            first = await client.call_tool(
                "read_cell", {"notebook_path": NOTEBOOK, "cell_index": 0}
            )
            cell_id = first.structured_content["cell"]["cell_id"]
            rows.update(edit_rows(client, cell_id, tag, server.pid))
        blocks = await rotated_rounds(rows, n=args.n, rounds=args.rounds, warmup=args.warmup)
    print(f"\n{args.n} timed calls per row in {args.rounds} rounds; one MCP session per server.")
    print_table(list(blocks.values()), blocks[f"noop {against}"], f"the no-op on {against}")
    print()
    verdicts = Verdicts(args.quick)
    for kind in ("noop", "append", "overwrite"):
        new, old = blocks[f"{kind} this"], blocks[f"{kind} {against}"]
        difference = new.median - old.median
        text = (
            f"{kind}: median {new.median:.2f} ms on this checkout vs {old.median:.2f} ms on "
            f"{against} ({difference:+.2f} ms)"
        )
        if kind == "noop":
            print(f"      {text}: what two servers differ by when the code path is the same")
        else:
            verdicts.check(
                difference <= args.target_ms, f"{text} <= +{args.target_ms} ms", timing=True
            )
    return verdicts.exit_status()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--against",
        default="HEAD",
        help="git revision to compare with (default HEAD: the same code twice, the noise)",
    )
    parser.add_argument("--target-ms", type=float, default=0.3, help="allowed cost per edit")
    parser.add_argument("--n", type=int, default=300, help="timed calls per row (default 300)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed calls per row first")
    args = parse_args(parser, quick={"n": 10, "warmup": 2})

    print_machine(["jupyter-mcp-ext", "mcp", "jupyter_server", "jupyter-server-ydoc", "pycrdt"])
    with tempfile.TemporaryDirectory(prefix="bench-versions-") as tmp:
        against = export(args.against, Path(tmp))
        print(f"Compared with: {args.against} = commit {against}, exported to {tmp}")
        print(f"Mode: {args.mode}; n={args.n} in {args.rounds} rounds, warm-up={args.warmup}")
        with contextlib.ExitStack() as stack:
            servers = {}
            for tag, code in (("this", CHECKOUT), (against, Path(tmp))):
                with importing(code):
                    server, _ = stack.enter_context(running_server(args, write_notebook))
                servers[tag] = server
            return asyncio.run(benchmark(servers, args, against))


if __name__ == "__main__":
    sys.exit(main())
