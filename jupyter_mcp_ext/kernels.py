"""Running code in a notebook's own kernel from inside the server, over ZMQ.

A notebook's kernel is its Jupyter session's kernel; a notebook without a session gets one
created exactly as JupyterLab would, so a browser opening it attaches to the same kernel.
Each kernel gets one in-server client with its own session identity (a clone of the
manager's session would steal replies from other in-server clients), and executions on
one kernel run one at a time, in the order they were requested.

Each execution remembers the kernel process it was sent to (the manager's ``ready`` future,
replaced whenever anyone starts, shuts down or restarts the kernel): a restart by anyone ends
it at once, and it never interrupts a kernel process that started after it was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

import anyio
import zmq
from jupyter_client.session import Session
from jupyter_core.utils import ensure_async
from tornado import web

from .errors import UsageError

# IOPub output messages of one execution, handed to the caller in batches, in order.
OnMessage = Callable[[list[dict[str, Any]]], Awaitable[None]]

# Outputs wait at most this long to be written (batched with what follows, or with the end of a
# fast execution): fewer edits of the shared document, unnoticeable to a person watching.
OUTPUT_HOLD = 0.05

# After the execute reply, the kernel's IOPub "idle" normally follows within milliseconds.
IDLE_AFTER_REPLY = 5.0

DIED = "The kernel died while the code ran (its process ended: most often it ran out of memory)."
RESTARTED = (
    "Someone restarted the kernel while the code ran (JupyterLab's Restart, the REST API or another "
    "agent's restart_kernel): the code was stopped and the kernel's variables are gone."
)


# How an execution ended: the kernel's own reply status (ok, error, aborted), or what ended it first.
Status = Literal["ok", "error", "aborted", "timeout", "died", "restarted"]


def _reply_status(content: dict[str, Any]) -> Status:
    """The status of an execute reply; anything but ok or aborted is an error (as JupyterLab shows it)."""
    status = content.get("status")
    return status if status == "ok" or status == "aborted" else "error"


@dataclass
class KernelReply:
    status: Status
    execution_count: int | None = None
    message: str = ""  # why it ended, when not "ok"
    # The last output messages, not yet handed to on_messages: the caller writes them
    # together with the final execution count, in one edit.
    tail: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Waiter:
    """The messages answering one request, in arrival order, and the wake-up of whoever waits for them."""

    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    wakeup: asyncio.Future | None = None

    def put(self, channel: str, msg: dict[str, Any]) -> None:
        self.messages.append((channel, msg))
        self._wake()

    def _wake(self) -> None:
        if self.wakeup is not None and not self.wakeup.done():
            self.wakeup.set_result(None)

    async def take(self, timeout: float) -> list[tuple[str, dict[str, Any]]]:
        """Everything that arrived so far, waiting up to ``timeout`` seconds if nothing has.

        A future and a timer rather than ``wait_for`` on a queue: no task per message.
        """
        if not self.messages and timeout > 0:
            loop = asyncio.get_running_loop()
            self.wakeup = loop.create_future()
            timer = loop.call_later(timeout, self._wake)
            try:
                await self.wakeup
            finally:
                timer.cancel()
                self.wakeup = None
        taken, self.messages = self.messages, []
        return taken


class KernelRunner:
    """One kernel's in-server client: sends executions and routes their replies and outputs."""

    def __init__(self, kernel_id: str, manager: Any, log: logging.Logger) -> None:
        self.kernel_id = kernel_id
        self.manager = manager  # the kernel's KernelManager
        self.log = log
        session = Session(
            key=manager.session.key,
            signature_scheme=manager.session.signature_scheme,
            username="jupyter-mcp-ext",
        )
        self.client = manager.client(session=session)
        self.lock = asyncio.Lock()  # FIFO: executions run in the order they were requested
        self._waiters: dict[str, _Waiter] = {}
        self._readers: list[asyncio.Task] = []
        self._restarted = asyncio.Event()  # the restarter brought the kernel back after it died
        self._started = False
        self._synced_with: Any = (
            None  # the manager's `ready` future of the kernel process IOPub is synced with
        )

    async def start(self) -> None:
        """Connect (once), and make sure IOPub receives this kernel process's messages.

        A kernel process started anew (restarted by anyone, or after it died) republishes on
        IOPub only once the subscription has reconnected: without a new handshake the first
        execution's outputs would be lost.
        """
        ready = await self._ready()
        if not self._started:
            self.client.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=False)
            self._readers = [
                asyncio.create_task(self._route(self.client.iopub_channel.socket, "iopub")),
                asyncio.create_task(self._route(self.client.shell_channel.socket, "shell")),
            ]
            self.manager.add_restart_callback(self._on_restart, "restart")
            self._started = True
        if ready is not self._synced_with:
            await self._sync_iopub()
            self._synced_with = ready

    async def _ready(self, timeout: float = 60) -> Any:
        """The manager's ``ready`` future of the current kernel process, once it is started.

        Waits while anyone starts or restarts the kernel (a future replaced meanwhile is waited for too).
        """
        deadline = time.monotonic() + timeout
        while not (ready := self.manager.ready).done():
            waited = ready if asyncio.isfuture(ready) else asyncio.wrap_future(ready)
            try:  # shielded: a timeout here must not cancel the manager's own future
                await asyncio.wait_for(
                    asyncio.shield(waited), max(0.0, deadline - time.monotonic())
                )
            except TimeoutError:
                raise UsageError(
                    f"Kernel {self.kernel_id} did not finish starting (waited {timeout:g} s)."
                ) from None
            except Exception:  # reported below, once the future is the current one
                pass
        if ready.cancelled() or ready.exception() is not None:
            reason = "cancelled" if ready.cancelled() else repr(ready.exception())
            raise UsageError(
                f"Kernel {self.kernel_id} failed to start ({reason}): restart it with restart_kernel."
            )
        return ready

    async def _sync_iopub(self, timeout: float = 30) -> None:
        """Send kernel_info until one is answered on both shell and IOPub: both channels are live.

        Repeated because an IOPub subscription takes a moment to start (IOPub messages before it
        are lost), at growing intervals; answers to earlier requests still count, so a kernel slower
        than the interval (several starting at once on a busy machine) is not asked forever.
        """
        deadline = time.monotonic() + timeout
        waiter = _Waiter()
        answered: dict[str, set[str]] = {}  # kernel_info msg_id -> channels its answers came on
        interval = 0.25
        try:
            while time.monotonic() < deadline:
                msg_id = self.client.kernel_info()
                self._waiters[msg_id] = waiter
                answered[msg_id] = set()
                attempt_ends = min(deadline, time.monotonic() + interval)
                interval = min(interval * 1.5, 2.0)
                while (remaining := attempt_ends - time.monotonic()) > 0:
                    for channel, msg in await waiter.take(remaining):
                        channels = answered[msg["parent_header"]["msg_id"]]
                        channels.add(channel)
                        if channels == {"shell", "iopub"}:
                            return
        finally:
            for msg_id in answered:
                del self._waiters[msg_id]
        raise UsageError(f"Kernel {self.kernel_id} does not answer (waited {timeout:g} s).")

    def _wake_stalled_readers(self) -> None:
        """Hand on any message left waiting in a socket while its reader sleeps.

        Seen rarely: a kernel's reply sat unread and the call waited for its timeout. A zmq socket's
        notification is edge-triggered; reading ``EVENTS`` makes pyzmq deliver what is waiting.
        """
        for channel in (self.client.shell_channel, self.client.iopub_channel):
            if channel.socket.get(zmq.EVENTS) & zmq.POLLIN:
                self.log.info(
                    "MCP: kernel %s: a message was waiting unread on a socket; reader woken",
                    self.kernel_id,
                )

    def _on_restart(self) -> None:
        self._restarted.set()

    async def _route(self, socket: Any, channel: str) -> None:
        """Hand each message answering one of our requests to its waiter; drop the rest."""
        while True:
            parts = await socket.recv_multipart()
            try:
                routed = self._read(parts)
            except Exception:  # a malformed message must not stop the routing
                self.log.debug("MCP: unreadable %s message", channel, exc_info=True)
                continue
            if routed is not None:
                waiter, msg = routed
                waiter.put(channel, msg)

    def _read(self, parts: list[bytes]) -> tuple[_Waiter, dict[str, Any]] | None:
        """The message in ``parts`` with its waiter, or None if it answers no request of ours.

        The signature is checked before anything is parsed, then the parent header alone, so
        IOPub traffic of other clients costs one small JSON parse. Unlike ``Session.deserialize``,
        dates stay strings (it parses each header's date with dateutil, and nothing here reads
        them), and no history of signatures is kept against replays: a message is used only
        while the request it answers runs, and msg_ids are fresh uuids, so a message recorded
        earlier answers no request here; one replayed during the request would have to be
        injected into this in-server client's loopback connections to the kernel.
        """
        session = self.client.session
        _, parts = session.feed_identities(parts)
        if not hmac.compare_digest(parts[0], session.sign(parts[1:5])):
            raise ValueError("invalid message signature")
        parent = session.unpack(parts[2])
        waiter = self._waiters.get(parent.get("msg_id"))
        if waiter is None:
            return None
        header = session.unpack(parts[1])
        return waiter, {
            "header": header,
            "msg_type": header["msg_type"],
            "parent_header": parent,
            "content": session.unpack(parts[4]),
        }

    async def stop(self) -> None:
        for task in self._readers:
            task.cancel()
        for task in self._readers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            self.manager.remove_restart_callback(self._on_restart, "restart")
        self.client.stop_channels()
        self._started = False
        self._synced_with = None

    async def execute(
        self,
        code: str,
        *,
        on_messages: OnMessage,
        timeout: float,
        interrupt: Callable[[], Awaitable[None]],
        store_history: bool = True,
        on_cancelled: Callable[[KernelReply], None] | None = None,
    ) -> KernelReply:
        """Run ``code``; hand every IOPub message of it to ``on_messages`` (in batches, in order).

        On timeout or cancellation the kernel is interrupted and drained to idle, so the next
        execution starts clean and never receives this one's outputs. A cancelled execution's
        last outputs and execution count go to ``on_cancelled`` before the cancellation goes on.
        """
        async with self.lock:
            await self._ready()  # a restart in progress is not a dead kernel
            if not await ensure_async(self.manager.is_alive()):
                return KernelReply(
                    "died", None, "The kernel is not running (it died): nothing ran."
                )
            await self.start()
            self._restarted.clear()
            msg_id = self.client.execute(
                code, store_history=store_history, allow_stdin=False, stop_on_error=True
            )
            waiter = self._waiters[msg_id] = _Waiter()
            run = _Execution(waiter, on_messages, process=self.manager.ready)
            try:
                return await self._collect(run, timeout, interrupt)
            except BaseException:
                # Cancelled (the client sent notifications/cancelled): interrupt the kernel and
                # let it settle, so the next execution starts clean; shielded from the cancellation.
                with anyio.CancelScope(shield=True):
                    with contextlib.suppress(Exception):
                        await self._interrupt(run, interrupt)
                        reply = await self._collect(run, 10, None)
                        if on_cancelled is not None:
                            on_cancelled(reply)
                raise
            finally:
                del self._waiters[msg_id]

    def _same_process(self, run: _Execution) -> bool:
        """Whether the kernel process ``run`` was sent to is still the kernel's (nobody restarted it since)."""
        return self.manager.ready is run.process

    async def _interrupt(self, run: _Execution, interrupt: Callable[[], Awaitable[None]]) -> None:
        """Interrupt the kernel process ``run`` was sent to, never a newer one.

        Nothing may be awaited between the check and the signal: a restart could come in between.
        """
        if self._same_process(run):
            await interrupt()

    async def _collect(
        self, run: _Execution, timeout: float, interrupt: Callable[[], Awaitable[None]] | None
    ) -> KernelReply:
        """Wait for the reply and the kernel's return to idle; interrupt at the deadline (if given).

        Outputs are handed on in batches at most ``OUTPUT_HOLD`` seconds old; what is still held
        when the execution ends comes back as the reply's ``tail`` (a fast cell: one edit in all).
        """
        deadline = time.monotonic() + timeout
        timed_out = False
        while True:
            wait = (
                0.5 if not run.held else max(0.0, run.held_since + OUTPUT_HOLD - time.monotonic())
            )
            pending = await run.waiter.take(wait)
            for channel, msg in pending:
                run.receive(channel, msg)
            reply = run.reply
            if self._restarted.is_set() or not self._same_process(run):
                # Restarted by anyone (JupyterLab, the REST API, another agent), or by the restarter
                # after the kernel died: this execution's kernel process is gone.
                if self._restarted.is_set():
                    return KernelReply("died", run.execution_count, DIED, tail=run.take_held())
                return KernelReply(
                    "restarted", run.execution_count, RESTARTED, tail=run.take_held()
                )
            if reply is not None and run.idle:
                status: Status = "timeout" if timed_out else _reply_status(reply["content"])
                return KernelReply(status, run.execution_count, "", tail=run.take_held())
            now = time.monotonic()
            if reply is not None and now - run.replied_at > IDLE_AFTER_REPLY:
                # The kernel answered but its IOPub never said idle: do not wait for the timeout.
                return KernelReply(
                    _reply_status(reply["content"]),
                    run.execution_count,
                    "The kernel's outputs may be incomplete (its IOPub went quiet).",
                    tail=run.take_held(),
                )
            if run.held and now - run.held_since >= OUTPUT_HOLD:
                await run.on_messages(run.take_held())
            quiet = not pending  # nothing arrived for a while: is the kernel still there?
            if quiet:
                self._wake_stalled_readers()
            # Not alive while a restart replaces the process is the restart: seen at the next turn.
            if (
                quiet
                and not await ensure_async(self.manager.is_alive())
                and self._same_process(run)
            ):
                return KernelReply("died", run.execution_count, DIED, tail=run.take_held())
            if now < deadline:
                continue
            if timed_out or interrupt is None:
                return KernelReply(
                    "timeout",
                    run.execution_count,
                    "The kernel did not settle after an interrupt.",
                    tail=run.take_held(),
                )
            timed_out = True
            await self._interrupt(run, interrupt)
            deadline = now + 30  # time for the kernel to settle after the interrupt


