"""A client of the MCP tasks extension (``io.modelcontextprotocol/tasks``, SEP-2663), for tests.

SDK 2.3 ships none: this is the SDK's ``ClientExtension`` with the extension's wire shapes. With it
``Client.call_tool`` resolves a task transparently (polling ``tasks/get``); ``client.session.
call_tool(..., allow_claimed=True)`` returns the task itself, to poll and cancel by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any, Literal

import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

TASKS = "io.modelcontextprotocol/tasks"

TaskStatus = Literal["working", "input_required", "completed", "failed", "cancelled"]


class TaskFields(types.Result):
    """The extension's Task."""

    task_id: str
    status: TaskStatus
    status_message: str | None = None
    created_at: str
    last_updated_at: str
    ttl_ms: int | None
    poll_interval_ms: int | None = None


class CreatedTask(TaskFields):
    """What ``tools/call`` answers when the server runs the call as a task."""

    result_type: Literal["task"] = "task"


class TaskState(TaskFields):
    """What ``tasks/get`` answers: the task, with its final result or error once it has one."""

    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class TaskIdParams(types.RequestParams):
    task_id: str


class GetTask(types.Request[TaskIdParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"
    params: TaskIdParams
    name_param = "taskId"  # sent as Mcp-Name, which the extension requires


class CancelTask(types.Request[TaskIdParams, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"
    params: TaskIdParams
    name_param = "taskId"


async def get_task(session: ClientSession, task_id: str) -> TaskState:
    return await session.send_request(GetTask(params=TaskIdParams(task_id=task_id)), TaskState)


async def cancel_task(session: ClientSession, task_id: str) -> None:
    await session.send_request(CancelTask(params=TaskIdParams(task_id=task_id)), types.Result)


class Tasks(ClientExtension):
    """Declares the extension and resolves tasks by polling; ``polls`` keeps every answer seen."""

    identifier = TASKS

    def __init__(self) -> None:
        self.polls: list[TaskState] = []

    def claims(self) -> list[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=CreatedTask, resolve=self._resolve)]

    async def _resolve(self, created: CreatedTask, ctx: ClaimContext) -> types.CallToolResult:
        while True:
            state = await get_task(ctx.session, created.task_id)
            self.polls.append(state)
            if state.status == "completed":
                return types.CallToolResult.model_validate(state.result)
            if state.status != "working":
                raise RuntimeError(f"task {state.status}: {state.status_message} {state.error}")
            await asyncio.sleep((state.poll_interval_ms or 1000) / 1000)


@contextlib.asynccontextmanager
async def connect(
    mcp_url: str, token: str, *, tasks: Tasks | None = None, mode: str = "auto"
) -> AsyncIterator[Client]:
    """The SDK client with ``token``, declaring the tasks extension when given ``tasks``."""
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
        Client(
            streamable_http_client(mcp_url, http_client=http),
            mode=mode,
            extensions=[tasks] if tasks is not None else None,
        ) as client,
    ):
        yield client
