"""The MCP tools that run code: in the notebook's own kernel, outputs streaming into the live cells."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import mcp_types as types
from jupyter_core.utils import ensure_async
from jupyter_ydoc import YNotebook
from pydantic import Field

from . import cells
from .errors import ToolError
from .execution import CellOutputs
from .kernels import OUTPUT_HOLD, KernelReply
from .notebooks import HeldNotebook
from .outputs import OutputLimits, execution_content, summarize_output
from .toolkit import WRITE, Call, CellParams, NotebookParams, NotebookResult, Params, Result, ToolOutput, tool

EXECUTE = ("execute", "kernels")
KERNEL_WRITE = ("write", "kernels")
KERNEL_READ = ("read", "kernels")
SESSION_WRITE = ("write", "sessions")  # what POST /api/sessions asks: starting a notebook's session and kernel

# A run reports progress at least this often, output or not: clients with idle timeouts keep waiting.
HEARTBEAT_SECONDS = 1.0

# How a run reports progress: (seconds the cell has run, message).
Progress = Callable[[float, str], Awaitable[None]]

Status = Literal["ok", "error", "aborted", "timeout", "died", "restarted"]


def status_text(status: str, timeout: float, path: str) -> str:
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


@dataclass(frozen=True)
class ExecutionSettings:
    default_timeout: float
    max_timeout: float
    output_limits: OutputLimits


class TimeoutParams(Params):
    timeout: float | None = Field(
        None, gt=0, description="Seconds before the kernel is interrupted; default and maximum are set by the server."
    )


class ExecutedCell(NotebookResult):
    cell_index: int | None = Field(description="Index of the cell when it finished (null if deleted meanwhile).")
    cell_id: str
    status: Status
    execution_count: int | None
    outputs: list[dict[str, Any]] = Field(description="Outputs as {output_type, text (capped), omitted}.")
    kernel_id: str
    duration_seconds: float
    notes: list[str] = Field(description="What was cut from the returned outputs, and other remarks.")


@dataclass
class CellRun:
    result: ExecutedCell
    outputs: list[dict[str, Any]]  # nbformat outputs, complete (for the MCP content)
    timeout: float


def _timeout(call: Call, requested: float | None) -> float:
    settings = call.services.execution
    if requested is None:
        return settings.default_timeout
    if requested > settings.max_timeout:
        raise ToolError(f"timeout {requested:g} s is above this server's maximum of {settings.max_timeout:g} s.")
    return requested


def _seconds_progress(call: Call) -> Progress:
    """Progress of one run: the seconds it has run (no total)."""

    async def report(elapsed: float, message: str) -> None:
        await call.progress(elapsed, None, message)

    return report


@contextlib.asynccontextmanager
async def _heartbeat(report: Progress, label: str) -> AsyncIterator[None]:
    started = time.monotonic()

    async def beat() -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            await report(time.monotonic() - started, f"{label}: running for {time.monotonic() - started:.0f} s")

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()


async def _session(call: Call, path: str) -> dict[str, Any] | None:
    """The notebook's session; None if it has none and the user may start one (refused otherwise,
    as Jupyter's REST API refuses them)."""
    session = await call.services.kernels.find_session(path)
    if session is None:
        await call.authorize(*SESSION_WRITE)
    return session


async def _kernel_id(call: Call, path: str) -> str:
    """The kernel of the notebook's session; a new session (with the notebook's kernelspec) if it has none."""
    kernels = call.services.kernels
    session = await _session(call, path)
    if session is None:
        async with call.services.notebooks.document(path) as nb:
            kernel_name = cells.metadata_kernelspec(nb).get("name")
        session, _ = await kernels.session_for(path, kernel_name)
    return session["kernel"]["id"]


@dataclass
class CellToRun:
    index: int
    cell_id: str
    source: str
    new: bool  # not in the notebook yet: inserted at ``index`` when the run is first shown


# Finds the cell to run in the live notebook (or checks where a new one goes).
PickCell = Callable[[YNotebook], CellToRun]


