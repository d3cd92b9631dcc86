"""What an agent is shown of outputs: text capped with head and tail kept, budgets over a result."""

from __future__ import annotations

import base64

from hypothesis import given
from hypothesis import strategies as st

from jupyter_mcp_ext.outputs import (
    OutputLimits,
    cap_text,
    execution_content,
    strip_ansi,
    summarize_output,
)

LIMITS = OutputLimits(max_output_chars=100, max_total_chars=250, max_images=2, max_image_bytes=1000)


@given(st.text(max_size=500), st.integers(min_value=1, max_value=300))
def test_capped_text_keeps_its_head_and_tail_and_says_how_much_was_cut(text: str, max_chars: int):
    capped, cut = cap_text(text, max_chars)
    if len(text) <= max_chars:
        assert (capped, cut) == (text, 0)
        return
    head = max_chars * 2 // 3
    tail = max_chars - head
    assert cut == len(text) - max_chars
    assert capped.startswith(text[:head]) and capped.endswith(text[len(text) - tail :])
    assert f"[... {cut} characters omitted ...]" in capped


def test_an_error_shows_its_name_value_and_traceback_without_ansi_codes():
    output = {
        "output_type": "error",
        "ename": "ValueError",
        "evalue": "bad",
        "traceback": ["\x1b[0;31mValueError\x1b[0m: bad", "  line 1"],
    }
    summary = summarize_output(output, 1000)
    assert summary["text"] == "ValueError: bad\nValueError: bad\n  line 1"
    assert "\x1b" not in strip_ansi("\x1b[1;32mok\x1b[0m") == "ok"


def test_rich_data_shows_its_text_and_names_the_other_mime_types_with_sizes():
    output = {
        "output_type": "display_data",
        "data": {"text/plain": "<Figure>", "image/png": "A" * 2048, "text/html": "<b>x</b>"},
    }
    summary = summarize_output(output, 1000)
    assert summary["text"] == "<Figure>"
    assert summary["omitted"] == ["image/png (2.0 KB)", "text/html (8 B)"]


def _stream(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text}


def _png(size: int) -> dict:
    return {
        "output_type": "display_data",
        "data": {"image/png": base64.b64encode(b"\0" * size).decode()},
    }


def test_the_total_text_budget_cuts_later_outputs_and_notes_each_cut():
    contents, notes = execution_content(
        [_stream("a" * 150), _stream("b" * 150), _stream("c" * 150), _stream("d" * 10)], LIMITS
    )
    shown = [block.text for block in contents]
    assert sum(len(text.split("\n[...")[0]) for text in shown) <= LIMITS.max_total_chars
    assert shown[0].startswith("a" * 66) and shown[0].endswith("a" * 34)
    assert any("output 3" in note and "total text limit" in note for note in notes)


def test_images_are_image_content_up_to_their_number_and_size():
    contents, notes = execution_content([_png(10), _png(5000), _png(20), _png(30)], LIMITS)
    assert [block.type for block in contents] == ["image", "image"]
    assert [note for note in notes if note.startswith("output 1")] == [
        "output 1: image/png image of 5000 bytes omitted (larger than 1000 bytes)"
    ]
    assert [note for note in notes if note.startswith("output 3")] == [
        "output 3: image/png image omitted (more than 2 images)"
    ]
