"""Long runs as MCP tasks: the ``io.modelcontextprotocol/tasks`` extension (SEP-2663).

A client that declares the extension on a ``tools/call`` of a tool that runs code gets a task at
once; the run goes on in a task group owned by the server's lifespan, and the client polls
``tasks/get`` and may ``tasks/cancel``. Everyone else keeps the plain call (progress and heartbeat).
SDK 2.3 implements no part of the extension: this module is all of it, so that it can go when
the SDK ships one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import InitVar, dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

import anyio
import anyio.abc
import mcp_types as types
from mcp import MCPError
from mcp.server.lowlevel import Server
from mcp.shared.inbound import MCP_NAME_HEADER, decode_header_value
from mcp_types.jsonrpc import HEADER_MISMATCH, INTERNAL_ERROR, INVALID_PARAMS
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import Field

from . import cells
from .errors import UsageError
from .kernel_tools import EXECUTE
from .outputs import cap_text, summarize_output
from .toolkit import Call, Tool

log = logging.getLogger(__name__)

EXTENSION = "io.modelcontextprotocol/tasks"

# A running cell reports at least every heartbeat (engine.HEARTBEAT_SECONDS): polling faster
# mostly finds nothing new.
POLL_INTERVAL_MS = 1000

Status = Literal["working", "completed", "failed", "cancelled"]

# Runs a tool call to its result, as server.call_tool answers a plain call.
Answer = Callable[[Call], Awaitable[types.CallToolResult]]

CANCELLED = (
    "Cancelled by tasks/cancel: the run was stopped (its kernel interrupted, as for a cancelled "
    "request); the notebook keeps the outputs it produced."
)


class TaskIdParams(types.RequestParams):
    task_id: str = Field(max_length=256)


@dataclass
class TaskCall(Call):
    """A tool call run as a task: it remembers the cell it runs, whose outputs ``tasks/get`` shows."""

    running_cell: tuple[str, str] | None = field(default=None, init=False)  # (path, cell id)

    def show_cell(self, path: str, cell_id: str, cell_index: int, reason: str) -> None:
        if reason == "execute":
            self.running_cell = (path, cell_id)
        super().show_cell(path, cell_id, cell_index, reason)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class _Task:
    task_id: str
    given: InitVar[Call]  # the call of the tools/call request that started it
    call: TaskCall = field(init=False)
    created_at: str = field(default_factory=_now)
    last_updated_at: str = field(default_factory=_now)
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    status: Status = "working"
    progress: str = "started"  # the run's latest progress message
    message: str | None = None  # why it ended, when it did not complete
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)

    def __post_init__(self, given: Call) -> None:
        self.call = TaskCall(
            services=given.services,
            user=given.user,
            principal=given.principal,
            handler=given.handler,
            report_progress=self._report,
        )

    async def _report(self, done: float, total: float | None, message: str | None) -> None:
        if message:
            self.progress = message
        self.touch()

    def touch(self) -> None:
        self.last_updated_at = _now()

    def end(
        self,
        status: Status,
        *,
        message: str | None = None,
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
    ) -> None:
        self.status, self.message, self.result, self.error = status, message, result, error
        self.ended = time.monotonic()
        self.touch()


class ToolTasks:
    """The tasks of this server, by id; each is visible only to the user (principal) who made it."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl  # seconds a finished task stays known
        self._tasks: dict[str, _Task] = {}
        self._group: anyio.abc.TaskGroup | None = None

    def install(self, server: Server) -> None:
        """Advertise the extension and answer its methods (in both protocol eras)."""
        server.extensions[EXTENSION] = {}
        server.add_request_handler("tasks/get", TaskIdParams, self._get)
        server.add_request_handler("tasks/cancel", TaskIdParams, self._cancel)

    @contextlib.asynccontextmanager
    async def lifespan(self, server: Server) -> AsyncIterator[dict[str, Any]]:
        """The server's lifespan: runs go on in its task group, ended with it."""
        async with anyio.create_task_group() as group:
            self._group = group
            try:
                yield {}
            finally:
                self._group = None
                group.cancel_scope.cancel()

    def wanted(self, ctx: Any, tool: Tool) -> bool:
        """Whether this call becomes a task: a tool that runs code, asked by a client that
        declared the extension on this very request (only 2026-07-28 requests can)."""
        if tool.permission != EXECUTE or ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            return False
        capabilities = ctx.session.client_capabilities
        return self._group is not None and EXTENSION in (
            getattr(capabilities, "extensions", None) or {}
        )

    def start(self, call: Call, answer: Answer) -> dict[str, Any]:
        """Start ``answer(call)`` as a task; the task (known to ``tasks/get`` already) as created."""
        assert self._group is not None
        task = _Task(secrets.token_urlsafe(24), call)
        self._tasks[task.task_id] = task
        self._group.start_soon(self._run, task, answer, name="MCP task")
        return {"resultType": "task", **self._fields(task)}

    async def _run(self, task: _Task, answer: Answer) -> None:
        try:
            with task.scope:
                result = await answer(task.call)
                task.end(
                    "completed",
                    result=result.model_dump(mode="json", by_alias=True, exclude_none=True),
                )
            if task.scope.cancelled_caught:
                task.end("cancelled", message=CANCELLED)
        except asyncio.CancelledError:
            # The server is stopping. Not raised on: in a task group, one task's cancellation
            # would cancel the others.
            task.end(
                "cancelled", message="The Jupyter server stopped the run: it is shutting down."
            )
        except Exception as error:
            # A defect: the client still sees an end, never "working" forever.
            log.exception("MCP task %s failed", task.task_id)
            problem = f"{type(error).__name__}: {error}"
            task.end(
                "failed",
                message=f"The run failed unexpectedly: {problem}",
                error={"code": INTERNAL_ERROR, "message": problem},
            )
        finally:
            asyncio.get_running_loop().call_later(self.ttl, self._tasks.pop, task.task_id, None)

    def _fields(self, task: _Task) -> dict[str, Any]:
        """The spec's Task: ttlMs counts from creation, so it is the run's duration (so far) plus ``ttl``."""
        lasted = (task.ended or time.monotonic()) - task.started
        return {
            "taskId": task.task_id,
            "status": task.status,
            "createdAt": task.created_at,
            "lastUpdatedAt": task.last_updated_at,
            "ttlMs": round((lasted + self.ttl) * 1000),
            "pollIntervalMs": POLL_INTERVAL_MS,
        }

    def _find(self, ctx: Any, params: TaskIdParams) -> _Task:
        """The caller's task ``params.task_id``; the request must name it in ``Mcp-Name`` (SEP-2663)."""
        request = ctx.request
        named = decode_header_value(request.headers.get(MCP_NAME_HEADER)) if request else None
        if named != params.task_id:
            given = "is missing" if named is None else f"is {named[:80]!r}"
            raise MCPError(
                HEADER_MISMATCH,
                f"The Mcp-Name header {given}: for {ctx.method} it must equal params.taskId.",
            )
        state = getattr(request, "state", None)
        task = self._tasks.get(params.task_id)
        if task is None or task.call.principal != getattr(state, "jupyter_principal", None):
            raise MCPError(
                INVALID_PARAMS,
                f"Unknown task {params.task_id[:80]!r}: no task of yours has this id (finished tasks "
                f"are forgotten {self.ttl:g} s after they end).",
            )
        return task

    async def _get(self, ctx: Any, params: TaskIdParams) -> dict[str, Any]:
        task = self._find(ctx, params)
        answer = {"resultType": "complete", **self._fields(task)}
        if task.status == "working":
            answer["statusMessage"] = await self._outputs_so_far(task)
        elif task.message:
            answer["statusMessage"] = task.message
        if task.result is not None:
            answer["result"] = task.result
        if task.error is not None:
            answer["error"] = task.error
        return answer

    async def _cancel(self, ctx: Any, params: TaskIdParams) -> dict[str, Any]:
        """Acknowledged at once; the status turns cancelled once the run has stopped."""
        task = self._find(ctx, params)
        if task.status == "working":
            task.scope.cancel()
        return {}

    async def _outputs_so_far(self, task: _Task) -> str:
        """A working task's status: its latest progress and the outputs of the cell it runs so far.

        The spec gives a working task no result (``result`` is the final one), so what the run has
        produced goes in the status message, which clients may show the model.
        """
        text = task.progress
        if task.call.running_cell is None:
            return text
        path, cell_id = task.call.running_cell
        notebooks = task.call.services.notebooks
        if not notebooks.room_state(path)[0]:
            return text  # renamed or closed meanwhile: opening it again is not worth a poll
        try:
            async with notebooks.document(path) as nb:
                found = cells.find_cell(nb, cell_id)
                outputs = found[1].get("outputs") if found else None
                outputs = outputs.to_py() if outputs is not None else []
        except UsageError:
            return text
        if not outputs:
            return f"{text}\n(no output yet)"
        limit = task.call.services.max_output_chars
        shown = "".join(summarize_output(o, limit)["text"] for o in outputs)
        return f"{text}\nOutputs so far ({len(outputs)}):\n{cap_text(shown, limit)[0]}"
