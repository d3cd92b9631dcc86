"""What collaboration costs an agent's edit: undo tracking per edit, and the memory of its history.

In-process, on a live-notebook document (jupyter_ydoc's YNotebook) edited the way the tools edit it
(``cells.insert_cell`` / ``cells.set_source`` in the agent's context, each call recorded as a step):

- per-edit cost: the median of append and overwrite (alternating two sources) with undo tracking
  and without it, in rotated rounds in the same run;
- memory: what 1,000 agent edits (appends, and overwrites replacing a 200-character source) add
  to a fresh process with undo tracking and without it: RSS (pycrdt's Rust side included),
  Python allocations (tracemalloc) and the size of the document's encoded state, with
  ``undo_history_size`` at its default and at 1,000.

Prints figures; asserts nothing. Usage: ``python benchmarks/bench_collaboration.py [--calls N]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable

from jupyter_ydoc import YNotebook

from jupyter_mcp_ext import cells
from jupyter_mcp_ext.agents import Agent, acting_as
from jupyter_mcp_ext.undo import UndoHistories

AGENT = Agent(principal="bench", user_name="bench", client="Bench", session="s1")


def _notebook(n: int = 10) -> YNotebook:
    nb = YNotebook()
    nb.set(
        {
            "cells": [
                {
                    "cell_type": "code",
                    "source": f"x = {i}",
                    "metadata": {},
                    "outputs": [],
                    "execution_count": None,
                    "id": f"c{i}",
                }
                for i in range(n)
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )
    return nb


def _editor(
    tracked: bool, size: int = 100
) -> tuple[YNotebook, UndoHistories, Callable[[str, int, str | None], None]]:
    """A notebook and a function making one agent call (``kind``: append, or overwrite of the
    first cell with ``text``, by default alternating two sources)."""
    nb, histories = _notebook(), UndoHistories(size)

    def edit(kind: str, i: int, text: str | None = None) -> None:
        with acting_as(AGENT), histories.recording(AGENT, kind if tracked else "") as step:
            if tracked:
                histories.track(nb)
            if kind == "append":
                _, cell_id = cells.insert_cell(nb, -1, "code", f"y = {i}")
                result = {"cell_index": len(nb.ycells) - 1, "cell_id": cell_id}
            else:
                index, *_ = cells.set_source(nb, "c0", text or ("a = 1" if i % 2 else "b = 22"))
                result = {"cell_index": index, "cell_id": "c0"}
            if step is not None:
                step.result = result

    return nb, histories, edit


def per_edit(calls: int) -> None:
    # One notebook per row: appends grow theirs, overwrites keep a 10-cell one.
    editors = {
        (kind, tracked): _editor(tracked)[2]
        for kind in ("append", "overwrite")
        for tracked in (False, True)
    }
    times: dict[tuple[str, bool], list[float]] = {}
    for i in range(calls):
        for kind in ("append", "overwrite"):
            order = (False, True) if i % 2 else (True, False)  # rotated
            for tracked in order:
                started = time.perf_counter()
                editors[(kind, tracked)](kind, i, None)
                times.setdefault((kind, tracked), []).append(time.perf_counter() - started)
    for kind in ("append", "overwrite"):
        without = statistics.median(times[(kind, False)]) * 1000
        with_undo = statistics.median(times[(kind, True)]) * 1000
        print(
            f"{kind:9} median: {without:.3f} ms without undo tracking, {with_undo:.3f} ms with "
            f"(+{with_undo - without:.3f} ms), {calls} calls each"
        )


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def _measure_memory(tracked: bool, size: int, edits: int) -> dict[str, float]:
    """In a fresh process: what ``edits`` agent edits (half appends, half overwrites of a
    200-character source, each replacing all of it) add to the process."""
    nb, histories, edit = _editor(tracked, size)
    source = "# " + "x" * 197
    edit("overwrite", 0, None)
    gc.collect()
    tracemalloc.start()
    rss_before, python_before = _rss_kib(), tracemalloc.get_traced_memory()[0]
    for i in range(edits):
        if i % 2:
            edit("append", i // 2, None)
        else:
            edit("overwrite", i, f"{i:06d}{source}")
    gc.collect()
    python_after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    steps = len(histories.agents(nb)[0]["undo"]) if tracked else 0
    return {
        "rss_kib": _rss_kib() - rss_before,
        "python_kib": (python_after - python_before) / 1024,
        "update_kib": len(nb.ydoc.get_update()) / 1024,
        "steps": steps,
    }


def memory(edits: int) -> None:
    """Each variant in its own process, so that RSS growth is its own."""
    for tracked, size in ((False, 0), (True, 100), (True, edits)):
        done = subprocess.run(
            [sys.executable, __file__, "--memory-child", f"{int(tracked)},{size},{edits}"],
            capture_output=True,
            text=True,
            check=True,
        )
        got = json.loads(done.stdout)
        kept = f", undo_history_size {size}: {got['steps']} steps kept" if tracked else ""
        print(
            f"{edits} agent edits {'with' if tracked else 'without'} undo tracking: RSS "
            f"+{got['rss_kib']:.0f} KiB, Python allocations +{got['python_kib']:.0f} KiB, "
            f"document update {got['update_kib']:.0f} KiB{kept}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls per row for the timings")
    parser.add_argument("--edits", type=int, default=1000, help="agent edits for the memory")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        tracked, size, edits = (int(value) for value in args.memory_child.split(","))
        print(json.dumps(_measure_memory(bool(tracked), size, edits)))
        return
    per_edit(args.calls)
    memory(args.edits)


if __name__ == "__main__":
    main()
