"""The MCP tools that run code: in the notebook's own kernel, outputs streaming into the live cells.

The running itself is the execution engine's (``engine.py``); these tools check the arguments,
call it for the agent, and say what happened.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

import mcp_types as types
from jupyter_core.utils import ensure_async
from pydantic import Field

from .engine import CellRun, PickCell, Progress, cell_at, cell_with_id, new_cell
from .errors import UsageError
from .kernels import Status
from .notebooks import HeldNotebook
from .outputs import execution_content, summarize_output
from .toolkit import (
    WRITE,
    Call,
    CellParams,
    NotebookParams,
    NotebookResult,
    Params,
    Result,
    Tool,
    ToolOutput,
    tool,
)

EXECUTE = ("execute", "kernels")
KERNEL_WRITE = ("write", "kernels")
KERNEL_READ = ("read", "kernels")


def status_text(status: Status, timeout: float, path: str) -> str:
    """What happened to a run of a cell (or of code) in the kernel of the notebook ``path``."""
    kernel = f"the kernel of {path}"
    return {
        "ok": f"ran in {kernel}",
        "error": f"raised an error in {kernel}",
        "aborted": f"was aborted by {kernel}",
        "timeout": f"timed out after {timeout:g} s and was interrupted in {kernel}",
        "died": f"was stopped: {kernel} died",
        "restarted": f"was stopped: someone restarted {kernel}",
    }[status]


class TimeoutParams(Params):
    timeout: float | None = Field(
        None,
        gt=0,
        description="Seconds before the kernel is interrupted; default and maximum are set by the server.",
    )


RUN_REVISION = Field(
    default=None,
    exclude_if=lambda value: value is None,
    description=(
        "The notebook's revision when the run started: get_notebook_changes since it tells "
        "everything changed during the run (the run's own changes as yours)."
    ),
)


async def _revision_before_run(call: Call, notebook: HeldNotebook) -> str:
    """The revision to report for a run: taken before it, so that nobody's change during the run
    can pass as seen (its end and the result are some awaits apart)."""
    async with notebook.document() as nb:
        return call.services.revision(nb)


class ExecutedCell(NotebookResult):
    revision: str | None = RUN_REVISION
    cell_index: int | None = Field(
        description="Index of the cell when it finished (null if deleted meanwhile)."
    )
    cell_id: str
    status: Status
    execution_count: int | None
    outputs: list[dict[str, Any]] = Field(
        description="Outputs as {output_type, text (capped), omitted}."
    )
    kernel_id: str
    duration_seconds: float
    notes: list[str] = Field(
        description="What was cut from the returned outputs, and other remarks."
    )


def _seconds_progress(call: Call) -> Progress:
    """Progress of one run: the seconds it has run (no total)."""

    async def report(elapsed: float, message: str) -> None:
        await call.progress(elapsed, None, message)

    return report


async def _run_cell(
    call: Call,
    notebook: HeldNotebook,
    pick: PickCell,
    timeout: float,
    *,
    report: Progress | None = None,
) -> CellRun:
    """One cell run by the engine for the agent of ``call``; the user's JupyterLab follows it."""

    def show(path: str, cell_id: str, cell_index: int) -> None:
        call.show_cell(path, cell_id, cell_index, "execute")

    return await call.services.execution.run_cell(
        notebook,
        pick,
        timeout,
        authorize=call.authorize,
        report=report or _seconds_progress(call),
        show=show,
    )


def _answer(call: Call, run: CellRun, revision: str) -> ToolOutput:
    contents, cut = execution_content(run.outputs, call.services.execution.settings.output_limits)
    result = ExecutedCell(
        notebook_path=run.notebook_path,
        revision=revision,
        cell_index=run.cell_index,
        cell_id=run.cell_id,
        status=run.status,
        execution_count=run.execution_count,
        outputs=[summarize_output(o, call.services.max_output_chars) for o in run.outputs],
        kernel_id=run.kernel_id,
        duration_seconds=run.duration_seconds,
        notes=[*run.notes, *cut],
    )
    where = f"Cell {result.cell_index}" if result.cell_index is not None else "The deleted cell"
    head = f"{where} (id {result.cell_id}) {status_text(result.status, run.timeout, result.notebook_path)}"
    if result.execution_count is not None:
        head += f" [execution_count {result.execution_count}]"
    head += f" ({result.duration_seconds:.2f} s; revision before the run {revision})."
    if result.notes:
        head += "\n" + "\n".join(result.notes)
    if not contents:
        head += "\n(no output)"
    return result, [types.TextContent(type="text", text=head), *contents]