def existing_cell(nb: YNotebook, index: int, cell_id: str) -> CellToRun:
    ycell = nb.ycells[index]
    if ycell.get("cell_type") != "code":
        raise ToolError(f"Cell {index} (id {cell_id}) is a {ycell.get('cell_type')} cell; only code cells run.")
    return CellToRun(index=index, cell_id=cell_id, source=str(ycell["source"]), new=False)


async def run_cell(
    call: Call, notebook: HeldNotebook, pick: PickCell, timeout: float, *, report: Progress | None = None
) -> CellRun:
    """Run one code cell, writing its state and outputs into the live cell as they arrive.

    The request goes to the kernel first. The live cell shows the run (inserted or cleared,
    running: [*]) with the first outputs, at most ``OUTPUT_HOLD`` seconds later — also while it
    waits behind another execution — so a fast cell appears finished in one document update.
    The notebook is held by its file id: renamed or deleted meanwhile, its run is still written.
    """
    kernels = call.services.kernels
    path = notebook.path() or notebook.held_as  # its session (and kernel) is found by its path now
    report = report or _seconds_progress(call)
    session = await _session(call, path)  # before the cell changes: a refused run changes nothing
    async with notebook.document() as nb:
        cell = pick(nb)
    cell_id = cell.cell_id
    sink = CellOutputs(cell_id, index_hint=cell.index, to_insert=(cell.index, cell.source) if cell.new else None)
    # Emitted at this task's first wait, normally once the request is on its way to the kernel: with
    # a browser watching, the event costs about 0.2 ms that the kernel need not wait for.
    asyncio.get_running_loop().call_soon(call.show_cell, path, cell_id, cell.index, "execute")
    if not cell.source.strip():  # as JupyterLab does: an empty cell is cleared, not sent to the kernel
        async with notebook.document(edit=True) as nb:
            sink.finish(nb, None)
        empty = ExecutedCell(notebook_path=path, cell_index=sink.index_hint, cell_id=cell_id, status="ok",
                             execution_count=None, outputs=[], kernel_id="", duration_seconds=0.0,
                             notes=["The cell is empty: nothing ran."])
        return CellRun(empty, [], timeout)

    async def show_running() -> None:
        async with notebook.document(edit=True) as nb:
            sink.show_running(nb)

    started = time.monotonic()
    reply = KernelReply("died", message="The execution did not complete.")
    kernel_id = ""
    showing: list[asyncio.Task] = []
    timer = asyncio.get_running_loop().call_later(
        OUTPUT_HOLD, lambda: showing.append(asyncio.ensure_future(show_running()))
    )

    def cancelled(settled: KernelReply) -> None:
        nonlocal reply
        reply = settled  # its count and last outputs are written below, as for a finished run

    try:
        kernel_id = session["kernel"]["id"] if session is not None else await _kernel_id(call, path)
        runner = kernels.runner(kernel_id)

        async def on_messages(batch: list[dict[str, Any]]) -> None:
            async with notebook.document(edit=True) as nb:
                sink.apply(nb, batch)
            await report(time.monotonic() - started, f"cell {cell_id}: {len(sink.outputs)} output(s)")

        async with _heartbeat(report, f"cell {cell_id}"):
            reply = await runner.execute(
                cell.source, on_messages=on_messages, timeout=timeout, on_cancelled=cancelled,
                interrupt=lambda: kernels.interrupt(kernel_id),
            )
    finally:
        timer.cancel()
        for task in showing:  # not awaited: a cancelled call must reach the last write without pausing
            task.cancel()
        async with notebook.document(edit=True) as nb:
            sink.finish(nb, reply.execution_count, reply.tail)  # last outputs and the count: one update
            final_index = None if sink.cell_lost else sink.index_hint
    notes = [reply.message] if reply.message else []
    if reply.status == "timeout":
        notes.append(f"Interrupted after {timeout:g} s; the outputs are what the cell produced until then, "
                     "ending with the interrupt's KeyboardInterrupt.")
    if reply.status == "died":
        notes.append("Restart the kernel with restart_kernel (variables are lost) and run the cells again.")
    if reply.status == "restarted":
        notes.append("The outputs are what the cell produced until the restart; run the cells it needs again.")
    now_at = notebook.path()
    if now_at is None:
        notes.append(f"{path!r} was deleted while the cell ran; its outputs are returned here only.")
    elif now_at != path:
        notes.append(f"The notebook was renamed from {path!r} to {now_at!r} while the cell ran; "
                     "the cell and its outputs are in the renamed notebook.")
    if sink.cell_lost:
        notes.append("The cell was deleted while it ran; its outputs are returned here only.")
    result = ExecutedCell(
        notebook_path=now_at or path,
        cell_index=final_index,
        cell_id=cell_id,
        status=reply.status,
        execution_count=reply.execution_count,
        outputs=[summarize_output(o, call.services.max_output_chars) for o in sink.outputs],
        kernel_id=kernel_id,
        duration_seconds=round(time.monotonic() - started, 3),
        notes=notes,
    )
    return CellRun(result, sink.outputs, timeout)


