"""Long runs as MCP tasks (the ``io.modelcontextprotocol/tasks`` extension): a real server, real
kernels, and the SDK client with the extension of ``task_client.py`` (SDK 2.3 ships none)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone

import pytest
from conftest import call
from jupyter_server.auth import IdentityProvider, User
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp_types.jsonrpc import HEADER_MISMATCH, INVALID_PARAMS
from support import eventually, write_notebook
from task_client import (
    TASKS,
    CreatedTask,
    GetTask,
    TaskIdParams,
    Tasks,
    TaskState,
    cancel_task,
    connect,
    get_task,
)
from test_shutdown import BAD_LOG_LINES, jupyter_server

FIVE_SECONDS = (
    "import time\nfor i in range(5):\n    print(f'line {i}', flush=True)\n    time.sleep(1)\n"
)
SLEEP_30 = "import time\ntime.sleep(30)"


async def start_task(client, name: str, **arguments) -> CreatedTask:
    """Call a tool and get the task it starts (not resolved by polling)."""
    created = await client.session.call_tool(name, arguments, allow_claimed=True)
    assert isinstance(created, CreatedTask), created
    return created


async def poll_until_done(client, task_id: str, *, timeout: float = 30) -> list[TaskState]:
    """Every answer of tasks/get, at the poll interval the task asks, until it is no longer working."""
    polls: list[TaskState] = []
    deadline = time.monotonic() + timeout
    while not polls or polls[-1].status == "working":
        assert time.monotonic() < deadline, f"still working after {timeout} s: {polls[-1]}"
        if polls:
            await asyncio.sleep(polls[-1].poll_interval_ms / 1000)
        polls.append(await get_task(client.session, task_id))
    return polls


async def test_a_five_second_cell_runs_as_a_task_polled_working_with_its_outputs_then_completed(
    make_notebook, mcp_url, token
):
    path = make_notebook("long.ipynb", [("code", "x = 1")])
    async with connect(mcp_url, token, tasks=Tasks()) as client:
        started = time.monotonic()
        created = await start_task(
            client, "insert_execute_code_cell", notebook_path=path, source=FIVE_SECONDS
        )
        answered_in = time.monotonic() - started
        polls = await poll_until_done(client, created.task_id)
        cell = (await call(client, "read_cell", notebook_path=path, cell_index=1))["cell"]

    assert answered_in < 2, f"tools/call took {answered_in:.1f} s to answer with the task"
    assert created.status == "working" and created.ttl_ms > 0 and created.poll_interval_ms > 0
    assert len(created.task_id) >= 32 and created.created_at.endswith("Z")
    working, done = polls[:-1], polls[-1]
    assert len(working) >= 3, [p.status for p in polls]
    # What the cell printed so far shows in the working task's status, growing as it runs.
    assert any("line 1" in (p.status_message or "") for p in working), working
    assert not all("line 4" in (p.status_message or "") for p in working)
    assert done.status == "completed" and done.last_updated_at >= created.created_at
    result = done.result["structuredContent"]
    assert result["status"] == "ok" and result["cell_index"] == 1, result
    assert [o["text"] for o in result["outputs"]] == ["line 0\nline 1\nline 2\nline 3\nline 4\n"]
    assert done.result["content"][0]["text"].startswith("Cell 1 (id ")
    # The notebook has the run, as the person sees it.
    assert [o["text"] for o in cell["outputs"]] == [o["text"] for o in result["outputs"]]


async def test_the_sdk_client_with_the_extension_gets_the_final_result_by_polling(
    make_notebook, mcp_url, token
):
    path = make_notebook("quick.ipynb")
    tasks = Tasks()
    async with connect(mcp_url, token, tasks=tasks) as client:
        result = await client.call_tool("execute_code", {"notebook_path": path, "code": "6 * 7"})
    assert not result.is_error and result.structured_content["outputs"][0]["text"] == "42"
    assert tasks.polls and tasks.polls[-1].status == "completed"


async def test_cancelling_a_task_interrupts_the_kernel_and_the_next_run_is_prompt_and_right(
    make_notebook, mcp_url, token
):
    path = make_notebook("cancel.ipynb", [("code", "kept = 'yes'")])
    async with connect(mcp_url, token, tasks=Tasks()) as client:
        await call(client, "execute_cell", notebook_path=path, cell_index=0, timeout=60)
        created = await start_task(
            client, "insert_execute_code_cell", notebook_path=path, source=SLEEP_30
        )
        await eventually(
            lambda: get_task(client.session, created.task_id),
            "the task runs its cell",
            until=lambda state: "running for" in (state.status_message or ""),
        )
        await cancel_task(client.session, created.task_id)
        polls = await poll_until_done(client, created.task_id, timeout=15)

        started = time.monotonic()
        after = await call(
            client, "insert_execute_code_cell", notebook_path=path, source="kept + '!'", timeout=20
        )
        elapsed = time.monotonic() - started
        cancelled_cell = (await call(client, "read_cell", notebook_path=path, cell_index=1))["cell"]

    assert polls[-1].status == "cancelled", polls[-1]
    assert "tasks/cancel" in polls[-1].status_message and polls[-1].result is None
    assert elapsed < 5, (
        f"the next run waited {elapsed:.1f} s: the cancelled one kept the kernel busy"
    )
    assert after["status"] == "ok" and [o["text"] for o in after["outputs"]] == ["'yes!'"]
    assert any("KeyboardInterrupt" in o["text"] for o in cancelled_cell["outputs"]), cancelled_cell


async def test_an_unknown_task_id_is_invalid_params(mcp_url, token):
    async with connect(mcp_url, token, tasks=Tasks()) as client:
        for ask in (get_task, cancel_task):
            with pytest.raises(MCPError) as refused:
                await ask(client.session, "no-such-task")
            assert refused.value.code == INVALID_PARAMS
            assert "Unknown task 'no-such-task'" in refused.value.message


class MisnamedParams(TaskIdParams):
    other: str


class GetTaskMisnamed(GetTask):
    """tasks/get whose Mcp-Name header carries another value than the task id."""

    params: MisnamedParams
    name_param = "other"


class GetTaskUnnamed(GetTask):
    """tasks/get without the Mcp-Name header."""

    name_param = None


async def test_tasks_requests_whose_mcp_name_is_not_the_task_id_are_refused(
    make_notebook, mcp_url, token
):
    path = make_notebook("named.ipynb")
    async with connect(mcp_url, token, tasks=Tasks()) as client:
        created = await start_task(client, "execute_code", notebook_path=path, code="1")
        task_id = created.task_id
        requests = [
            GetTaskMisnamed(params=MisnamedParams(task_id=task_id, other="another-task")),
            GetTaskUnnamed(params=TaskIdParams(task_id=task_id)),
        ]
        refusals = []
        for request in requests:
            with pytest.raises(MCPError) as refused:
                await client.session.send_request(request, TaskState)
            refusals.append(refused.value)
        polls = await poll_until_done(client, task_id)

    assert [r.code for r in refusals] == [HEADER_MISMATCH, HEADER_MISMATCH]
    assert "Mcp-Name header is 'another-task'" in refusals[0].message
    assert "must equal params.taskId" in refusals[0].message
    assert "Mcp-Name header is missing" in refusals[1].message
    assert polls[-1].status == "completed"  # named rightly, the same task is found


@pytest.mark.parametrize(
    ("mode", "declared"), [("auto", False), ("legacy", True)], ids=["no-extension", "handshake"]
)
async def test_clients_without_tasks_get_the_plain_result_with_progress(
    make_notebook, mcp_url, token, mode, declared
):
    """A 2026 client that does not declare the extension, and a handshake-era client (which cannot
    declare it per request), keep the plain call: progress with a heartbeat, then the result."""
    path = make_notebook("plain.ipynb")
    progress: list[str | None] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(message)

    tasks = Tasks() if declared else None
    async with connect(mcp_url, token, tasks=tasks, mode=mode) as client:
        result = await client.call_tool(
            "execute_code",
            {"notebook_path": path, "code": "import time\ntime.sleep(1.5)\nprint('done')"},
            progress_callback=on_progress,
        )
    assert not result.is_error and result.structured_content["outputs"][0]["text"] == "done\n"
    assert any("running for" in (m or "") for m in progress), progress
    assert tasks is None or tasks.polls == []


async def test_the_server_advertises_the_tasks_extension(mcp_url, token):
    async with connect(mcp_url, token) as client:
        assert TASKS in (client.server_capabilities.extensions or {})


async def test_tools_that_do_not_run_code_answer_at_once_for_a_task_client(
    make_notebook, mcp_url, token
):
    path = make_notebook("listed.ipynb", [("code", "1")])
    tasks = Tasks()
    async with connect(mcp_url, token, tasks=tasks) as client:
        read = await call(client, "read_cell", notebook_path=path, cell_index=0)
    assert read["cell"]["source"] == "1" and tasks.polls == []


@pytest.mark.parametrize(
    "jp_server_config", [{"MCPExtensionApp": {"task_ttl": 1}}], indirect=True, ids=["ttl-1s"]
)
async def test_a_finished_task_is_forgotten_task_ttl_after_it_ended(make_notebook, mcp_url, token):
    path = make_notebook("ttl.ipynb")

    async def answer_code(client, task_id: str) -> int | None:
        """None while tasks/get finds the task, else its error code."""
        try:
            await get_task(client.session, task_id)
        except MCPError as error:
            return error.code
        return None

    async with connect(mcp_url, token, tasks=Tasks()) as client:
        created = await start_task(client, "execute_code", notebook_path=path, code="1")
        done = (await poll_until_done(client, created.task_id))[-1]
        code = await eventually(
            lambda: answer_code(client, created.task_id),
            "the finished task is forgotten",
            until=lambda code: code is not None,
            timeout=3,
            interval=0.05,
        )
        forgotten_at = datetime.now(timezone.utc)
    ended_at = datetime.fromisoformat(done.last_updated_at)  # when the run ended
    assert 0.9 < (forgotten_at - ended_at).total_seconds() < 2, (ended_at, forgotten_at)
    assert code == INVALID_PARAMS
    assert done.status == "completed" and 1000 <= done.ttl_ms < 10000


USER_TOKENS = {"alice-token": "alice", "bob-token": "bob"}


class TwoUsers(IdentityProvider):
    """A server with two users, each with a token of their own (as a multi-user deployment has)."""

    async def get_user_token(self, handler):
        name = USER_TOKENS.get(self.get_token(handler) or "")
        return User(username=name) if name else None


@pytest.mark.parametrize(
    "jp_server_config",
    [{"ServerApp": {"identity_provider_class": TwoUsers}}],
    indirect=True,
    ids=["two-users"],
)
async def test_another_users_task_is_unknown_to_them(make_notebook, mcp_url):
    path = make_notebook("alice.ipynb")
    code = "import time\ntime.sleep(2)\nprint('alice')"
    async with (
        connect(mcp_url, "alice-token", tasks=Tasks()) as alice,
        connect(mcp_url, "bob-token", tasks=Tasks()) as bob,
    ):
        created = await start_task(alice, "execute_code", notebook_path=path, code=code)
        for ask in (get_task, cancel_task):
            with pytest.raises(MCPError) as refused:
                await ask(bob.session, created.task_id)
            assert refused.value.code == INVALID_PARAMS
            assert "no task of yours" in refused.value.message
        polls = await poll_until_done(alice, created.task_id)
    assert polls[-1].status == "completed"  # bob's cancel did not reach it
    assert polls[-1].result["structuredContent"]["outputs"][0]["text"] == "alice\n"


async def test_a_server_with_a_running_task_stops_within_seconds_and_cleanly(tmp_path):
    root = tmp_path / "root"
    write_notebook(root, "long.ipynb")
    async with jupyter_server(tmp_path, root) as server:
        async with Client(
            streamable_http_client(server.base + "mcp", http_client=server.http),
            extensions=[Tasks()],
        ) as client:
            created = await start_task(
                client, "execute_code", notebook_path="long.ipynb", code=SLEEP_30
            )
            await eventually(
                lambda: get_task(client.session, created.task_id),
                "the task runs its code",
                until=lambda state: "running for" in (state.status_message or ""),
                timeout=30,
            )
        returncode, seconds = await server.stop_with(timeout=20)
    output = server.log()
    assert returncode == 0, output[-3000:]
    assert seconds < 10, f"took {seconds:.1f} s to stop"
    bad = [line for line in output.splitlines() if any(marker in line for marker in BAD_LOG_LINES)]
    assert not bad, output[-3000:]