class InsertExecuteParams(NotebookParams, TimeoutParams):
    source: str = Field(description="Code of the new cell.")
    cell_index: int = Field(-1, description="Position of the new cell: 0 = first, -1 = append.")


@tool(
    "insert_execute_code_cell",
    params=InsertExecuteParams,
    result=ExecutedCell,
    permission=EXECUTE,
    title="Insert and run a code cell",
)
async def insert_execute_code_cell(call: Call, p: InsertExecuteParams) -> ToolOutput:
    """Insert a code cell at an index (-1 appends) and run it in the notebook's own kernel (its Jupyter
    session's kernel; a session is started as JupyterLab would if the notebook has none). A person
    watching sees [*], the outputs as they arrive, and the execution count. Returns status, execution
    count and outputs (text capped with a note of what was cut; PNG/JPEG images as image content)."""
    await call.authorize(*WRITE)
    path = await call.notebook(p.notebook_path)
    timeout = call.services.execution.settings.timeout(p.timeout)
    async with call.services.notebooks.hold(path) as notebook:
        revision = await _revision_before_run(call, notebook)
        run = await _run_cell(call, notebook, new_cell(p.cell_index, p.source), timeout)
        return _answer(call, run, revision)


class ExecuteCellParams(CellParams, TimeoutParams):
    pass


@tool(
    "execute_cell",
    params=ExecuteCellParams,
    result=ExecutedCell,
    permission=EXECUTE,
    title="Run a cell",
)
async def execute_cell(call: Call, p: ExecuteCellParams) -> ToolOutput:
    """Run an existing code cell (by cell_index or cell_id) in the notebook's own kernel, replacing its
    outputs; the person watching sees it run live. Returns status, execution count and outputs (text
    capped; images as image content). On timeout the kernel is interrupted and the partial outputs returned."""
    await call.authorize(*WRITE)
    path = await call.notebook(p.notebook_path)
    timeout = call.services.execution.settings.timeout(p.timeout)
    async with call.services.notebooks.hold(path) as notebook:
        revision = await _revision_before_run(call, notebook)
        run = await _run_cell(call, notebook, cell_at(p.cell_index, p.cell_id), timeout)
        return _answer(call, run, revision)


class ExecuteRangeParams(NotebookParams, TimeoutParams):
    start_index: int = Field(0, ge=0, description="First cell to run.")
    end_index: int | None = Field(
        None, ge=0, description="Last cell to run (inclusive); default: the last cell."
    )
    stop_on_error: bool = Field(True, description="Stop at the first cell that fails.")


class RangeEntry(Result):
    cell_index: int | None
    cell_id: str
    status: Status | Literal["skipped"]
    execution_count: int | None
    summary: str = Field(description="First line of the cell's last output, or the error.")


class ExecuteRangeResult(NotebookResult):
    revision: str | None = RUN_REVISION
    cells: list[RangeEntry]
    ran: int
    failed: int
    stopped_early: bool


