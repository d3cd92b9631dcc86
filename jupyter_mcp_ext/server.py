"""The MCP server (the SDK's low-level ``Server``): lists tools, checks and dispatches calls.

Every failure of a call becomes a tool error result whose text names the problem; the
client never sees a JSON-RPC internal error for a tool call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import textwrap
from collections.abc import Iterator
from typing import Any, cast

import mcp_types as types
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from pydantic import BaseModel, ValidationError

from . import __version__
from .agents import Agent, acting_as, agent_of
from .errors import UsageError
from .resources import TEMPLATES, NotebookResources
from .subscriptions import SKIP_OWN_CHANGES, Subscriptions
from .tasks import ToolTasks
from .toolkit import Call, Services, Tool

log = logging.getLogger(__name__)

# What every agent reads first, one paragraph a string (the tool families follow, naming only the
# tools offered).
_INTRODUCTION = (
    "This server runs inside the user's Jupyter server and works on the notebooks they have open in "
    "JupyterLab: every edit goes into the live shared document, so the user sees it as it happens, and "
    "nothing is written behind their back.",
    "Current notebook: each user has one current notebook — the one they are looking at in JupyterLab{chosen}. "
    "Every notebook tool takes an optional notebook_path (relative to the server root, e.g. "
    "'analysis/report.ipynb'); without it the tool acts on the current notebook, and every result names "
    "the notebook it acted on.",
    "Cells are addressed by cell_index (0-based; negative counts from the end) or by cell_id. Ids stay "
    "the same when the user inserts or moves cells, so prefer cell_id across several calls.",
)

# The tool families, each tool with what an agent should know of it beyond its name.
_FAMILIES: list[tuple[str, list[tuple[str, str]]]] = [
    ("Finding", [("list_notebooks", ""), ("list_files", ""), ("get_notebook_info", "")]),
    (
        "Choosing",
        [
            (
                "prepare_notebook",
                "makes a notebook current, can create it, returns its JupyterLab URL",
            ),
            ("create_notebook", ""),
        ],
    ),
    (
        "Reading",
        [
            ("read_notebook", "paged; brief overview or detailed"),
            ("read_cell", ""),
            ("read_all_cells", ""),
            ("get_notebook_changes", "what changed since a revision, and who changed it"),
        ],
    ),
    (
        "Editing",
        [
            ("append_markdown_cell", ""),
            ("append_code_cell", ""),
            ("insert_cell", ""),
            ("edit_cell_source", "replace an exact substring"),
            ("overwrite_cell_source", ""),
            ("move_cell", ""),
            ("delete_cell", ""),
            ("clear_cell_output", ""),
            ("undo", "take back your own last changes, one tool call a step"),
            ("redo", ""),
        ],
    ),
    (
        "Running",
        [
            ("insert_execute_code_cell", ""),
            ("execute_cell", ""),
            ("execute_with_progress", "a range of cells"),
            ("execute_code", "inspect without adding a cell"),
            ("interrupt_kernel", ""),
            ("restart_kernel", ""),
            ("list_kernels", ""),
        ],
    ),
]

# Said after the families when one of the family's tools is offered.
_FAMILY_NOTES = {
    "Editing": "Edits are minimal text changes: a person typing in the same notebook keeps their text.",
    "Running": (
        "Code runs in the notebook's own kernel — the one the user's JupyterLab tab uses, with the same "
        "variables — and outputs appear in the cell as they arrive. A run that exceeds its timeout is "
        "interrupted and returns what it produced so far."
    ),
}


# Tools that refuse to change a cell someone else changed since the agent's expected_revision.
_GUARDED_EDITS = ("overwrite_cell_source", "edit_cell_source", "delete_cell")


def _revisions_note(offered: set[str]) -> str:
    """How an agent keeps up with a person editing the same notebook, naming only offered tools."""
    note = (
        "People (and other agents) may change the notebook while you work: every read and edit "
        "result gives the notebook's revision (e.g. '12@3fa9c1')."
    )
    if "get_notebook_changes" in offered:
        note += (
            " Before editing cells you read earlier, call get_notebook_changes with the revision of "
            "your last result: it lists the cells added, deleted, moved, edited (with a diff) and "
            "executed since, and who did it."
        )
    guarded = [name for name in _GUARDED_EDITS if name in offered]
    if guarded:
        note += (
            f" Pass expected_revision (the revision you last read the cell at) to {', '.join(guarded)}: "
            "if someone else changed that cell since, nothing is changed and the error gives the "
            "cell's current source; redo the edit on it."
        )
    return note


def instructions(offered: set[str]) -> str:
    """The server's instructions to agents, naming only the tools in ``offered``."""
    chosen = (
        ", or the one an agent chose with prepare_notebook, whichever happened last"
        if "prepare_notebook" in offered
        else ""
    )
    text = "\n\n".join(
        textwrap.fill(paragraph.format(chosen=chosen), width=100) for paragraph in _INTRODUCTION
    )
    text += "\n\nTool families:"
    notes = []
    for family, entries in _FAMILIES:
        named = [
            f"{name} ({about})" if about else name for name, about in entries if name in offered
        ]
        if named:
            text += "\n" + textwrap.fill(
                f"- {family}: {', '.join(named)}.", width=100, subsequent_indent="  "
            )
            if family in _FAMILY_NOTES:
                notes.append(_FAMILY_NOTES[family])
    if offered & {"get_notebook_changes", *_GUARDED_EDITS}:
        notes.append(_revisions_note(offered))
    if notes:
        text += "\n" + textwrap.fill(" ".join(notes), width=100)
    return text + "\n"


