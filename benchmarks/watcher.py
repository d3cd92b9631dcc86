"""A person watching a notebook in JupyterLab, as a separate process (for bench_execute.py).

It joins the notebook's collaboration room with a real pycrdt peer (the browser stand-in of the
tests, ``tests/peer.py``) and subscribes to the UI events as the JupyterLab extension does,
so the server broadcasts every edit and emits the UI events it would for a real browser.

Usage: ``python benchmarks/watcher.py SERVER_URL TOKEN NOTEBOOK_PATH``. It prints ``ready`` once in
sync, and when its standard input closes, one JSON line: the cells its document ended with and the
show-cell events it received.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from peer import open_peer  # noqa: E402


async def count_show_cell_events(websocket: websockets.ClientConnection, seen: list[int]) -> None:
    async for message in websocket:
        event = json.loads(message)
        if event.get("action") == "show-cell":
            seen[0] += 1


async def main(server_url: str, token: str, path: str) -> None:
    headers = {"Authorization": f"token {token}"}
    events_url = "ws" + server_url.removeprefix("http") + "mcp/ui-events"
    shown = [0]
    async with open_peer(server_url, token, path) as peer, \
            websockets.connect(events_url, additional_headers=headers, proxy=None) as events:
        counting = asyncio.create_task(count_show_cell_events(events, shown))
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until stdin closes
        counting.cancel()
        print(json.dumps({"cells": len(peer.cell_ids()), "show_cell_events": shown[0]}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
