"""Operations on the cells of a live ``YNotebook``, each in one transaction with the agent origin.

Cells are found again by id right before each write, so a person inserting, deleting or
moving cells meanwhile does not make an edit land in the wrong cell. Sources change by
minimal text edits and metadata key by key, so concurrent typing is kept.
"""

from __future__ import annotations

import json
from typing import Any
from weakref import WeakKeyDictionary

from jupyter_ydoc import YNotebook
from pycrdt import Array, Map, Text

from . import late_edits, recent_edits
from .agents import current_origin
from .errors import UsageError
from .outputs import summarize_output
from .textdiff import text_edits

CELL_TYPES = ("code", "markdown", "raw")


def _int_or_none(value: Any) -> int | None:
    """An execution count: Y numbers are floats; anything but a whole number (null, "NaN") is None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not value.is_integer():  # also NaN and infinities
        return None
    return int(value)


# Where each cell of a live document was last seen, by id. Reading ``ycells[i]`` walks the
# array from its start (O(i)), so a scan per lookup made bulk operations on big notebooks
# quadratic or worse. Built from one JSON export of the cells, kept while it matches: every
# lookup checks the id at the position found, and a stale map is rebuilt once.
_positions: WeakKeyDictionary[YNotebook, dict[str, int]] = WeakKeyDictionary()


def _build_positions(nb: YNotebook) -> dict[str, int]:
    positions: dict[str, int] = {}
    for index, cell in enumerate(read_cells(nb)):
        positions.setdefault(
            str(cell.get("id")), index
        )  # a duplicated id: the first cell, as a scan finds
    _positions[nb] = positions
    return positions


def forget_positions(nb: YNotebook) -> None:
    """Drop the id map after this module inserted or deleted cells (the next lookup rebuilds it)."""
    _positions.pop(nb, None)


def find_cell(nb: YNotebook, cell_id: str, hint: int | None = None) -> tuple[int, Map] | None:
    """(index, live cell) of the cell ``cell_id`` now, or None; ``hint`` (where it was last seen) is checked first."""
    ycells = nb.ycells
    with nb.ydoc.transaction():
        count = len(ycells)
        if hint is not None and 0 <= hint < count:
            ycell = ycells[hint]
            if ycell.get("id") == cell_id:
                return hint, ycell
        positions = _positions.get(nb)
        fresh = positions is None
        if positions is None:
            positions = _build_positions(nb)
        while True:
            index = positions.get(cell_id)
            if index is not None and index < count:
                ycell = ycells[index]
                if ycell.get("id") == cell_id:
                    return index, ycell
            if fresh:
                return None
            positions, fresh = _build_positions(nb), True


def find_index(nb: YNotebook, cell_id: str, hint: int | None = None) -> int | None:
    """Index of the cell ``cell_id`` now, or None; ``hint`` (where it was last seen) is checked first."""
    found = find_cell(nb, cell_id, hint)
    return None if found is None else found[0]


def _missing(nb: YNotebook, cell_id: str) -> UsageError:
    return UsageError(
        f"No cell has id {cell_id!r} (the notebook has {len(nb.ycells)} cells; it may have been deleted). "
        "Use read_notebook to see the current cell ids."
    )


def cell_of(nb: YNotebook, cell_id: str, hint: int | None = None) -> tuple[int, Map]:
    found = find_cell(nb, cell_id, hint)
    if found is None:
        raise _missing(nb, cell_id)
    return found


def index_of(nb: YNotebook, cell_id: str, hint: int | None = None) -> int:
    return cell_of(nb, cell_id, hint)[0]


def _range_text(count: int) -> str:
    return (
        "the notebook has no cells"
        if count == 0
        else f"valid indexes are 0..{count - 1} (or -{count}..-1)"
    )


def locate(nb: YNotebook, cell_index: int | None, cell_id: str | None) -> tuple[int, str]:
    """(index, id) of the cell an agent addressed by index or by id (exactly one of them)."""
    if (cell_index is None) == (cell_id is None):
        raise UsageError(
            "Address the cell with exactly one of cell_index (0-based; negative counts from the end) or cell_id."
        )
    count = len(nb.ycells)
    if cell_id is not None:
        return index_of(nb, cell_id), cell_id
    assert cell_index is not None
    if not -count <= cell_index < count:
        raise UsageError(f"cell_index {cell_index} is out of range: {_range_text(count)}.")
    index = cell_index % count
    return index, str(nb.ycells[index].get("id"))


def insert_index(nb: YNotebook, index: int) -> int:
    """``index`` checked as a place to insert a cell (-1 or the cell count: at the end)."""
    count = len(nb.ycells)
    if index == -1:
        return count
    if not 0 <= index <= count:
        raise UsageError(f"Insert index {index} is out of range: use 0..{count} (or -1 to append).")
    return index


def check_text(text: str, what: str) -> None:
    """Refuse text that cannot be stored (a lone surrogate, half of a UTF-16 pair) before anything changes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise UsageError(
            f"{what} is not valid Unicode text: character {error.start} is a lone surrogate "
            f"(U+{ord(text[error.start]):04X}, half of a UTF-16 pair). Send whole characters; nothing was changed."
        ) from None