def _structured(value: BaseModel | dict[str, Any]) -> dict[str, Any]:
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


def _error(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)


def _validation_message(tool: Tool, error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "arguments"
        if item["type"] == "extra_forbidden":
            problems.append(f"unknown argument {where!r}")
        else:
            problems.append(f"{where}: {item['msg']}")
    accepted = ", ".join(
        f"{name}{'' if name in tool.input_schema.get('required', []) else '?'}"
        for name in tool.input_schema.get("properties", {})
    )
    return (
        f"Invalid arguments for {tool.name}: "
        + "; ".join(problems)
        + f". Accepted arguments: {accepted}."
    )


class InFlightCalls:
    """The tool calls running now, so that a server shutdown can end them.

    A call left running when the server stops its event loop keeps the process alive: the
    worker thread the contents manager started for it waits for the call's task to finish,
    and Python waits for that thread at exit.
    """

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()
        self.closed = False

    @contextlib.contextmanager
    def track(self) -> Iterator[None]:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            yield
        finally:
            self._tasks.discard(task)

    async def cancel_all(self, timeout: float) -> None:
        """Refuse new calls, cancel the running ones and wait (up to ``timeout``) for them to end."""
        self.closed = True
        tasks = [task for task in self._tasks if not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            if pending:
                log.warning(
                    "MCP: %d tool call(s) did not end within %s s of the shutdown",
                    len(pending),
                    timeout,
                )


def _unsaved_warning(services: Services, path: Any) -> str | None:
    """The warning a result about ``path`` carries while the notebook's changes cannot be saved."""
    problem = services.notebooks.save_problem(path) if isinstance(path, str) else None
    if problem is None:
        return None
    return (
        f"the changes to {path} are not saved to disk: {problem}. They are kept in the live notebook and "
        "saving is retried, but they are lost if the Jupyter server stops first: the user should fix "
        "the cause (e.g. free disk space, make the file writable)."
    )


def _with_warning(content: list[Any], warning: str) -> list[Any]:
    """``content`` with the warning at the end of its first text (the one every client shows)."""
    for i, block in enumerate(content):
        if isinstance(block, types.TextContent):
            return [
                *content[:i],
                types.TextContent(type="text", text=f"{block.text}\n\nWarning: {warning}"),
                *content[i + 1 :],
            ]
    return [types.TextContent(type="text", text=f"Warning: {warning}"), *content]


def _agent(ctx: Any, state: Any) -> Agent:
    """The agent making this request: its MCP session (or client) and the user it acts for."""
    user = state.jupyter_user
    client_params = getattr(getattr(ctx, "session", None), "client_params", None)
    return agent_of(
        principal=state.jupyter_principal,
        user_name=getattr(user, "display_name", "") or getattr(user, "username", ""),
        client_info=getattr(client_params, "client_info", None),
        session_id=ctx.request.headers.get("mcp-session-id"),
    )


class _Server(Server):
    """The SDK's server, telling handshake-era clients that the resource list changes.

    The SDK's session manager builds the initialize answer with default notification options,
    which say it never does.
    """

    def create_initialization_options(
        self, notification_options: NotificationOptions | None = None, *args: Any, **kwargs: Any
    ) -> Any:
        options = notification_options or NotificationOptions(resources_changed=True)
        return super().create_initialization_options(options, *args, **kwargs)


def _request_call(ctx: Any, services: Services) -> Call:
    """The caller of a request that is not a tool call (resources), to authorize and check paths."""
    state = getattr(getattr(ctx, "request", None), "state", None)
    handler = getattr(state, "jupyter_handler", None)
    if state is None or handler is None:
        raise MCPError(
            INVALID_PARAMS,
            "This request did not come through the Jupyter server's authenticated endpoint.",
        )
    return Call(
        services=services,
        user=state.jupyter_user,
        principal=state.jupyter_principal,
        handler=handler,
        agent=_agent(ctx, state),
    )


@contextlib.contextmanager
def _usage_errors_as_invalid_params(services: Services, given: str) -> Iterator[None]:
    """A UsageError (bad URI, path outside the root, no such notebook or cell, no permission) as
    the JSON-RPC error -32602 with its message."""
    try:
        yield
    except UsageError as error:
        raise MCPError(
            INVALID_PARAMS, services.paths.scrub(str(error), given=given), {"uri": given}
        ) from None


def _skipped_origin(params: Any, call: Call) -> str | None:
    """The origin whose changes a subscription is not told of: the caller's, if it asked so."""
    meta = getattr(params, "meta", None) or {}
    return call.agent.origin if meta.get(SKIP_OWN_CHANGES) is True and call.agent else None


def build_mcp_server(
    tools: list[Tool],
    services: Services,
    calls: InFlightCalls,
    tasks: ToolTasks,
    subscriptions: Subscriptions,
) -> Server:
    by_name = {tool.name: tool for tool in tools}
    definitions = [tool.definition() for tool in tools]

    async def list_tools(
        ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=definitions)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        tool = by_name.get(params.name)
        if tool is None:
            return _error(
                f"Unknown tool {params.name!r}. Available tools: {', '.join(sorted(by_name))}."
            )
        state = getattr(getattr(ctx, "request", None), "state", None)
        handler = getattr(state, "jupyter_handler", None)
        if state is None or handler is None:
            return _error(
                "This request did not come through the Jupyter server's authenticated endpoint."
            )
        try:
            arguments = tool.params.model_validate(params.arguments or {})
        except ValidationError as error:
            return _error(_validation_message(tool, error))

        async def report_progress(
            progress: float, total: float | None = None, message: str | None = None
        ) -> None:
            await ctx.session.report_progress(progress, total, message)

        call = Call(
            services=services,
            user=state.jupyter_user,
            principal=state.jupyter_principal,
            handler=handler,
            report_progress=report_progress,
            agent=_agent(ctx, state),
        )
        if calls.closed:
            return _error("The Jupyter server is shutting down; try again once it is back.")

        async def answer(call: Call) -> types.CallToolResult:
            try:
                with (
                    calls.track(),
                    acting_as(call.agent),
                    services.presence.working(call.agent),
                    services.undo.recording(call.agent, tool.name) as step,
                ):
                    await call.authorize(*tool.permission)
                    structured, text = await tool.run(call, arguments)
                    if step is not None:  # its description, when the call ends
                        step.result = structured
            except UsageError as error:
                return _error(services.paths.scrub(str(error), given=repr(params.arguments)))
            except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
                raise
            except (
                BaseException
            ) as error:  # a defect (even a Rust panic in pycrdt): still an answer, never a hang
                log.exception("MCP tool %s failed", tool.name)
                message = f"{tool.name} failed unexpectedly: {type(error).__name__}: {error}"
                return _error(services.paths.scrub(message, given=repr(params.arguments)))
            content = [types.TextContent(type="text", text=text)] if isinstance(text, str) else text
            structured = _structured(structured)
            warning = _unsaved_warning(services, structured.get("notebook_path"))
            if warning:
                structured["warnings"] = [*(structured.get("warnings") or []), warning]
                content = _with_warning(content, warning)
            return types.CallToolResult(content=content, structured_content=structured)

        if tasks.wanted(ctx, tool):
            # The SDK types tools/call results as core shapes; a task result passes at 2026-07-28.
            return cast(types.CallToolResult, tasks.start(call, answer))
        return await answer(call)

    def input_schema(name: str) -> dict[str, Any] | None:
        tool = by_name.get(name)
        return tool.input_schema if tool else None

    resources = NotebookResources(services)

    async def list_resources(
        ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        call = _request_call(ctx, services)
        with _usage_errors_as_invalid_params(services, ""):
            listed = await resources.list(call)
        session_id = ctx.request.headers.get("mcp-session-id")
        if session_id:  # a handshake-era session that lists is told when the list changes
            subscriptions.session(session_id, call.principal, ctx.session).wants_list = True
        return listed

    async def list_resource_templates(
        ctx: Any, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        return types.ListResourceTemplatesResult(resource_templates=TEMPLATES)

    async def read_resource(
        ctx: Any, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        call = _request_call(ctx, services)
        with _usage_errors_as_invalid_params(services, params.uri), acting_as(call.agent):
            return await resources.read(call, params.uri)

    async def subscribe_resource(
        ctx: Any, params: types.SubscribeRequestParams
    ) -> types.EmptyResult:
        call = _request_call(ctx, services)
        with _usage_errors_as_invalid_params(services, params.uri):
            named = await resources.checked(call, params.uri)
        # Keyed by the session id: ctx.session is a new object for every request.
        session_id = ctx.request.headers.get("mcp-session-id") or ""
        subscriber = subscriptions.session(session_id, call.principal, ctx.session)
        subscriptions.subscribe(subscriber, params.uri, named, _skipped_origin(params, call))
        return types.EmptyResult()

    async def unsubscribe_resource(
        ctx: Any, params: types.UnsubscribeRequestParams
    ) -> types.EmptyResult:
        call = _request_call(ctx, services)
        session_id = ctx.request.headers.get("mcp-session-id") or ""
        subscriptions.unsubscribe(
            subscriptions.session(session_id, call.principal, ctx.session), params.uri
        )
        return types.EmptyResult()

    async def listen(
        ctx: Any, params: types.SubscriptionsListenRequestParams
    ) -> types.SubscriptionsListenResult:
        call = _request_call(ctx, services)
        wanted = params.notifications
        checked = []
        for uri in wanted.resource_subscriptions or ():
            with _usage_errors_as_invalid_params(services, uri):
                checked.append((uri, await resources.checked(call, uri)))
        return await subscriptions.listen(
            ctx,
            call.principal,
            bool(wanted.resources_list_changed),
            checked,
            _skipped_origin(params, call),
        )

    server = _Server(
        "jupyter-mcp-ext",
        version=__version__,
        title="Jupyter (live notebooks)",
        instructions=instructions({tool.name for tool in tools}),
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        get_tool_input_schema=input_schema,
        on_list_resources=list_resources,
        on_list_resource_templates=list_resource_templates,
        on_read_resource=read_resource,
        on_subscribe_resource=subscribe_resource,
        on_unsubscribe_resource=unsubscribe_resource,
        on_subscriptions_listen=listen,
        lifespan=tasks.lifespan,
    )
    tasks.install(server)
    return server
