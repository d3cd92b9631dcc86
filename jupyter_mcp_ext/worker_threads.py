"""Let the server's process end when tasks still pending at shutdown left anyio worker threads.

anyio's worker threads are not daemons: each stops only when the task that first used it (its
"root task") finishes. jupyter_server_ydoc gives its rooms 3 s to stop at shutdown; a
collaboration-store write waiting for SQLite's lock can outlast that, and the server's loop then
stops with the websocket server's task (the root task of the store's threads) still pending.
Python waits for those idle threads at exit, forever: the process never ends after SIGTERM, and
JupyterHub, Docker or a terminal has to kill it. The threads are stopped once the loop is gone.
"""

from __future__ import annotations

import logging
import queue
import threading

_registered = False


def stop_orphaned_worker_threads() -> int:
    """Stop the anyio worker threads whose event loop no longer runs; how many were told to."""
    try:
        from anyio._backends._asyncio import WorkerThread
    except ImportError:  # anyio's internals moved: nothing known to stop
        return 0
    stopped = 0
    for thread in threading.enumerate():
        if not isinstance(thread, WorkerThread) or thread.loop.is_running():
            continue
        try:
            thread.stop()
        except queue.Full:  # calls still queued (two at most): the stop waits its turn
            try:
                thread.queue.put(None, timeout=30)
            except queue.Full:
                continue
        stopped += 1
    return stopped


def stop_orphaned_worker_threads_at_exit(log: logging.Logger) -> None:
    """Once per process, before Python waits for non-daemon threads at exit, stop orphaned ones."""
    global _registered
    if _registered:
        return

    def at_exit() -> None:
        if stopped := stop_orphaned_worker_threads():
            log.warning(
                "MCP: stopped %d worker thread(s) of tasks still pending when the server's loop "
                "stopped, so that the process can end",
                stopped,
            )

    # The hook concurrent.futures uses: atexit callbacks would run only after that wait.
    threading._register_atexit(at_exit)  # type: ignore[attr-defined]
    _registered = True
