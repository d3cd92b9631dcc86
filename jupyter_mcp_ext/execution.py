"""Kernel messages written into a live code cell as they arrive, the way JupyterLab shows them.

The cell is found by id for every batch, so a person moving or deleting cells meanwhile never
makes outputs land in another cell. A plain mirror of the outputs is kept as well: it is what
the tool returns, even if the person deleted the cell while it ran.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from jupyter_ydoc import YNotebook
from pycrdt import Array, Map, Text

from .agents import current_origin
from .cells import find_cell, insert_cell


def nbformat_output(msg: dict[str, Any]) -> dict[str, Any] | None:
    """The nbformat output of an IOPub message (None for messages that are not outputs)."""
    kind, content = msg["msg_type"], msg["content"]
    if kind == "stream":
        return {
            "output_type": "stream",
            "name": content.get("name", "stdout"),
            "text": content.get("text", ""),
        }
    if kind in ("display_data", "update_display_data"):
        return {
            "output_type": "display_data",
            "data": content.get("data", {}),
            "metadata": content.get("metadata", {}),
        }
    if kind == "execute_result":
        return {
            "output_type": "execute_result",
            "data": content.get("data", {}),
            "metadata": content.get("metadata", {}),
            "execution_count": content.get("execution_count"),
        }
    if kind == "error":
        return {
            "output_type": "error",
            "ename": content.get("ename", ""),
            "evalue": content.get("evalue", ""),
            "traceback": content.get("traceback", []),
        }
    return None


def _youtput(output: dict[str, Any]) -> Map:
    """A shared output made from ``output``; pycrdt copies the values in, so the mirror can share them."""
    if output["output_type"] == "stream":
        return Map({**output, "text": Text(output["text"])})
    return Map(output)


def _merge_plain(last: dict[str, Any], output: dict[str, Any]) -> bool:
    if last.get("output_type") == "stream" and last.get("name") == output["name"]:
        last["text"] += output["text"]
        return True
    return False


def _merge_live(last: Map, output: dict[str, Any]) -> bool:
    text = last.get("text")
    if (
        last.get("output_type") == "stream"
        and last.get("name") == output["name"]
        and isinstance(text, Text)
    ):
        text += output["text"]  # appended in place: the Text keeps its identity
        return True
    return False


def _append(
    outputs: Any,
    displays: dict[str, list[int]],
    output: dict[str, Any],
    display_id: str | None,
    merge: Any,
) -> None:
    """Append ``output`` to a list of outputs (plain or live), merging consecutive streams of one name."""
    count = len(outputs)
    if output["output_type"] == "stream" and count and merge(outputs[count - 1], output):
        return
    if display_id:
        displays.setdefault(display_id, []).append(count)
    outputs.append(_youtput(output) if isinstance(outputs, Array) else output)


@dataclass
class CellOutputs:
    """The outputs of one running cell: applied to the live cell and mirrored as plain dicts."""

    cell_id: str
    index_hint: int | None = None  # where the cell was last found: checked first
    outputs: list[dict[str, Any]] = field(default_factory=list)
    clear_pending: bool = False  # clear_output(wait=True): clear when the next output arrives
    displays: dict[str, list[int]] = field(
        default_factory=dict
    )  # display_id -> positions in the mirror
    live_displays: dict[str, list[int]] = field(
        default_factory=dict
    )  # display_id -> positions in the cell
    cell_lost: bool = False  # the person deleted the cell while it ran
    # The live cell shows this run from the first write on: (index, source) of a cell to insert
    # then, or None to clear the existing cell's outputs then. A fast cell is thus one update.
    to_insert: tuple[int, str] | None = None
    begun: bool = False

    def _find(self, nb: YNotebook) -> Map | None:
        found = find_cell(nb, self.cell_id, self.index_hint)
        if found is None:
            self.index_hint = None
            self.cell_lost = True
            return None
        self.index_hint, ycell = found
        return ycell

    def _begin(self, nb: YNotebook, *, finished: bool) -> Map | None:
        """The live cell of this run: inserted, or cleared of its outputs; running ([*]) unless finished."""
        self.begun = True
        if self.to_insert is not None:
            index, source = self.to_insert
            self.to_insert = None
            index = min(
                index, len(nb.ycells)
            )  # cells may have been deleted since the index was checked
            self.index_hint, _ = insert_cell(
                nb, index, "code", source, running=not finished, cell_id=self.cell_id
            )
            return nb.ycells[self.index_hint]
        ycell = self._find(nb)
        if ycell is not None:
            if len(ycell["outputs"]):
                ycell["outputs"].clear()
            ycell["execution_count"] = None
            if not finished:
                ycell["execution_state"] = "running"
        return ycell

    def show_running(self, nb: YNotebook) -> None:
        """Show the cell running ([*]) before anything else is written (no-op after the first write)."""
        if not self.begun:
            self._write(nb, (), finished=False)

    def apply(self, nb: YNotebook | None, messages: list[dict[str, Any]]) -> None:
        """Apply IOPub messages to the mirror and (if the cell still exists) to the live cell."""
        self._write(nb, messages, finished=False)

    def finish(
        self, nb: YNotebook, execution_count: int | None, messages: Sequence[dict[str, Any]] = ()
    ) -> None:
        """Apply the last messages, then set the execution count and state idle: one update of the live cell."""
        self._write(nb, messages, finished=True, execution_count=execution_count)

    def _write(
        self,
        nb: YNotebook | None,
        messages: Sequence[dict[str, Any]],
        *,
        finished: bool,
        execution_count: int | None = None,
    ) -> None:
        """One transaction, the cell found once (it may have moved since the last write)."""
        with (
            nb.ydoc.transaction(origin=current_origin())
            if nb is not None
            else contextlib.nullcontext()
        ):
            if nb is None:
                ycell = None
            elif not self.begun:
                ycell = self._begin(nb, finished=finished)
            else:
                ycell = self._find(nb)
            youtputs = ycell["outputs"] if ycell is not None else None
            for msg in messages:
                self._apply_one(msg, youtputs)
            if finished and ycell is not None:
                ycell["execution_count"] = execution_count
                ycell["execution_state"] = "idle"

    def _clear(self, youtputs: Any) -> None:
        self.outputs.clear()
        self.displays.clear()
        self.live_displays.clear()
        self.clear_pending = False
        if youtputs is not None and len(youtputs):
            youtputs.clear()

    def _apply_one(self, msg: dict[str, Any], youtputs: Any) -> None:
        kind = msg["msg_type"]
        if kind == "clear_output":
            if msg["content"].get("wait"):
                self.clear_pending = True
            else:
                self._clear(youtputs)
            return
        output = nbformat_output(msg)
        if output is None:
            return
        display_id = msg["content"].get("transient", {}).get("display_id")
        if kind == "update_display_data":
            for position in self.displays.get(display_id, []):
                if position < len(self.outputs):
                    self.outputs[position].update(data=output["data"], metadata=output["metadata"])
            for position in self.live_displays.get(display_id, []) if youtputs is not None else ():
                if position < len(youtputs):
                    youtputs[position]["data"] = output["data"]
                    youtputs[position]["metadata"] = output["metadata"]
            return
        if self.clear_pending:
            self._clear(youtputs)
        _append(self.outputs, self.displays, output, display_id, _merge_plain)
        if youtputs is not None:
            # Decided from the live outputs, not the mirror: a person may have cleared them meanwhile.
            _append(youtputs, self.live_displays, output, display_id, _merge_live)