@tool(
    "execute_with_progress",
    params=ExecuteRangeParams,
    result=ExecuteRangeResult,
    permission=EXECUTE,
    title="Run a range of cells",
)
async def execute_with_progress(call: Call, p: ExecuteRangeParams) -> ToolOutput:
    """Run the code cells from start_index to end_index (inclusive; default the whole notebook) in order,
    reporting progress per cell, and stopping at the first error unless stop_on_error is false. The
    timeout applies to each cell. Returns a per-cell summary (status, execution count, first output line)."""
    await call.authorize(*WRITE)
    path = await call.notebook(p.notebook_path)
    timeout = call.services.execution.settings.timeout(p.timeout)
    await call.services.execution.session(path, call.authorize)  # a refused range runs no cell
    async with call.services.notebooks.hold(path) as notebook:
        async with notebook.document() as nb:
            count = len(nb.ycells)
            end = count - 1 if p.end_index is None else p.end_index
            if count == 0 or p.start_index >= count or end >= count or end < p.start_index:
                raise UsageError(
                    f"Cell range {p.start_index}..{end} is not valid: the notebook has cells 0..{count - 1}."
                )
            targets = [
                str(nb.ycells[i].get("id"))
                for i in range(p.start_index, end + 1)
                if nb.ycells[i].get("cell_type") == "code"
            ]
            revision = call.services.revision(nb)
        entries, stopped = await _run_range(
            call, notebook, targets, timeout, stop_on_error=p.stop_on_error
        )
        path = notebook.path() or path
    await call.progress(len(targets), len(targets), "done", milestone=True)
    failed = sum(e.status not in ("ok", "skipped") for e in entries)
    result = ExecuteRangeResult(
        notebook_path=path,
        revision=revision,
        cells=entries,
        ran=sum(e.status != "skipped" for e in entries),
        failed=failed,
        stopped_early=stopped,
    )
    lines = [
        f"Ran {result.ran} of {len(targets)} code cell(s) of {path}; {failed} failed"
        + (" (stopped at the first error)" if stopped else "")
        + f"; revision before the run {revision}."
    ]
    lines += [
        f"[{e.cell_index if e.cell_index is not None else '-'}] {e.status}"
        + (f" ({e.execution_count})" if e.execution_count is not None else "")
        + (f": {e.summary}" if e.summary else "")
        for e in entries
    ]
    return result, "\n".join(lines)


def _skipped(cell_id: str, why: str) -> RangeEntry:
    return RangeEntry(
        cell_index=None, cell_id=cell_id, status="skipped", execution_count=None, summary=why
    )


async def _run_range(
    call: Call, notebook: HeldNotebook, targets: list[str], timeout: float, *, stop_on_error: bool
) -> tuple[list[RangeEntry], bool]:
    """Run the cells with the ids ``targets`` in order: their entries, and whether it stopped at an error."""
    entries: list[RangeEntry] = []
    stopped = False
    for done, cell_id in enumerate(targets):
        if stopped:
            entries.append(_skipped(cell_id, "not run: an earlier cell failed"))
            continue
        await call.progress(
            done, len(targets), f"running cell {done + 1} of {len(targets)}", milestone=True
        )
        try:
            report = _range_progress(call, done, len(targets))
            run = await _run_cell(call, notebook, cell_with_id(cell_id), timeout, report=report)
        except UsageError as error:  # the person deleted the cell before its turn
            entries.append(_skipped(cell_id, str(error)))
            continue
        texts = [
            summarize_output(o, call.services.max_output_chars)["text"].strip() for o in run.outputs
        ]
        summary = next((text.splitlines()[0] for text in reversed(texts) if text), "")
        entries.append(
            RangeEntry(
                cell_index=run.cell_index,
                cell_id=cell_id,
                status=run.status,
                execution_count=run.execution_count,
                summary=summary[:200],
            )
        )
        if run.status != "ok" and stop_on_error:
            stopped = True
    return entries, stopped


def _range_progress(call: Call, done: int, total: int) -> Progress:
    """Progress inside a range: cells done plus a fraction (below one) that grows while a cell runs."""

    async def report(elapsed: float, message: str) -> None:
        await call.progress(done + elapsed / (elapsed + 10), total, message)

    return report


class ExecuteCodeParams(NotebookParams, TimeoutParams):
    code: str = Field(description="Code to run in the notebook's kernel.")


class ExecutedCode(NotebookResult):
    status: Status
    outputs: list[dict[str, Any]]
    kernel_id: str
    notes: list[str]


@tool(
    "execute_code",
    params=ExecuteCodeParams,
    result=ExecutedCode,
    permission=EXECUTE,
    title="Run code without a cell",
)
async def execute_code(call: Call, p: ExecuteCodeParams) -> ToolOutput:
    """Run code in the notebook's kernel without adding a cell — for inspecting variables, data shapes,
    installed packages. Nothing is saved in the notebook and the execution count does not move; the
    kernel state it changes is shared with the notebook. Returns status and outputs."""
    path = await call.notebook(p.notebook_path)
    timeout = call.services.execution.settings.timeout(p.timeout)
    run = await call.services.execution.run_code(
        path, p.code, timeout, authorize=call.authorize, report=_seconds_progress(call)
    )
    contents, notes = execution_content(run.outputs, call.services.execution.settings.output_limits)
    if run.message:
        notes.insert(0, run.message)
    result = ExecutedCode(
        notebook_path=path,
        status=run.status,
        kernel_id=run.kernel_id,
        notes=notes,
        outputs=[summarize_output(o, call.services.max_output_chars) for o in run.outputs],
    )
    head = f"Code {status_text(run.status, timeout, path)}." + "".join(f"\n{n}" for n in notes)
    return result, [
        types.TextContent(type="text", text=head + ("" if contents else "\n(no output)")),
        *contents,
    ]


