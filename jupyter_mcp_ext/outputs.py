"""Cell outputs as an agent reads them: text capped, rich data summarised, ANSI codes removed."""

from __future__ import annotations

import re
from typing import Any

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_TEXT_MIMES = ("text/plain", "text/markdown", "application/json", "text/latex")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def cap_text(text: str, max_chars: int) -> tuple[str, int]:
    """``text`` cut to ``max_chars`` (head and tail kept), and how many characters were cut."""
    if len(text) <= max_chars:
        return text, 0
    head = max_chars * 2 // 3
    tail = max_chars - head
    omitted = len(text) - head - tail
    marker = f"\n[... {omitted} characters omitted ...]\n"
    return text[:head] + marker + (text[-tail:] if tail else ""), omitted


def _joined(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _size_label(data: Any) -> str:
    size = len(_joined(data))
    return f"{size / 1024:.1f} KB" if size >= 1024 else f"{size} B"


def summarize_output(output: dict[str, Any], max_chars: int) -> dict[str, Any]:
    """One nbformat output as ``{output_type, text, omitted}`` (``omitted`` names what is not shown)."""
    kind = output.get("output_type", "unknown")
    omitted: list[str] = []
    if kind == "stream":
        text = _joined(output.get("text", ""))
    elif kind == "error":
        traceback = "\n".join(_joined(line) for line in output.get("traceback", []))
        text = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
        if traceback:
            text += "\n" + strip_ansi(traceback)
    elif kind in ("execute_result", "display_data", "update_display_data"):
        data = output.get("data", {}) or {}
        text_mime = next((mime for mime in _TEXT_MIMES if mime in data), None)
        text = _joined(data[text_mime]) if text_mime else ""
        omitted = [f"{mime} ({_size_label(value)})" for mime, value in data.items() if mime != text_mime]
    else:
        text = ""
    text, cut = cap_text(strip_ansi(text), max_chars)
    if cut:
        omitted.append(f"{cut} characters of text")
    return {"output_type": kind, "text": text, "omitted": omitted}
