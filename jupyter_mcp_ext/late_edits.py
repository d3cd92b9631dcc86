"""Edits that reach a moved cell's old copy are carried over to its new copy.

A Y array has no move: ``move_cell`` deletes the cell and inserts a copy. A person's keystroke
already on its way when the move happens lands in the deleted copy, and the server's document
drops it at once (the text of a deleted cell reads empty). ``recent_edits`` refuses to move a
cell someone is typing in; this module closes the remaining race (the first keystroke after a
pause, a client that was briefly offline): just before a move, the document is copied into a
shadow that never sees the move; every update a client sends for ``CARRY_SECONDS`` after it is
applied to the shadow too, where the old cell still exists; what is added to its text there is
inserted into the new copy.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from jupyter_ydoc import YNotebook
from pycrdt import Array, Doc, YMessageType, YSyncMessageType, read_message

from .textdiff import text_edits

CARRY_SECONDS = 10.0
_CONTEXT = 16  # characters around an edit that place it when the cell changed since the move
_OLD_COPY = "jupyter-mcp-ext:old-copy"  # a key set in the shadow only, never in a shared document
LATE_EDIT_ORIGIN = "jupyter-mcp-ext:late-edit"  # the person's text, re-applied: not an agent change

_log = logging.getLogger(__name__)


@dataclass
class _MovedCell:
    """The shadow of one move: the document as it was just before it, fed with clients' updates."""

    cell_id: str
    before: bytes  # the document just before the move
    source: str  # the old copy's text as last carried over
    until: float
    updates: list[bytes] = field(default_factory=list)  # what the shadow took since
    shadow: Doc[Any] = field(init=False)

    def __post_init__(self) -> None:
        self.shadow = self._rebuild()

    def take(self, update: bytes) -> str | None:
        """Apply a client's update to the shadow; the old copy's text then, None if unchanged.

        An update that deletes the old copy is left out: it is the move itself, sent back by a
        client that echoes what it receives (the shadow would then lose what others still send
        for the old copy), or someone deleting the cell.
        """
        self.shadow.apply_update(update)
        source = _old_source(self.shadow)
        if source is None:
            self.shadow = self._rebuild()
            return None
        self.updates.append(update)
        return source if source != self.source else None

    def _rebuild(self) -> Doc[Any]:
        shadow: Doc[Any] = Doc()
        shadow.apply_update(self.before)
        for cell in shadow.get("cells", type=Array):
            if cell.get("id") == self.cell_id:
                cell[_OLD_COPY] = (
                    True  # told apart from the new copy (same id) if the move comes back
                )
        for update in self.updates:
            shadow.apply_update(update)
        return shadow


@dataclass
class _Moves:
    nb: YNotebook
    moved: list[_MovedCell] = field(default_factory=list)

    def receive(self, update: bytes) -> None:
        now = time.monotonic()
        self.moved = [move for move in self.moved if move.until > now]
        for move in self.moved:
            source = move.take(update)
            if source is not None:
                _carry(self.nb, move.cell_id, move.source, source)
                move.source = source


_moves: WeakKeyDictionary[YNotebook, _Moves] = WeakKeyDictionary()


def before_move(nb: YNotebook, cell_id: str, source: str) -> None:
    """Keep a shadow of ``nb`` in which the cell ``cell_id`` (holding ``source``) is not moved."""
    moves = _moves.setdefault(nb, _Moves(nb))
    moves.moved.append(
        _MovedCell(cell_id, nb.ydoc.get_update(), source, time.monotonic() + CARRY_SECONDS)
    )
    # Dropped after the window even if no client sends anything (a shadow is a whole copy).
    asyncio.get_running_loop().call_later(CARRY_SECONDS, _expire, moves)


def _expire(moves: _Moves) -> None:
    now = time.monotonic()
    moves.moved = [move for move in moves.moved if move.until > now]


def on_client_message(nb: YNotebook, message: bytes) -> None:
    """Note a message a client sent to ``nb``'s room (called before the room applies it)."""
    moves = _moves.get(nb)
    if moves is None or not moves.moved:
        return
    if len(message) < 2 or message[0] != YMessageType.SYNC:
        return
    if message[1] not in (YSyncMessageType.SYNC_STEP2, YSyncMessageType.SYNC_UPDATE):
        return
    try:
        moves.receive(read_message(message[2:]))
    except Exception:  # never fail the room's handling of the person's message
        _log.warning("MCP: could not carry an edit over to a moved cell", exc_info=True)


def _old_source(shadow: Doc[Any]) -> str | None:
    """The text of the moved cell's old copy in ``shadow``; None once that copy is deleted there too."""
    for cell in shadow.get("cells", type=Array):
        if cell.get(_OLD_COPY):
            return str(cell.get("source", ""))
    return None


def _carry(nb: YNotebook, cell_id: str, old: str, new: str) -> None:
    """Insert into the cell's current copy what was added to its old copy (``old`` -> ``new``).

    Only additions are carried: a deletion in the old copy may be the server's own (what lands in
    a deleted cell is deleted at once) sent back by a client that echoes, and a character someone
    deleted coming back is better than one they typed being lost. The current copy may have
    changed since the move: an addition lands where its context is found (the text before it,
    else the text after it), or at the end when neither is found.
    """
    with nb.ydoc.transaction(origin=LATE_EDIT_ORIGIN):
        ytext = _text_of(nb, cell_id)
        if ytext is None:  # the new copy was deleted meanwhile: nothing to carry into
            return
        for start, end, added in text_edits(old, new):
            if not added:
                continue
            current = str(ytext)
            at = _position(current, old, start, end)
            if at is None:
                at = len(current)
            elif current[at : at + end - start] == old[start:end]:
                at += end - start  # what was replaced is kept: the addition goes after it
            ytext.insert(_utf8_len(current[:at]), added)


def _position(current: str, old: str, start: int, end: int) -> int | None:
    """Where the edit of ``old[start:end]`` goes in ``current``: after the same text as before it,
    or before the same text as after it; whole, else the nearest ``_CONTEXT`` characters if they
    occur once. None when neither is found."""
    if current == old:
        return start
    before, after = old[:start], old[end:]
    if before and current.startswith(before):
        return start
    if after and current.endswith(after) and len(current) - len(after) - (end - start) >= 0:
        return len(current) - len(after) - (end - start)
    near = before[-_CONTEXT:]
    if near and current.count(near) == 1:
        return current.index(near) + len(near)
    near = after[:_CONTEXT]
    if near and current.count(near) == 1:
        at = current.index(near)
        removed = old[start:end]
        fits = at >= len(removed) and current[at - len(removed) : at] == removed
        return at - len(removed) if fits else at
    return None


def _text_of(nb: YNotebook, cell_id: str) -> Any:
    for cell in nb.ycells:
        if cell.get("id") == cell_id:
            return cell["source"]
    return None


def _utf8_len(text: str) -> int:
    # pycrdt's Text takes indexes in UTF-8 bytes, as cells.py does for the agent's own edits.
    return len(text.encode("utf-8"))