def _answer(call: Call, run: CellRun) -> ToolOutput:
    result = run.result
    contents, cut = execution_content(run.outputs, call.services.execution.output_limits)
    result.notes.extend(cut)
    where = f"Cell {result.cell_index}" if result.cell_index is not None else "The deleted cell"
    head = f"{where} (id {result.cell_id}) {status_text(result.status, run.timeout, result.notebook_path)}"
    if result.execution_count is not None:
        head += f" [execution_count {result.execution_count}]"
    head += f" ({result.duration_seconds:.2f} s)."
    if result.notes:
        head += "\n" + "\n".join(result.notes)
    if not contents:
        head += "\n(no output)"
    return result, [types.TextContent(type="text", text=head), *contents]


class InsertExecuteParams(NotebookParams, TimeoutParams):
    source: str = Field(description="Code of the new cell.")
    cell_index: int = Field(-1, description="Position of the new cell: 0 = first, -1 = append.")


@tool("insert_execute_code_cell", params=InsertExecuteParams, result=ExecutedCell, permission=EXECUTE,
      title="Insert and run a code cell")
async def insert_execute_code_cell(call: Call, p: InsertExecuteParams) -> ToolOutput:
    """Insert a code cell at an index (-1 appends) and run it in the notebook's own kernel (its Jupyter
    session's kernel; a session is started as JupyterLab would if the notebook has none). A person
    watching sees [*], the outputs as they arrive, and the execution count. Returns status, execution
    count and outputs (text capped with a note of what was cut; PNG/JPEG images as image content)."""
    await call.authorize(*WRITE)
    path = await call.notebook(p.notebook_path)
    timeout = _timeout(call, p.timeout)

    def new_cell(nb: YNotebook) -> CellToRun:
        return CellToRun(index=cells.insert_index(nb, p.cell_index), cell_id=str(uuid.uuid4()), source=p.source,
                         new=True)

    async with call.services.notebooks.hold(path) as notebook:
        return _answer(call, await run_cell(call, notebook, new_cell, timeout))


class ExecuteCellParams(CellParams, TimeoutParams):
    pass


@tool("execute_cell", params=ExecuteCellParams, result=ExecutedCell, permission=EXECUTE, title="Run a cell")
async def execute_cell(call: Call, p: ExecuteCellParams) -> ToolOutput:
    """Run an existing code cell (by cell_index or cell_id) in the notebook's own kernel, replacing its
    outputs; the person watching sees it run live. Returns status, execution count and outputs (text
    capped; images as image content). On timeout the kernel is interrupted and the partial outputs returned."""
    await call.authorize(*WRITE)
    path = await call.notebook(p.notebook_path)
    timeout = _timeout(call, p.timeout)

    def chosen_cell(nb: YNotebook) -> CellToRun:
        return existing_cell(nb, *cells.locate(nb, p.cell_index, p.cell_id))

    async with call.services.notebooks.hold(path) as notebook:
        return _answer(call, await run_cell(call, notebook, chosen_cell, timeout))


