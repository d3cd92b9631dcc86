"""What collaboration costs an agent's edit: undo tracking per edit, and the memory of its history.

In-process, on a live-notebook document (jupyter_ydoc's YNotebook) edited the way the tools edit it
(``cells.insert_cell`` / ``cells.set_source`` in the agent's context, each call recorded as a step):

- per-edit cost: the median of append and overwrite (alternating two sources) with undo tracking
  and without it, in rotated rounds in the same run;
- memory: what 1,000 agent edits (appends and overwrites) add with undo tracking, beyond the same
  edits without it (tracemalloc: Python allocations; pycrdt's Rust side is not seen by it, so the
  size of the document's encoded state is printed too: deleted content the history keeps stays
  in it), with ``undo_history_size`` at its default and at 1,000.

Prints figures; asserts nothing. Usage: ``python benchmarks/bench_collaboration.py [--calls N]``.
"""

from __future__ import annotations

import argparse
import statistics
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
) -> tuple[YNotebook, UndoHistories, Callable[[str, int], None]]:
    """A notebook and a function making one agent call (``kind``: append or overwrite)."""
    nb, histories = _notebook(), UndoHistories(size)

    def edit(kind: str, i: int) -> None:
        with acting_as(AGENT), histories.recording(AGENT, kind if tracked else "") as step:
            if tracked:
                histories.track(nb)
            if kind == "append":
                _, cell_id = cells.insert_cell(nb, -1, "code", f"y = {i}")
                result = {"cell_index": len(nb.ycells) - 1, "cell_id": cell_id}
            else:
                index, *_ = cells.set_source(nb, "c0", "a = 1" if i % 2 else "b = 22")
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
                editors[(kind, tracked)](kind, i)
                times.setdefault((kind, tracked), []).append(time.perf_counter() - started)
    for kind in ("append", "overwrite"):
        without = statistics.median(times[(kind, False)]) * 1000
        with_undo = statistics.median(times[(kind, True)]) * 1000
        print(
            f"{kind:9} median: {without:.3f} ms without undo tracking, {with_undo:.3f} ms with "
            f"(+{with_undo - without:.3f} ms), {calls} calls each"
        )


def memory(edits: int) -> None:
    for tracked, size in ((False, 0), (True, 100), (True, edits)):
        tracemalloc.start()
        nb, histories, edit = _editor(tracked, size)
        before = tracemalloc.get_traced_memory()[0]
        for i in range(edits):
            edit("append" if i % 2 else "overwrite", i // 2)  # every overwrite changes the text
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        steps = len(histories.agents(nb)[0]["undo"]) if tracked else 0
        print(
            f"{edits} agent edits {'with' if tracked else 'without'} undo tracking: "
            f"{(after - before) / 1024:.0f} KiB Python allocations, document update "
            f"{len(nb.ydoc.get_update()) / 1024:.0f} KiB"
            + (f", undo_history_size {size}: {steps} steps kept" if tracked else "")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls per row for the timings")
    parser.add_argument("--edits", type=int, default=1000, help="agent edits for the memory")
    args = parser.parse_args()
    per_edit(args.calls)
    memory(args.edits)


if __name__ == "__main__":
    main()