class KernelActionResult(NotebookResult):
    kernel_id: str
    execution_state: str


async def _act_on_kernel(
    call: Call, p: NotebookParams, action: Callable[[str], Awaitable[None]], done: str
) -> ToolOutput:
    """Apply ``action`` to the kernel of the notebook's session; ``done`` describes it afterwards."""
    path = await call.notebook(p.notebook_path)
    session = await call.services.kernels.find_session(path)
    if session is None:
        raise UsageError(f"{path!r} has no running kernel (run a cell to start one).")
    kernel_id = session["kernel"]["id"]
    await action(kernel_id)
    state = call.services.kernels.state(kernel_id)
    return KernelActionResult(notebook_path=path, kernel_id=kernel_id, execution_state=state), (
        done.format(kernel_id=kernel_id, path=path)
    )


@tool(
    "interrupt_kernel",
    params=NotebookParams,
    result=KernelActionResult,
    permission=KERNEL_WRITE,
    title="Interrupt the kernel",
    idempotent=True,
)
async def interrupt_kernel(call: Call, p: NotebookParams) -> ToolOutput:
    """Interrupt the notebook's kernel (like the stop button): the running cell stops with KeyboardInterrupt;
    variables are kept."""
    return await _act_on_kernel(
        call, p, call.services.kernels.interrupt, "Interrupted kernel {kernel_id} of {path}."
    )


@tool(
    "restart_kernel",
    params=NotebookParams,
    result=KernelActionResult,
    permission=KERNEL_WRITE,
    title="Restart the kernel",
    destructive=True,
)
async def restart_kernel(call: Call, p: NotebookParams) -> ToolOutput:
    """Restart the notebook's kernel: all variables are lost; the notebook's session keeps the same kernel
    id, so JupyterLab stays connected. Use after the kernel died or to start clean."""
    return await _act_on_kernel(
        call,
        p,
        call.services.kernels.restart,
        "Restarted kernel {kernel_id} of {path}; all variables were cleared.",
    )


class KernelEntry(Result):
    kernel_id: str
    name: str
    execution_state: str
    last_activity: str | None
    connections: int
    notebooks: list[str] = Field(description="Notebooks whose session uses this kernel.")


class ListKernelsResult(Result):
    kernels: list[KernelEntry]


class ListKernelsParams(Params):
    pass


@tool(
    "list_kernels",
    params=ListKernelsParams,
    result=ListKernelsResult,
    permission=KERNEL_READ,
    read_only=True,
    title="List kernels",
)
async def list_kernels(call: Call, p: ListKernelsParams) -> ToolOutput:
    """List the running kernels: id, kernelspec name, execution state, last activity, connections, and the
    notebooks whose sessions use them."""
    km = call.services.serverapp.kernel_manager
    sessions = await call.services.kernels.sessions.list_sessions()
    by_kernel: dict[str, list[str]] = {}
    for session in sessions:
        if session.get("kernel"):
            by_kernel.setdefault(session["kernel"]["id"], []).append(session.get("path", ""))
    entries = []
    for model in await ensure_async(km.list_kernels()):
        activity = model.get("last_activity")
        entries.append(
            KernelEntry(
                kernel_id=model["id"],
                name=model.get("name", ""),
                execution_state=model.get("execution_state", ""),
                last_activity=activity.isoformat() if hasattr(activity, "isoformat") else activity,
                connections=model.get("connections", 0),
                notebooks=sorted(by_kernel.get(model["id"], [])),
            )
        )
    lines = [f"{len(entries)} running kernel(s)"] + [
        f"{e.kernel_id} ({e.name}, {e.execution_state}): {', '.join(e.notebooks) or 'no notebook'}"
        for e in entries
    ]
    return ListKernelsResult(kernels=entries), "\n".join(lines)


# The tools that run code, in the order tools/list shows them.
EXECUTION_TOOLS: list[Tool] = [
    insert_execute_code_cell,
    execute_cell,
    execute_with_progress,
    execute_code,
    interrupt_kernel,
    restart_kernel,
    list_kernels,
]