def insert_cell(
    nb: YNotebook,
    index: int,
    cell_type: str,
    source: str,
    *,
    running: bool = False,
    cell_id: str | None = None,
) -> tuple[int, str]:
    """Insert a new cell at ``index`` (-1 or the cell count appends); returns (index, id).

    ``running`` marks a new code cell as executing ([*]) in the same edit.
    """
    if cell_type not in CELL_TYPES:
        raise UsageError(
            f"cell_type {cell_type!r} is not valid: use one of {', '.join(CELL_TYPES)}."
        )
    check_text(source, "source")
    index = insert_index(nb, index)
    cell: dict[str, Any] = {"cell_type": cell_type, "source": source, "metadata": {}}
    if cell_id is not None:
        cell["id"] = cell_id
    if cell_type == "code":
        cell.update(outputs=[], execution_count=None)
    ycell = nb.create_ycell(cell)
    with nb.ydoc.transaction(origin=current_origin()):
        nb.ycells.insert(index, ycell)
        forget_positions(nb)
        if running:
            ycell["execution_state"] = "running"
        return index, str(ycell["id"])


def _byte_edits(old: str, edits: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Character-offset edits on ``old`` as UTF-8 byte offsets (what a Y text counts), same order.

    Every replacement is checked first, so an edit is applied whole or not at all.
    """
    for _, _, replacement in edits:
        check_text(replacement, "The new text")
    if old.isascii():
        return edits
    byte_offsets: dict[int, int] = {}
    position = byte = 0
    for offset in sorted({offset for start, end, _ in edits for offset in (start, end)}):
        byte += len(old[position:offset].encode())
        byte_offsets[offset] = byte
        position = offset
    return [
        (byte_offsets[start], byte_offsets[end], replacement) for start, end, replacement in edits
    ]


def _apply_edits(ytext: Text, old: str, edits: list[tuple[int, int, str]]) -> tuple[int, int]:
    """Apply character-offset edits on ``old`` (last edit first) to ``ytext``; returns (chars removed, inserted)."""
    removed = sum(end - start for start, end, _ in edits)
    inserted = sum(len(replacement) for _, _, replacement in edits)
    for byte_start, byte_end, replacement in _byte_edits(old, edits):
        if byte_end > byte_start:
            del ytext[byte_start:byte_end]
        if replacement:
            ytext.insert(byte_start, replacement)
    return removed, inserted


def apply_source(ytext: Text, new_source: str) -> tuple[int, int]:
    """Turn ``ytext`` into ``new_source`` by minimal edits; returns (chars removed, chars inserted)."""
    old = str(ytext)
    return _apply_edits(ytext, old, text_edits(old, new_source))


def set_source(
    nb: YNotebook, cell_id: str, new_source: str, hint: int | None = None
) -> tuple[int, int, int]:
    """Replace the source of the cell ``cell_id``; returns (index, chars removed, chars inserted)."""
    check_text(new_source, "source")
    with nb.ydoc.transaction(origin=current_origin()):
        index, ycell = cell_of(nb, cell_id, hint)
        removed, inserted = apply_source(ycell["source"], new_source)
    return index, removed, inserted


def replace_in_source(
    nb: YNotebook,
    cell_id: str,
    old_text: str,
    new_text: str,
    replace_all: bool,
    hint: int | None = None,
) -> tuple[int, int, int, int]:
    """Replace ``old_text`` by ``new_text`` in one cell; returns (index, replacements, chars removed, inserted)."""
    if not old_text:
        raise UsageError(
            "old_text is empty: give the exact text to replace (copy it from read_cell)."
        )
    check_text(new_text, "new_text")
    with nb.ydoc.transaction(origin=current_origin()):
        index, ycell = cell_of(nb, cell_id, hint)
        ytext = ycell["source"]
        source = str(ytext)
        count = source.count(old_text)
        if count == 0:
            raise UsageError(
                f"old_text was not found in cell {index} (id {cell_id!r}); it must match the source exactly, "
                "including whitespace. Read the cell with read_cell first."
            )
        if count > 1 and not replace_all:
            raise UsageError(
                f"old_text occurs {count} times in cell {index} (id {cell_id!r}): include more surrounding text "
                "to make it unique, or set replace_all to true."
            )
        # Edit only the matched spans (last first), and in each only the characters that differ.
        starts: list[int] = []
        position = source.find(old_text)
        while position != -1:
            starts.append(position)
            position = source.find(old_text, position + len(old_text))
        edits = text_edits(old_text, new_text)
        shifted = [
            (start + a, start + b, text) for start in reversed(starts) for a, b, text in edits
        ]
        removed, inserted = _apply_edits(ytext, source, shifted)
    return index, len(starts), removed, inserted


def resolve_cells(nb: YNotebook, ids: list[str]) -> list[dict[str, Any]]:
    """What each cell named is (index now, id, type), all checked before anything changes."""
    with nb.ydoc.transaction():
        plain = read_cells(nb)
        positions = _build_positions(nb)
        resolved = []
        for cell_id in ids:
            index = positions.get(cell_id)
            if index is None:
                raise _missing(nb, cell_id)
            resolved.append(
                {
                    "index": index,
                    "cell_id": cell_id,
                    "cell_type": str(plain[index].get("cell_type")),
                }
            )
    return resolved


def delete_cells(nb: YNotebook, cells: list[dict[str, Any]]) -> None:
    """Delete cells resolved by ``resolve_cells`` (found again by id: one may have moved since).

    A cell deleted meanwhile by someone else is already gone: nothing to do for it.
    """
    with nb.ydoc.transaction(origin=current_origin()):
        found = [find_index(nb, cell["cell_id"], cell["index"]) for cell in cells]
        for index in sorted((index for index in found if index is not None), reverse=True):
            del nb.ycells[index]
        forget_positions(nb)


def move_cell(nb: YNotebook, cell_id: str, to_index: int) -> tuple[int, int]:
    """Move a cell (keeping its id, source, outputs); returns (from, to).

    Refused while another client is changing the cell: a move deletes it and inserts a copy, so
    their edits still on the way would land in the deleted cell and be lost.
    """
    with nb.ydoc.transaction(origin=current_origin()):
        count = len(nb.ycells)
        if not -count <= to_index < count:
            raise UsageError(f"to_index {to_index} is out of range: {_range_text(count)}.")
        to_index %= count
        from_index = index_of(nb, cell_id)
        if from_index != to_index:
            recent_edits.check_quiet(nb, cell_id, from_index)
            late_edits.before_move(nb, cell_id, str(nb.ycells[from_index].get("source", "")))
            cell = nb.ycells.pop(from_index)
            nb.ycells.insert(to_index, nb.create_ycell(cell))
            forget_positions(nb)
    return from_index, to_index


def clearable(cell: dict[str, Any]) -> bool:
    """Whether a plain cell has anything ``clear_outputs`` would remove."""
    return cell.get("cell_type") == "code" and bool(
        cell.get("outputs") or cell.get("execution_count") is not None
    )


def clear_outputs(nb: YNotebook, cell_id: str, hint: int | None = None) -> tuple[int, int]:
    """Remove a code cell's outputs and execution count; returns (index, outputs removed)."""
    with nb.ydoc.transaction(origin=current_origin()):
        index, cell = cell_of(nb, cell_id, hint)
        return index, _clear(cell)


def clear_outputs_of(nb: YNotebook, cells: list[tuple[int, str]]) -> list[tuple[int, str, int]]:
    """Clear the cells ``(index last seen, id)`` in one transaction; returns (index, id, outputs removed).

    A cell deleted meanwhile by someone else is left out.
    """
    cleared = []
    with nb.ydoc.transaction(origin=current_origin()):
        for hint, cell_id in cells:
            found = find_cell(nb, cell_id, hint)
            if found is not None:
                cleared.append((found[0], cell_id, _clear(found[1])))
    return cleared


def _clear(cell: Map) -> int:
    if cell.get("cell_type") != "code":
        return 0
    outputs = cell.get("outputs")
    removed = len(outputs) if isinstance(outputs, Array) else 0
    if isinstance(outputs, Array) and removed:
        outputs.clear()
    if cell.get("execution_count") is not None:
        cell["execution_count"] = None
    return removed


def _text(value: Any) -> str:
    """A source as text: nbformat allows a list of lines; a malformed file may hold anything."""
    if isinstance(value, list):
        return "".join(str(line) for line in value)
    return "" if value is None else str(value)


def _output_view(output: Any, max_chars: int) -> dict[str, Any]:
    if isinstance(output, dict):
        return summarize_output(output, max_chars)
    return {
        "output_type": "invalid",
        "text": "",
        "omitted": [f"an output that is not an object: {str(output)[:100]}"],
    }


def cell_view(
    index: int, cell: dict[str, Any], *, max_output_chars: int, outputs: bool = True
) -> dict[str, Any]:
    """A cell as read tools return it (from the cell's plain form), whatever a malformed file put in it."""
    view: dict[str, Any] = {
        "index": index,
        "cell_id": str(cell.get("id", "")),
        "cell_type": str(cell.get("cell_type", "code")),
        "source": _text(cell.get("source")),
    }
    if view["cell_type"] == "code":
        view["execution_count"] = _int_or_none(cell.get("execution_count"))
        cell_outputs = cell.get("outputs")
        cell_outputs = cell_outputs if isinstance(cell_outputs, list) else []
        view["output_count"] = len(cell_outputs)
        if outputs:
            view["outputs"] = [_output_view(out, max_output_chars) for out in cell_outputs]
    return view


def read_cells(nb: YNotebook, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
    """Plain dicts of the cells in ``[start, stop)``.

    Through pycrdt's JSON export (done in Rust): ten times faster than ``to_py()`` on large notebooks.
    """
    ycells = nb.ycells
    if start == 0 and stop is None:
        return json.loads(str(ycells))
    with nb.ydoc.transaction():
        end = min(stop if stop is not None else len(ycells), len(ycells))
        return [json.loads(str(ycells[i])) for i in range(start, end)]


def metadata_kernelspec(nb: YNotebook) -> dict[str, Any]:
    metadata = nb.ydoc.get("meta", type=Map).get("metadata")
    if isinstance(metadata, Map):
        spec = metadata.get("kernelspec")
        return (spec.to_py() or {}) if isinstance(spec, Map) else dict(spec or {})
    return {}
