"""How long the Jupyter server takes to answer a plain request while a test makes it work hard."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator

import httpx2

POLL_SECONDS = 0.02


@contextlib.asynccontextmanager
async def status_waits(url: str, token: str) -> AsyncIterator[list[float]]:
    """Poll ``/api/status`` from another thread (a client outside the server's loop); yields how
    long each answer took, filled in until the block ends (the first one before it starts)."""
    waits: list[float] = []
    stop = threading.Event()
    answered = threading.Event()

    def poll() -> None:
        with httpx2.Client(headers={"Authorization": f"token {token}"}, timeout=300) as http:
            while not stop.is_set():
                began = time.perf_counter()
                assert http.get(url + "api/status").status_code == 200
                waits.append(time.perf_counter() - began)
                answered.set()
                stop.wait(POLL_SECONDS)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        await asyncio.to_thread(answered.wait, 30)
        yield waits
    finally:
        stop.set()
        await asyncio.to_thread(poller.join)  # its last request needs the server's loop
