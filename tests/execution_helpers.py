"""Helpers shared by the execution tests (test_execution*.py): reading a running cell the way a
browser sees it (through the pycrdt peer of test_live_editing), the notebook's Jupyter sessions
as JupyterLab sees them (REST), a person running code on the kernel's websocket, and tiny image
files."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import uuid
import zlib
from typing import Any

import httpx2
import websockets
from support import eventually

# -- what the browser (peer) sees -------------------------------------------------------------------


def peer_cell(peer: Any, cell_id: str) -> dict[str, Any] | None:
    """The cell with ``cell_id`` in the peer's document, as plain Python (None if it is not there)."""
    for ycell in peer.nb.ycells:
        if ycell.get("id") == cell_id:
            return ycell.to_py()
    return None


def stream_text(cell: dict[str, Any] | None, name: str = "stdout") -> str:
    """All the text of the cell's ``name`` stream outputs."""
    if cell is None:
        return ""
    return "".join(
        _joined(o.get("text", ""))
        for o in cell.get("outputs") or []
        if o.get("output_type") == "stream" and o.get("name") == name
    )


def output_texts(cell: dict[str, Any] | None) -> list[str]:
    """One text per output of a cell: stream text, text/plain, or ename: evalue."""
    texts = []
    for output in (cell or {}).get("outputs") or []:
        kind = output.get("output_type")
        if kind == "stream":
            texts.append(_joined(output.get("text", "")))
        elif kind == "error":
            texts.append(f"{output.get('ename')}: {output.get('evalue')}")
        else:
            texts.append(_joined((output.get("data") or {}).get("text/plain", "")))
    return texts


def _joined(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def count_of(cell: dict[str, Any] | None) -> int | None:
    value = (cell or {}).get("execution_count")
    return None if value is None else int(value)  # Y numbers are floats


# The polling helper of support.py, under the name tests written before it use.
until = eventually


# -- Jupyter sessions, as JupyterLab asks for them ----------------------------------------------------------


async def rest(server_url: str, token: str, method: str, url: str, **kwargs: Any) -> Any:
    async with httpx2.AsyncClient(headers={"Authorization": f"token {token}"}, timeout=30) as http:
        response = await http.request(method, server_url + url, **kwargs)
    assert response.status_code < 300, f"{method} {url}: {response.status_code} {response.text}"
    return response.json() if response.content else None


async def sessions_of(server_url: str, token: str, path: str) -> list[dict[str, Any]]:
    return [s for s in await rest(server_url, token, "GET", "api/sessions") if s["path"] == path]


async def person_runs(
    server_url: str, token: str, kernel_id: str, code: str, timeout: float = 60
) -> dict[str, Any]:
    """Run ``code`` the way JupyterLab does, on the kernel's websocket (JSON messages of its own
    session): the execute reply's content, plus ``outputs`` (the texts of its IOPub outputs until idle)."""
    url = (
        "ws"
        + server_url.removeprefix("http")
        + f"api/kernels/{kernel_id}/channels?session_id={uuid.uuid4()}"
    )
    msg_id = str(uuid.uuid4())
    request = {
        "header": {
            "msg_id": msg_id,
            "msg_type": "execute_request",
            "username": "person",
            "session": "person",
            "version": "5.3",
            "date": "",
        },
        "parent_header": {},
        "metadata": {},
        "channel": "shell",
        "buffers": [],
        "content": {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
    }
    outputs: list[str] = []
    reply: dict[str, Any] | None = None
    idle = False
    async with websockets.connect(
        url, additional_headers={"Authorization": f"token {token}"}, proxy=None
    ) as ws:
        await ws.send(json.dumps(request))
        async with asyncio.timeout(timeout):
            while True:
                msg = json.loads(await ws.recv())
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                kind, content = msg["msg_type"], msg["content"]
                if kind == "stream":
                    outputs.append(content["text"])
                elif kind == "error":
                    outputs.append(f"{content['ename']}: {content['evalue']}")
                elif kind == "status":
                    idle = content["execution_state"] == "idle"
                elif kind == "execute_reply":
                    reply = content
                if reply is not None and idle:
                    return {**reply, "outputs": outputs}


# -- results -------------------------------------------------------------------------------------------------


def result_texts(result: Any) -> list[str]:
    return [c.text for c in result.content if c.type == "text"]


def structured_texts(structured: dict[str, Any]) -> str:
    return "\n".join(o["text"] for o in structured["outputs"])


# -- tiny images ------------------------------------------------------------------------------------------------


def tiny_png() -> bytes:
    """A valid 1x1 red RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


# A valid 16x16 baseline JPEG (CPython's Lib/test/imghdrdata/python.jpg, 543 bytes).
TINY_JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDRENDg8QEBEQCgwS"
    "ExIQEw8QEBD/2wBDAQMDAwQDBAgEBAgQCwkLEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBD/wAAR"
    "CAAQABADASIAAhEBAxEB/8QAFgABAQEAAAAAAAAAAAAAAAAABwQF/8QAJBAAAQQBBAICAwAAAAAAAAAAAQIDBAYFBwgSExEiABQJMTL/xAAV"
    "AQEBAAAAAAAAAAAAAAAAAAAABv/EACMRAAECBQMFAAAAAAAAAAAAAAECEQMEBQYhABIxFRZhgeH/2gAMAwEAAhEDEQA/ABSm0mobc8HmExLU"
    "lRzzEWPkJWW+ulrsaUVAseUgslSlH9LKuPryIKuWPZdskzXmm3fX5m2nF4GlVxx/HOpx4ks51+MiU/Iaad7UcUo4tILoS4kqcWkezS0hO/Hv"
    "uRp0rO6hWnWO1UisZVuFi4GFeyEpmGepa5S5SWVPuciFKRFLgSrwetnyPIB+Vb4N9mKhQMzo5po9XLdDs9d6ZVix2VEhiL9kuNPxw2gEKcDQ"
    "/rs8AuA8VAe0vdl7VOYn+27flGAUgmITjbhSmCg3BYlyeWDkMolvw4KOp1KM6iCNvngZHwetf//Z"
)
