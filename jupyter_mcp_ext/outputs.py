"""Cell outputs as an agent reads them: text capped, rich data summarised, ANSI codes removed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import mcp_types as types

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_TEXT_MIMES = ("text/plain", "text/markdown", "application/json", "text/latex")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text) if "\x1b" in text else text


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
    kind = str(output.get("output_type", "unknown"))
    omitted: list[str] = []
    if kind == "stream":
        text = _joined(output.get("text", ""))
    elif kind == "error":
        traceback = "\n".join(_joined(line) for line in output.get("traceback", []))
        text = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
        if traceback:
            text += "\n" + strip_ansi(traceback)
    elif kind in ("execute_result", "display_data", "update_display_data"):
        data = output.get("data")
        data = data if isinstance(data, dict) else {}
        text_mime = next((mime for mime in _TEXT_MIMES if mime in data), None)
        text = _joined(data[text_mime]) if text_mime else ""
        omitted = [
            f"{mime} ({_size_label(value)})" for mime, value in data.items() if mime != text_mime
        ]
    else:
        text = ""
    text, cut = cap_text(strip_ansi(text), max_chars)
    if cut:
        omitted.append(f"{cut} characters of text")
    return {"output_type": kind, "text": text, "omitted": omitted}


@dataclass(frozen=True)
class OutputLimits:
    """Caps on what an execution result carries (the notebook itself always keeps everything)."""

    max_output_chars: int  # text of one output
    max_total_chars: int  # text of all outputs of one result
    max_images: int
    max_image_bytes: int  # decoded size of one image


_IMAGE_MIMES = ("image/png", "image/jpeg")


def execution_content(
    outputs: list[dict[str, Any]], limits: OutputLimits
) -> tuple[list[Any], list[str]]:
    """MCP content blocks for a cell's outputs, and notes on what was cut or left out.

    Text (streams, text/plain, errors without ANSI codes, SVG source) is capped per output and in
    total, keeping head and tail; PNG and JPEG become image content, capped in number and size.
    """
    contents: list[Any] = []
    notes: list[str] = []
    budget = limits.max_total_chars
    images = 0
    for position, output in enumerate(outputs):
        data = output.get("data") or {}
        image_mime = next((mime for mime in _IMAGE_MIMES if mime in data), None)
        image_noted = False
        if image_mime is not None:
            encoded = _joined(data[image_mime]).replace("\n", "")
            size = len(encoded) * 3 // 4 - encoded[-2:].count("=")  # the decoded size
            if images >= limits.max_images:
                notes.append(
                    f"output {position}: {image_mime} image omitted (more than {limits.max_images} images)"
                )
            elif size > limits.max_image_bytes:
                notes.append(
                    f"output {position}: {image_mime} image of {size} bytes omitted "
                    f"(larger than {limits.max_image_bytes} bytes)"
                )
            else:
                images += 1
                contents.append(
                    types.ImageContent(type="image", data=encoded, mime_type=image_mime)
                )
                continue
            image_noted = True
        if "image/svg+xml" in data and image_mime is None:
            text = _joined(data["image/svg+xml"])
            label = "image/svg+xml (SVG source)"
        else:
            summary = summarize_output(output, max_chars=10**9)
            text = summary["text"]
            label = ""
            if not text:
                if summary["omitted"] and not image_noted:  # an omitted image has its own note
                    notes.append(f"output {position}: {', '.join(summary['omitted'])} not shown")
                continue
        if budget <= 0:
            notes.append(
                f"output {position}: {len(text)} characters omitted (total text limit reached)"
            )
            continue
        text, cut = cap_text(text, min(limits.max_output_chars, budget))
        if cut:
            notes.append(f"output {position}: {cut} characters cut (head and tail kept)")
        if not text:
            continue
        budget -= len(text)
        contents.append(types.TextContent(type="text", text=f"{label}\n{text}" if label else text))
    return contents, notes