class ExecuteRangeParams(NotebookParams, TimeoutParams):
    start_index: int = Field(0, ge=0, description="First cell to run.")
    end_index: int | None = Field(None, ge=0, description="Last cell to run (inclusive); default: the last cell.")
    stop_on_error: bool = Field(True, description="Stop at the first cell that fails.")


class RangeEntry(Result):
    cell_index: int | None
    cell_id: str
    status: Status | Literal["skipped"]
    execution_count: int | None
    summary: str = Field(description="First line of the cell's last output, or the error.")


class ExecuteRangeResult(NotebookResult):
    cells: list[RangeEntry]
    ran: int
    failed: int
    stopped_early: bool


@tool("execute_with_progress", params=ExecuteRangeParams, result=ExecuteRangeResult, permission=EXECUTE,
      title="Run a range of cells")
async def execute_with_progress(call: Call, p: ExecuteRangeParams) -> ToolOutput:
    """Run the code cells from start_index to end_index (inclusive; default the whole notebook) in order,
    reporting progress per cell, and stopping at the first error unless stop_on_error is false. The
    timeout applies to each cell. Returns a per-cell summary (status, execution count, first output line)."""
    await call.authorize(*WRITE)
    path = await call.notebook(p.notebook_path)
    timeout = _timeout(call, p.timeout)
    await _session(call, path)  # a refused range runs no cell
    async with call.services.notebooks.hold(path) as notebook:
        async with notebook.document() as nb:
            count = len(nb.ycells)
            end = count - 1 if p.end_index is None else p.end_index
            if count == 0 or p.start_index >= count or end >= count or end < p.start_index:
                raise ToolError(
                    f"Cell range {p.start_index}..{end} is not valid: the notebook has cells 0..{count - 1}."
                )
            targets = [str(nb.ycells[i].get("id")) for i in range(p.start_index, end + 1)
                       if nb.ycells[i].get("cell_type") == "code"]
        entries, stopped = await _run_range(call, notebook, targets, timeout, stop_on_error=p.stop_on_error)
        path = notebook.path() or path
    await call.progress(len(targets), len(targets), "done", milestone=True)
    failed = sum(e.status not in ("ok", "skipped") for e in entries)
    result = ExecuteRangeResult(notebook_path=path, cells=entries, ran=sum(e.status != "skipped" for e in entries),
                                failed=failed, stopped_early=stopped)
    lines = [f"Ran {result.ran} of {len(targets)} code cell(s) of {path}; {failed} failed"
             + (" (stopped at the first error)." if stopped else ".")]
    lines += [f"[{e.cell_index if e.cell_index is not None else '-'}] {e.status}"
              + (f" ({e.execution_count})" if e.execution_count is not None else "")
              + (f": {e.summary}" if e.summary else "") for e in entries]
    return result, "\n".join(lines)


async def _run_range(
    call: Call, notebook: HeldNotebook, targets: list[str], timeout: float, *, stop_on_error: bool
) -> tuple[list[RangeEntry], bool]:
    """Run the cells with the ids ``targets`` in order: their entries, and whether it stopped at an error."""
    entries: list[RangeEntry] = []
    stopped = False
    for done, cell_id in enumerate(targets):
        if stopped:
            entries.append(RangeEntry(cell_index=None, cell_id=cell_id, status="skipped", execution_count=None,
                                      summary="not run: an earlier cell failed"))
            continue
        await call.progress(done, len(targets), f"running cell {done + 1} of {len(targets)}", milestone=True)
        try:
            report = _range_progress(call, done, len(targets))
            run = await run_cell(call, notebook, _by_id(cell_id), timeout, report=report)
        except ToolError as error:  # the person deleted the cell before its turn
            entries.append(RangeEntry(cell_index=None, cell_id=cell_id, status="skipped", execution_count=None,
                                      summary=str(error)))
            continue
        outputs = run.result.outputs
        summary = next((o["text"].strip().splitlines()[0] for o in reversed(outputs) if o["text"].strip()), "")
        entries.append(RangeEntry(cell_index=run.result.cell_index, cell_id=cell_id, status=run.result.status,
                                  execution_count=run.result.execution_count, summary=summary[:200]))
        if run.result.status != "ok" and stop_on_error:
            stopped = True
    return entries, stopped


