"""The execution engine: a notebook's code run in the notebook's own kernel — pick, run, finish.

A cell run picks its cell in the live notebook, sends the code to the kernel, shows the run in the
live cell as the outputs arrive, and ends as a plain ``CellRun``. The engine knows nothing of MCP:
the tools (``kernel_tools.py``) call it, and so can anything else that runs code for someone.
Whoever asks passes what the engine needs of them: an authorization check and a progress report.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from jupyter_ydoc import YNotebook

from . import cells
from .errors import UsageError
from .execution import CellOutputs
from .kernels import OUTPUT_HOLD, KernelReply, NotebookKernels, Status
from .notebooks import HeldNotebook, LiveNotebooks
from .outputs import OutputLimits

# What POST /api/sessions asks: starting a notebook's session and kernel.
SESSION_WRITE = ("write", "sessions")

# A run reports progress at least this often, output or not: clients with idle timeouts keep waiting.
HEARTBEAT_SECONDS = 1.0

# How a run reports progress: (seconds the code has run, message).
Progress = Callable[[float, str], Awaitable[None]]

# Asks Jupyter's authorizer whether whoever runs the code may (action, resource); raises UsageError if not.
Authorize = Callable[[str, str], Awaitable[None]]

# Told, just after the request went to the kernel, which cell will show the run: (path, cell_id, cell_index).
ShowCell = Callable[[str, str, int], None]


@dataclass(frozen=True)
class ExecutionSettings:
    default_timeout: float
    max_timeout: float
    output_limits: OutputLimits

    def timeout(self, requested: float | None) -> float:
        """The timeout of a run: the requested one (checked against the maximum) or the default."""
        if requested is None:
            return self.default_timeout
        if requested > self.max_timeout:
            raise UsageError(
                f"timeout {requested:g} s is above this server's maximum of {self.max_timeout:g} s."
            )
        return requested


@dataclass
class CellToRun:
    index: int
    cell_id: str
    source: str
    new: bool  # not in the notebook yet: inserted at ``index`` when the run is first shown


# Finds the cell to run in the live notebook (or checks where a new one goes).
PickCell = Callable[[YNotebook], CellToRun]


def _existing_cell(nb: YNotebook, index: int, cell_id: str) -> CellToRun:
    ycell = nb.ycells[index]
    if ycell.get("cell_type") != "code":
        raise UsageError(
            f"Cell {index} (id {cell_id}) is a {ycell.get('cell_type')} cell; only code cells run."
        )
    return CellToRun(index=index, cell_id=cell_id, source=str(ycell["source"]), new=False)


def new_cell(cell_index: int, source: str) -> PickCell:
    """A new code cell at ``cell_index`` (-1 appends)."""
    cell_id = str(uuid.uuid4())
    return lambda nb: CellToRun(
        index=cells.insert_index(nb, cell_index), cell_id=cell_id, source=source, new=True
    )


def cell_at(cell_index: int | None, cell_id: str | None) -> PickCell:
    """The existing code cell an agent addressed by index or by id."""
    return lambda nb: _existing_cell(nb, *cells.locate(nb, cell_index, cell_id))


def cell_with_id(cell_id: str) -> PickCell:
    return lambda nb: _existing_cell(nb, cells.index_of(nb, cell_id), cell_id)


@dataclass
class CellRun:
    """How one run of a cell ended."""

    notebook_path: (
        str  # the notebook's path when the run ended (it may have been renamed meanwhile)
    )
    cell_index: int | None  # None: the cell was deleted while it ran
    cell_id: str
    status: Status
    execution_count: int | None
    outputs: list[dict[str, Any]]  # nbformat outputs, complete
    kernel_id: str  # "" when nothing was sent to a kernel (an empty cell)
    duration_seconds: float
    notes: list[str]  # what the agent should know besides the status
    timeout: float


@dataclass
class CodeRun:
    """How one run of code without a cell ended."""

    notebook_path: str
    status: Status
    outputs: list[dict[str, Any]]  # nbformat outputs, complete
    kernel_id: str
    message: str  # why it ended, when not "ok"
    timeout: float


# The event loop keeps only weak references to tasks: these are kept here until they end.
_running: set[asyncio.Task] = set()


def _start(coroutine: Coroutine[Any, Any, None]) -> asyncio.Task:
    task = asyncio.create_task(coroutine)
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task


@contextlib.asynccontextmanager
async def _heartbeat(report: Progress, label: str, kernels: NotebookKernels) -> AsyncIterator[None]:
    started = time.monotonic()

    async def beat() -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            kernels.note_running()
            await report(
                time.monotonic() - started,
                f"{label}: running for {time.monotonic() - started:.0f} s",
            )

    task = _start(beat())
    try:
        yield
    finally:
        task.cancel()


class ExecutionEngine:
    """Runs notebooks' code in their own kernels, each cell's run written into the live notebook."""

    def __init__(
        self, notebooks: LiveNotebooks, kernels: NotebookKernels, settings: ExecutionSettings
    ) -> None:
        self.notebooks = notebooks
        self.kernels = kernels
        self.settings = settings

    async def session(self, path: str, authorize: Authorize) -> dict[str, Any] | None:
        """The notebook's session; None if it has none and the user may start one (refused otherwise,
        as Jupyter's REST API refuses them)."""
        session = await self.kernels.find_session(path)
        if session is None:
            await authorize(*SESSION_WRITE)
        return session

    async def kernel_id(self, path: str, authorize: Authorize) -> str:
        """The kernel of the notebook's session; a new session (with the notebook's kernelspec) if it has none."""
        session = await self.session(path, authorize)
        if session is None:
            async with self.notebooks.document(path) as nb:
                kernel_name = cells.metadata_kernelspec(nb).get("name")
            session = await self.kernels.session_for(path, kernel_name)
        return session["kernel"]["id"]

    async def run_cell(
        self,
        notebook: HeldNotebook,
        pick: PickCell,
        timeout: float,
        *,
        authorize: Authorize,
        report: Progress,
        show: ShowCell | None = None,
    ) -> CellRun:
        """Run one code cell, writing its state and outputs into the live cell as they arrive.

        The request goes to the kernel first. The live cell shows the run (inserted or cleared,
        running: [*]) with the first outputs, at most ``OUTPUT_HOLD`` seconds later — also while it
        waits behind another execution — so a fast cell appears finished in one document update.
        The notebook is held by its file id: renamed or deleted meanwhile, its run is still written.
        """
        kernels = self.kernels
        path = (
            notebook.path() or notebook.held_as
        )  # its session (and kernel) is found by its path now
        session = await self.session(
            path, authorize
        )  # before the cell changes: a refused run changes nothing
        async with notebook.document() as nb:
            cell = pick(nb)
        cell_id = cell.cell_id
        sink = CellOutputs(
            cell_id,
            index_hint=cell.index,
            to_insert=(cell.index, cell.source) if cell.new else None,
        )
        if show is not None:
            # Called at this task's first wait, normally once the request is on its way to the kernel:
            # showing the cell to a watching browser is never on the kernel's path.
            asyncio.get_running_loop().call_soon(show, path, cell_id, cell.index)
        if (
            not cell.source.strip()
        ):  # as JupyterLab does: an empty cell is cleared, not sent to the kernel
            async with notebook.document(edit=True) as nb:
                sink.finish(nb, None)
            return CellRun(
                notebook_path=path,
                cell_index=sink.index_hint,
                cell_id=cell_id,
                status="ok",
                execution_count=None,
                outputs=[],
                kernel_id="",
                duration_seconds=0.0,
                notes=["The cell is empty: nothing ran."],
                timeout=timeout,
            )

        async def show_running() -> None:
            async with notebook.document(edit=True) as nb:
                sink.show_running(nb)

        started = time.monotonic()
        reply = KernelReply("died", message="The execution did not complete.")
        kernel_id = ""
        showing: set[asyncio.Task] = set()

        def start_showing() -> None:
            task = _start(show_running())
            showing.add(task)
            task.add_done_callback(showing.discard)

        timer = asyncio.get_running_loop().call_later(OUTPUT_HOLD, start_showing)

        def cancelled(settled: KernelReply) -> None:
            nonlocal reply
            reply = settled  # its count and last outputs are written below, as for a finished run

        try:
            kernel_id = (
                session["kernel"]["id"]
                if session is not None
                else await self.kernel_id(path, authorize)
            )
            runner = kernels.runner(kernel_id)

            async def on_messages(batch: list[dict[str, Any]]) -> None:
                async with notebook.document(edit=True) as nb:
                    sink.apply(nb, batch)
                await report(
                    time.monotonic() - started, f"cell {cell_id}: {len(sink.outputs)} output(s)"
                )

            async with _heartbeat(report, f"cell {cell_id}", kernels):
                reply = await runner.execute(
                    cell.source,
                    on_messages=on_messages,
                    timeout=timeout,
                    on_cancelled=cancelled,
                    interrupt=lambda: kernels.interrupt(kernel_id),
                )
        finally:
            timer.cancel()
            for task in list(
                showing
            ):  # not awaited: a cancelled call must reach the last write without pausing
                task.cancel()
            async with notebook.document(edit=True) as nb:
                sink.finish(
                    nb, reply.execution_count, reply.tail
                )  # last outputs and the count: one update
                final_index = None if sink.cell_lost else sink.index_hint
        now_at = notebook.path()
        return CellRun(
            notebook_path=now_at or path,
            cell_index=final_index,
            cell_id=cell_id,
            status=reply.status,
            execution_count=reply.execution_count,
            outputs=sink.outputs,
            kernel_id=kernel_id,
            duration_seconds=round(time.monotonic() - started, 3),
            notes=_notes(reply, timeout, path, now_at, cell_lost=sink.cell_lost),
            timeout=timeout,
        )

    async def run_code(
        self, path: str, code: str, timeout: float, *, authorize: Authorize, report: Progress
    ) -> CodeRun:
        """Run ``code`` in the notebook's kernel without a cell: nothing is written in the notebook,
        and the execution count does not move."""
        kernel_id = await self.kernel_id(path, authorize)
        kernels = self.kernels
        sink = CellOutputs("")

        async def on_messages(batch: list[dict[str, Any]]) -> None:
            sink.apply(None, batch)

        async with _heartbeat(report, "code", kernels):
            reply = await kernels.runner(kernel_id).execute(
                code,
                on_messages=on_messages,
                timeout=timeout,
                store_history=False,
                interrupt=lambda: kernels.interrupt(kernel_id),
            )
        sink.apply(None, reply.tail)
        return CodeRun(
            notebook_path=path,
            status=reply.status,
            outputs=sink.outputs,
            kernel_id=kernel_id,
            message=reply.message,
            timeout=timeout,
        )


def _notes(
    reply: KernelReply, timeout: float, path: str, now_at: str | None, *, cell_lost: bool
) -> list[str]:
    """What the agent should know about a cell's run besides its status."""
    notes = [reply.message] if reply.message else []
    if reply.status == "timeout":
        notes.append(
            f"Interrupted after {timeout:g} s; the outputs are what the cell produced until then, "
            "ending with the interrupt's KeyboardInterrupt."
        )
    if reply.status == "died":
        notes.append(
            "Restart the kernel with restart_kernel (variables are lost) and run the cells again."
        )
    if reply.status == "restarted":
        notes.append(
            "The outputs are what the cell produced until the restart; run the cells it needs again."
        )
    if now_at is None:
        notes.append(
            f"{path!r} was deleted while the cell ran; its outputs are returned here only."
        )
    elif now_at != path:
        notes.append(
            f"The notebook was renamed from {path!r} to {now_at!r} while the cell ran; "
            "the cell and its outputs are in the renamed notebook."
        )
    if cell_lost:
        notes.append("The cell was deleted while it ran; its outputs are returned here only.")
    return notes
