"""Minimal edits between two texts, so a CRDT text keeps whatever another person typed elsewhere."""

from __future__ import annotations

from difflib import SequenceMatcher

# Above this many lines in the changed middle, one replacement of the middle is good enough
# (a line diff of huge texts costs more than it saves).
_MAX_DIFF_LINES = 5000


def _common_prefix(a: str, b: str) -> int:
    # Binary search over slice comparisons: C-speed compares instead of a Python loop per char.
    low, high = 0, min(len(a), len(b))
    while low < high:
        mid = (low + high + 1) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid - 1
    return low


def _common_affixes(old: str, new: str) -> tuple[int, int]:
    """Lengths of the common prefix and of the common suffix (not overlapping)."""
    prefix = _common_prefix(old, new)
    suffix = _common_prefix(old[prefix:][::-1], new[prefix:][::-1])
    return prefix, suffix


def text_edits(old: str, new: str) -> list[tuple[int, int, str]]:
    """Edits ``(start, end, replacement)`` on ``old`` that produce ``new``.

    Ordered from the end of the text to its start, so applying them one after another
    never shifts the offsets of the edits still to apply. Unchanged lines are never touched.
    """
    if old == new:
        return []
    prefix, suffix = _common_affixes(old, new)
    old_mid, new_mid = old[prefix : len(old) - suffix], new[prefix : len(new) - suffix]
    old_lines, new_lines = old_mid.splitlines(keepends=True), new_mid.splitlines(keepends=True)
    if not old_mid or not new_mid or len(old_lines) + len(new_lines) > _MAX_DIFF_LINES:
        return [(prefix, prefix + len(old_mid), new_mid)]

    edits: list[tuple[int, int, str]] = []
    old_offsets = [0]
    for line in old_lines:
        old_offsets.append(old_offsets[-1] + len(line))
    matcher = SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        start, end = prefix + old_offsets[i1], prefix + old_offsets[i2]
        old_block, new_block = old[start:end], "".join(new_lines[j1:j2])
        # Within a changed block of lines, touch only the characters that differ.
        head, tail = _common_affixes(old_block, new_block)
        edits.append((start + head, end - tail, new_block[head : len(new_block) - tail]))
    edits.reverse()
    return edits
