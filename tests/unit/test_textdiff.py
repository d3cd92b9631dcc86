"""Minimal text edits: applied in order they give the new text, and they never touch what is unchanged."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from jupyter_mcp_ext.textdiff import text_edits

# Lines from a small alphabet, so that old and new share lines and the line diff has work to do.
LINES = st.lists(
    st.sampled_from(
        ["x = 1\n", "print(x)\n", "é🎉\n", "e\u0301\n", "\r\n", "", "def f():\n", "  pass"]
    ),
    max_size=12,
).map("".join)
TEXTS = LINES | st.text(max_size=40)


def apply(old: str, edits: list[tuple[int, int, str]]) -> str:
    text = old
    for start, end, replacement in edits:
        text = text[:start] + replacement + text[end:]
    return text


@given(TEXTS, TEXTS)
def test_applying_the_edits_in_order_gives_the_new_text(old: str, new: str):
    assert apply(old, text_edits(old, new)) == new


@given(TEXTS, TEXTS)
def test_edits_go_from_the_end_of_the_text_to_its_start_without_overlapping(old: str, new: str):
    edits = text_edits(old, new)
    for (start, end, _), (_next_start, next_end, _) in itertools.pairwise(edits):
        assert next_end <= start and start <= end
    assert all(0 <= start <= end <= len(old) for start, end, _ in edits)


@given(TEXTS, TEXTS, TEXTS)
def test_a_common_head_and_tail_are_never_touched(head: str, old: str, new: str):
    edits = text_edits(head + old + "\n#tail", head + new + "\n#tail")
    assert all(start >= len(head) for start, _, _ in edits)
    assert all(end <= len(head + old) for _, end, _ in edits)


def test_identical_texts_need_no_edit():
    assert text_edits("same\ntext", "same\ntext") == []


def test_a_changed_line_in_the_middle_is_one_small_edit():
    old = "a = 1\nb = 2\nc = 3\n"
    assert text_edits(old, "a = 1\nb = 20\nc = 3\n") == [(11, 11, "0")]  # after "b = 2"


def test_two_changed_lines_far_apart_are_two_edits_and_the_lines_between_are_kept():
    old = "".join(f"line {i}\n" for i in range(10))
    new = old.replace("line 1\n", "line one\n").replace("line 8\n", "line eight\n")
    edits = text_edits(old, new)
    assert len(edits) == 2 and apply(old, edits) == new
    assert edits[0][0] > edits[1][1]  # the later edit comes first
