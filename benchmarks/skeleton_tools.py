"""The reference tool of bench_execute.py's latency target; never part of the extension.

Imported into the benchmark's Jupyter server before it starts, it registers ``bare_execute``, the
least an in-process MCP tool can do to run code: it sends the code to the notebook's kernel with
the extension's own runner and waits for the reply and idle; no path checks, no live document,
the kernel looked up once. insert_execute_code_cell's cost over it is the extension's own.
"""

from __future__ import annotations

from typing import Any

from jupyter_mcp_ext.app import TOOLS
from jupyter_mcp_ext.kernel_tools import EXECUTE
from jupyter_mcp_ext.toolkit import Call, Params, Result, ToolOutput, tool

_kernel_ids: dict[str, str] = {}


class BareExecuteParams(Params):
    notebook_path: str
    source: str


class BareExecuteResult(Result):
    status: str
    execution_count: int | None


async def _ignore(_: list[dict[str, Any]]) -> None:
    pass


async def _no_interrupt() -> None:
    pass


@tool("bare_execute", params=BareExecuteParams, result=BareExecuteResult, permission=EXECUTE)
async def bare_execute(call: Call, p: BareExecuteParams) -> ToolOutput:
    """Benchmark reference: run code in the notebook's kernel and return only the status."""
    kernel_id = _kernel_ids.get(p.notebook_path) or await call.services.execution.kernel_id(
        p.notebook_path, call.authorize
    )
    _kernel_ids[p.notebook_path] = kernel_id
    reply = await call.services.kernels.runner(kernel_id).execute(
        p.source, on_messages=_ignore, timeout=60, interrupt=_no_interrupt
    )
    return {"status": reply.status, "execution_count": reply.execution_count}, reply.status


TOOLS.append(bare_execute)  # offered by the server this module is imported into