@dataclass
class _Execution:
    """What has arrived for one execution; kept across the drain that follows a cancellation."""

    waiter: _Waiter
    on_messages: OnMessage
    process: (
        Any  # the manager's `ready` future when the request was sent: which kernel process got it
    )
    reply: dict[str, Any] | None = None
    execution_count: int | None = None  # from execute_input, then the reply
    replied_at: float = 0.0
    idle: bool = False
    held: list[dict[str, Any]] = field(default_factory=list)  # outputs not handed on yet
    held_since: float = 0.0

    def receive(self, channel: str, msg: dict[str, Any]) -> None:
        if channel == "shell":
            self.reply, self.replied_at = msg, time.monotonic()
            self.execution_count = msg["content"].get("execution_count", self.execution_count)
        elif msg["msg_type"] == "status":
            self.idle = self.idle or msg["content"].get("execution_state") == "idle"
        elif msg["msg_type"] == "execute_input":
            self.execution_count = msg["content"].get("execution_count")
        else:
            if not self.held:
                self.held_since = time.monotonic()
            self.held.append(msg)

    def take_held(self) -> list[dict[str, Any]]:
        taken, self.held = self.held, []
        return taken


class NotebookKernels:
    """The kernel of each notebook (through Jupyter sessions) and one runner per kernel."""

    def __init__(self, serverapp: Any, log: logging.Logger) -> None:
        self.serverapp = serverapp
        self.log = log
        self._runners: dict[str, KernelRunner] = {}
        self._session_locks: dict[str, asyncio.Lock] = {}
        self._stopping: set[asyncio.Task] = (
            set()
        )  # the event loop keeps only weak references to tasks

    @property
    def sessions(self) -> Any:
        return self.serverapp.session_manager

    @property
    def kernels(self) -> Any:
        return self.serverapp.kernel_manager

    async def session_for(self, path: str, kernel_name: str | None) -> dict[str, Any]:
        """The notebook's session (created, with its kernel, if it has none)."""
        lock = self._session_locks.setdefault(path, asyncio.Lock())
        async with lock:
            existing = await self.find_session(path)
            if existing is not None:
                return existing
            try:
                model = await self.sessions.create_session(
                    path=path, name=os.path.basename(path), type="notebook", kernel_name=kernel_name
                )
            except Exception as error:
                raise UsageError(f"Could not start a kernel for {path!r}: {error}") from error
            return model

    async def find_session(self, path: str) -> dict[str, Any] | None:
        try:
            model = await self.sessions.get_session(path=path)
        except web.HTTPError:  # 404: the notebook has no session
            return None
        return model if model.get("kernel") else None

    def runner(self, kernel_id: str) -> KernelRunner:
        runner = self._runners.get(kernel_id)
        if runner is None:
            if kernel_id not in self.kernels:
                raise UsageError(f"Kernel {kernel_id} is not running.")
            self._forget_stopped()
            runner = self._runners[kernel_id] = KernelRunner(
                kernel_id, self.kernels.get_kernel(kernel_id), self.log
            )
        return runner

    def _forget_stopped(self) -> None:
        """Drop the runners of kernels that no longer exist (shut down by the user, or culled)."""
        for kernel_id in [k for k in self._runners if k not in self.kernels]:
            task = asyncio.create_task(self._runners.pop(kernel_id).stop())
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    def note_running(self) -> None:
        """Count an execution still running as the server's activity now.

        A cell running for minutes without output makes no traffic: the server's last activity
        (what JupyterHub's idle culler reads) would stay at the request that started it, and the
        server would be stopped under the agent. Jupyter Server counts every ``*_last_activity``
        setting as activity.
        """
        self.serverapp.web_app.settings["mcp_execution_last_activity"] = datetime.now(timezone.utc)

    def state(self, kernel_id: str) -> str:
        return str(getattr(self.kernels.get_kernel(kernel_id), "execution_state", "unknown"))

    async def interrupt(self, kernel_id: str) -> None:
        await ensure_async(self.kernels.interrupt_kernel(kernel_id))

    async def restart(self, kernel_id: str) -> None:
        """Restart, and return once the new kernel process answers (as JupyterLab's restart does)."""
        answered = await ensure_async(self.kernels.restart_kernel(kernel_id))
        if asyncio.isfuture(answered):
            await asyncio.wait_for(answered, timeout=60)

    async def stop(self) -> None:
        for runner in list(self._runners.values()):
            with contextlib.suppress(Exception):
                await runner.stop()
        self._runners.clear()
