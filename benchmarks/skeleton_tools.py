"""Diagnostic tool for ``bench_execute.py --skeleton``; never part of the extension.

Imported into the benchmark's Jupyter server before it starts, it registers two tools:

- ``bare_execute``, the least an in-process MCP tool can do to run code: it sends the code to the
  notebook's kernel with the extension's own runner and waits for the reply and idle; no path
  checks, no live document, the kernel looked up once. Its latency over raw kernel + no-op is what
  the MCP round trip around a kernel execution costs on the machine, whatever a tool does besides;
- ``bare_wait``, which only sleeps for the given seconds: what waiting inside a call costs, with no
  kernel at all.
"""

from __future__ import annotations

import asyncio
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


class BareWaitParams(Params):
    seconds: float


async def _ignore(_: list[dict[str, Any]]) -> None:
    pass


async def _no_interrupt() -> None:
    pass


@tool("bare_execute", params=BareExecuteParams, result=BareExecuteResult, permission=EXECUTE)
async def bare_execute(call: Call, p: BareExecuteParams) -> ToolOutput:
    """Diagnostic: run code in the notebook's kernel and return only the status (bench_execute --skeleton)."""
    kernel_id = _kernel_ids.get(p.notebook_path) or await call.services.execution.kernel_id(
        p.notebook_path, call.authorize
    )
    _kernel_ids[p.notebook_path] = kernel_id
    reply = await call.services.kernels.runner(kernel_id).execute(
        p.source, on_messages=_ignore, timeout=60, interrupt=_no_interrupt
    )
    return {"status": reply.status, "execution_count": reply.execution_count}, reply.status


@tool("bare_wait", params=BareWaitParams, result=BareExecuteResult, permission=EXECUTE)
async def bare_wait(call: Call, p: BareWaitParams) -> ToolOutput:
    """Diagnostic: sleep for ``seconds`` and return (bench_execute --skeleton)."""
    await asyncio.sleep(p.seconds)
    return {"status": "ok", "execution_count": None}, "ok"


TOOLS.extend([bare_execute, bare_wait])  # offered by the server this module is imported into
