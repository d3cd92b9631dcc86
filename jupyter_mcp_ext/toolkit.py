"""What a tool is, and what one call of it can use. Tools are defined in ``tools.py`` and ``kernel_tools.py``."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, TypeVar

import mcp_types as types
from jupyter_core.utils import ensure_async
from jupyter_ydoc import YNotebook
from pydantic import BaseModel, ConfigDict, Field

from . import revisions
from .agents import Agent
from .context import CurrentNotebooks
from .engine import ExecutionEngine
from .errors import UsageError
from .kernels import NotebookKernels
from .notebooks import LiveNotebooks
from .paths import ServerPaths
from .presence import Presence
from .ui_events import UIEvents
from .undo import UndoHistories


@dataclass
class Services:
    """The server-side parts tools work with, shared by every call."""

    serverapp: Any
    notebooks: LiveNotebooks
    kernels: NotebookKernels
    current: CurrentNotebooks
    ui: UIEvents
    max_output_chars: int  # text of one output, as reading tools return it
    execution: ExecutionEngine
    presence: Presence
    undo: UndoHistories
    change_history_size: int = 100  # revisions per live notebook get_notebook_changes answers for

    @cached_property
    def paths(self) -> ServerPaths:
        return ServerPaths(self.serverapp.contents_manager)

    @property
    def contents(self) -> Any:
        return self.serverapp.contents_manager

    def revision(self, nb: YNotebook, plain: list[dict[str, Any]] | None = None) -> str:
        """The notebook's revision now, for a result read or made in the same synchronous section
        (an await in between could let a person's change pass as seen)."""
        return revisions.tracker(nb).checkpoint(self.change_history_size, plain)

    def lab_url(self, path: str) -> str:
        from urllib.parse import quote

        return f"{self.serverapp.base_url}lab/tree/{quote(path)}"


@dataclass
class Call:
    """One tool call: who makes it, through which request, with which services."""

    services: Services
    user: Any  # jupyter_server.auth.User, as the authorizer knows it
    principal: str  # who the user is for per-user state (see handlers.principal)
    handler: Any  # the request handler the authorizer is asked with
    report_progress: Callable[[float, float | None, str | None], Awaitable[None]] | None = None
    agent: Agent | None = None  # who makes the call (agents.py); None outside MCP requests
    _last_progress: float = field(default=float("-inf"), init=False)
    _last_value: float = field(default=float("-inf"), init=False)

    # Progress notifications are throttled to a few per second; clients drop nothing but need no more.
    PROGRESS_INTERVAL = 0.25

    async def progress(
        self,
        done: float,
        total: float | None = None,
        message: str | None = None,
        *,
        milestone: bool = False,
    ) -> None:
        """Tell the client how far the call is (only if it asked for progress).

        Reports come at most every PROGRESS_INTERVAL, except milestones (a step begins or ends).
        Values only ever increase (the protocol requires it): a lower one is not sent.
        """
        now = time.monotonic()
        if self.report_progress is None or (
            not milestone and now - self._last_progress < self.PROGRESS_INTERVAL
        ):
            return
        if done <= self._last_value:
            return
        self._last_progress, self._last_value = now, done
        await self.report_progress(done, total, message)

    async def authorize(self, action: str, resource: str) -> None:
        authorizer = self.handler.authorizer
        if not await ensure_async(
            authorizer.is_authorized(self.handler, self.user, action, resource)
        ):
            raise UsageError(
                f"Permission denied: user {self.user.username!r} may not {action} {resource} on this server."
            )

    async def notebook(self, notebook_path: str | None) -> str:
        """The checked path of the notebook a call acts on: the given one, else the user's current one."""
        if notebook_path is not None:
            return await self.services.paths.existing_notebook(notebook_path)
        current = self.services.current.get(self.principal)
        if current.path is None:
            raise UsageError(
                "No notebook_path was given and there is no current notebook: pass notebook_path, "
                "or call prepare_notebook (or open a notebook in JupyterLab) first."
            )
        return await self.services.paths.existing_notebook(current.path)

    def show_cell(self, path: str, cell_id: str, cell_index: int, reason: str) -> None:
        """Let the user's JupyterLab follow the agent to a cell it edits or runs ("edit"/"execute"),
        and everyone in the notebook see the agent there.

        Only notebooks a browser has open are worth an event.
        """
        self.services.presence.at_cell(self.agent, path, cell_id, cell_index, reason)
        if self.services.notebooks.has_browser(path):
            self.services.ui.show_cell(self.principal, path, cell_id, cell_index, reason)


# Longest string arguments accepted. Sources and code are bounded by the request body size
# (MCPExtensionApp.max_request_body_size) alone.
MAX_PATH_CHARS = 4096  # the file system's PATH_MAX; paths.py checks the exact byte limits
MAX_CELL_ID_CHARS = 64  # nbformat 4.5: cell ids are 1-64 characters
MAX_NAME_CHARS = 255  # kernel names and other single names


class Params(BaseModel):
    """Tool arguments: unknown keys are refused so a misspelt argument is not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class NotebookParams(Params):
    notebook_path: str | None = Field(
        None,
        max_length=MAX_PATH_CHARS,
        description="Notebook path relative to the server root; omitted: the user's current notebook.",
    )


class CellParams(NotebookParams):
    cell_index: int | None = Field(
        None, description="0-based index of the cell; negative counts from the end."
    )
    cell_id: str | None = Field(
        None,
        max_length=MAX_CELL_ID_CHARS,
        description="Id of the cell (stable while cells move); instead of cell_index.",
    )


class Result(BaseModel):
    """Structured content of a tool result."""


class NotebookResult(Result):
    notebook_path: str = Field(description="The notebook the tool acted on.")
    revision: str | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description=(
            "The notebook's revision right after this read or edit: pass it as since_revision to "
            "get_notebook_changes, or as expected_revision to an edit."
        ),
    )
    # Set by the server (server.py) on any notebook tool's result, never by the tool itself.
    warnings: list[str] | None = Field(
        default=None,
        exclude_if=lambda value: value is None,
        description="Problems the agent must know of, e.g. that the notebook's changes are not saved to disk.",
    )


ParamsT = TypeVar("ParamsT", bound=Params)

# What a tool returns: its structured content (a Result, or an equivalent plain dict where
# building models would cost too much) and what the model is shown: a text, or content blocks
# (text and images).
ToolOutput = tuple[Result | dict[str, Any], str | list[Any]]


@dataclass(frozen=True)
class Tool(Generic[ParamsT]):
    name: str
    description: str
    params: type[ParamsT]
    result: type[Result]
    permission: tuple[str, str]  # (action, resource) asked of Jupyter's authorizer
    run: Callable[[Call, ParamsT], Awaitable[ToolOutput]]
    title: str = ""
    read_only: bool = False
    destructive: bool = False
    idempotent: bool = False
    input_schema: dict[str, Any] = field(init=False)
    output_schema: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "input_schema", self.params.model_json_schema())
        object.__setattr__(self, "output_schema", self.result.model_json_schema())

    def definition(self) -> types.Tool:
        return types.Tool(
            name=self.name,
            title=self.title or None,
            description=self.description,
            input_schema=self.input_schema,
            output_schema=self.output_schema,
            annotations=types.ToolAnnotations(
                title=self.title or None,
                read_only_hint=self.read_only,
                destructive_hint=self.destructive,
                idempotent_hint=self.idempotent,
                open_world_hint=False,
            ),
        )


def tool(
    name: str,
    *,
    params: type[ParamsT],
    result: type[Result],
    permission: tuple[str, str],
    title: str = "",
    read_only: bool = False,
    destructive: bool = False,
    idempotent: bool = False,
) -> Callable[[Callable[[Call, ParamsT], Awaitable[ToolOutput]]], Tool[ParamsT]]:
    """Make a function a tool; its docstring is the tool's description. Each tools module lists its tools."""

    def make(run: Callable[[Call, ParamsT], Awaitable[ToolOutput]]) -> Tool[ParamsT]:
        return Tool(
            name=name,
            description=" ".join((run.__doc__ or "").split()),
            params=params,
            result=result,
            permission=permission,
            run=run,
            title=title,
            read_only=read_only,
            destructive=destructive,
            idempotent=idempotent,
        )

    return make


READ = ("read", "contents")
WRITE = ("write", "contents")