def _by_id(cell_id: str) -> PickCell:
    return lambda nb: existing_cell(nb, cells.index_of(nb, cell_id), cell_id)


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


@tool("execute_code", params=ExecuteCodeParams, result=ExecutedCode, permission=EXECUTE,
      title="Run code without a cell")
async def execute_code(call: Call, p: ExecuteCodeParams) -> ToolOutput:
    """Run code in the notebook's kernel without adding a cell — for inspecting variables, data shapes,
    installed packages. Nothing is saved in the notebook and the execution count does not move; the
    kernel state it changes is shared with the notebook. Returns status and outputs."""
    path = await call.notebook(p.notebook_path)
    timeout = _timeout(call, p.timeout)
    kernel_id = await _kernel_id(call, path)
    kernels = call.services.kernels
    sink = CellOutputs("")

    async def on_messages(batch: list[dict[str, Any]]) -> None:
        sink.apply(None, batch)

    async with _heartbeat(_seconds_progress(call), "code"):
        reply = await kernels.runner(kernel_id).execute(
            p.code, on_messages=on_messages, timeout=timeout, store_history=False,
            interrupt=lambda: kernels.interrupt(kernel_id),
        )
    sink.apply(None, reply.tail)
    contents, notes = execution_content(sink.outputs, call.services.execution.output_limits)
    if reply.message:
        notes.insert(0, reply.message)
    result = ExecutedCode(
        notebook_path=path, status=reply.status, kernel_id=kernel_id, notes=notes,
        outputs=[summarize_output(o, call.services.max_output_chars) for o in sink.outputs],
    )
    head = f"Code {status_text(reply.status, timeout, path)}." + "".join(f"\n{n}" for n in notes)
    return result, [types.TextContent(type="text", text=head + ("" if contents else "\n(no output)")), *contents]


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
        raise ToolError(f"{path!r} has no running kernel (run a cell to start one).")
    kernel_id = session["kernel"]["id"]
    await action(kernel_id)
    state = call.services.kernels.state(kernel_id)
    return KernelActionResult(notebook_path=path, kernel_id=kernel_id, execution_state=state), (
        done.format(kernel_id=kernel_id, path=path)
    )


@tool("interrupt_kernel", params=NotebookParams, result=KernelActionResult, permission=KERNEL_WRITE,
      title="Interrupt the kernel", idempotent=True)
async def interrupt_kernel(call: Call, p: NotebookParams) -> ToolOutput:
    """Interrupt the notebook's kernel (like the stop button): the running cell stops with KeyboardInterrupt;
    variables are kept."""
    return await _act_on_kernel(call, p, call.services.kernels.interrupt, "Interrupted kernel {kernel_id} of {path}.")


@tool("restart_kernel", params=NotebookParams, result=KernelActionResult, permission=KERNEL_WRITE,
      title="Restart the kernel", destructive=True)
async def restart_kernel(call: Call, p: NotebookParams) -> ToolOutput:
    """Restart the notebook's kernel: all variables are lost; the notebook's session keeps the same kernel
    id, so JupyterLab stays connected. Use after the kernel died or to start clean."""
    return await _act_on_kernel(
        call, p, call.services.kernels.restart, "Restarted kernel {kernel_id} of {path}; all variables were cleared."
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


@tool("list_kernels", params=ListKernelsParams, result=ListKernelsResult, permission=KERNEL_READ, read_only=True,
      title="List kernels")
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
        entries.append(KernelEntry(
            kernel_id=model["id"], name=model.get("name", ""), execution_state=model.get("execution_state", ""),
            last_activity=activity.isoformat() if hasattr(activity, "isoformat") else activity,
            connections=model.get("connections", 0), notebooks=sorted(by_kernel.get(model["id"], [])),
        ))
    lines = [f"{len(entries)} running kernel(s)"] + [
        f"{e.kernel_id} ({e.name}, {e.execution_state}): {', '.join(e.notebooks) or 'no notebook'}" for e in entries
    ]
    return ListKernelsResult(kernels=entries), "\n".join(lines)
