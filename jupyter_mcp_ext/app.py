"""The server extension: configuration traits and wiring, no logic."""

from __future__ import annotations

import ast
import os
import signal
import sys
from typing import TYPE_CHECKING

from jupyter_server.extension.application import ExtensionApp, ExtensionAppJinjaMixin
from jupyter_server.utils import url_path_join
from traitlets import Bool, Float, Int, List, TraitError, Unicode, validate

from . import embedding
from .context import CurrentNotebook, CurrentNotebooks
from .engine import ExecutionEngine, ExecutionSettings
from .handlers import (
    AgentUndoHandler,
    ConnectHandler,
    CurrentNotebookHandler,
    DemoHandler,
    MCPHandler,
    UIEventsSocket,
    add_oauth_discovery_answers,
    auth_help,
)
from .hub.client_tokens import HubServer
from .kernel_tools import EXECUTION_TOOLS
from .kernels import NotebookKernels
from .notebooks import LiveNotebooks
from .outputs import OutputLimits
from .presence import Presence
from .server import InFlightCalls, build_mcp_server
from .subscriptions import Subscriptions
from .tasks import ToolTasks
from .toolkit import Services, Tool
from .tools import NOTEBOOK_TOOLS
from .transport import SessionManagerHost
from .ui_events import UIEvents
from .undo import UndoHistories
from .worker_threads import stop_orphaned_worker_threads_at_exit
from .ydoc_rooms import YDocRooms

if TYPE_CHECKING:
    from jupyter_server.serverapp import ServerApp

HERE = os.path.dirname(__file__)

# Every tool of the extension, in the order tools/list shows them (less those disabled_tools names).
TOOLS: list[Tool] = [*NOTEBOOK_TOOLS, *EXECUTION_TOOLS]


class StringList(List):
    """A list of strings that the command line may also give as one list literal,
    ``--MCPExtensionApp.x='["a", "b"]'``, besides the repeated form ``--MCPExtensionApp.x=a --MCPExtensionApp.x=b``.

    Options of an extension reach it as strings the server could not interpret; traitlets' own
    ``List.from_string`` fails on them and the whole literal then became a single item.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(Unicode(), **kwargs)

    def from_string(self, s: str) -> list[str]:
        if not s.lstrip().startswith("["):
            return [s]
        try:
            items = ast.literal_eval(s)
        except (ValueError, SyntaxError):
            items = None
        if not (isinstance(items, list) and all(isinstance(item, str) for item in items)):
            raise TraitError(
                f'{self.name}: {s!r} is not a list of strings; write e.g. \'["a", "b"]\'.'
            )
        return items


def _checked_limit(proposal: dict, *, zero_allowed: bool) -> float:
    """A timeout's or cap's proposed value; a refusal names the option and what it accepts."""
    value, trait = proposal["value"], proposal["trait"]
    low_enough = value >= 0 if zero_allowed else value > 0
    if not (low_enough and value < float("inf")):  # NaN fails every comparison
        valid = "0 or a larger finite number" if zero_allowed else "a finite number greater than 0"
        raise TraitError(
            f"MCPExtensionApp.{trait.name}: {value!r} is not valid; it must be {valid} "
            f"(the default is {trait.default_value!r})."
        )
    return value


def _stop_on_sigint_without_a_terminal() -> None:
    """Make SIGINT stop the server as SIGTERM does when it has no terminal.

    Jupyter handles SIGINT only with a terminal; otherwise Python's KeyboardInterrupt stops the
    event loop without the server's cleanup (agent edits unsaved, the process stuck on worker
    threads). JupyterHub's local spawners stop servers with SIGINT.
    """
    if sys.stdin is not None and sys.stdin.isatty():
        return
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, lambda *_: os.kill(os.getpid(), signal.SIGTERM))


class MCPExtensionApp(ExtensionAppJinjaMixin, ExtensionApp):
    """Serves MCP at ``{base_url}mcp`` on the Jupyter server's own port."""

    name = "jupyter_mcp_ext"
    load_other_extensions = True
    template_paths = [os.path.join(HERE, "templates")]  # noqa: RUF012  (ExtensionApp reads these class lists)
    static_paths = [os.path.join(HERE, "static")]  # noqa: RUF012

    endpoint_path = Unicode(
        "mcp",
        config=True,
        help="""URL path of the MCP endpoint, relative to the server's base_url.
        Defaults to 'mcp', i.e. http://host:8888/mcp.""",
    )

    session_idle_timeout = Float(
        1800,
        config=True,
        help="""Seconds after which a handshake-era MCP session (one with an Mcp-Session-Id)
        that has no request in flight is closed; its id then answers 404 and the client
        initializes again. Defaults to 1800 (30 minutes). Must be > 0.""",
    )

    max_request_body_size = Int(
        4 * 1024 * 1024,
        config=True,
        help="""Largest MCP request body accepted, in bytes; larger requests get HTTP 413.
        Defaults to 4 MiB.""",
    )

    disabled_tools = List(
        Unicode(),
        default_value=[],
        config=True,
        help="""Names of tools that are not offered to agents (e.g. ["delete_cell"]).
        Disabled tools are absent from tools/list and refused by tools/call.""",
    )

    room_idle_close_delay = Float(
        60,
        config=True,
        help="""Seconds a notebook room that this extension opened itself (no browser had the
        notebook open) stays in memory after the agent's last use. When it closes, pending
        agent edits are saved to disk first. Rooms a browser joined are left to
        jupyter_server_ydoc's own cleanup. 0 closes it right after the agent's last use.
        Defaults to 60.""",
    )

    presence_idle_time = Float(
        60,
        config=True,
        help="""Seconds after an agent's last edit or run in a notebook at which it leaves the
        notebook's collaborators (people see it there while it works, with its name, colour and
        cell). It also leaves when its MCP session ends. Defaults to 60. Must be > 0.""",
    )

    undo_history_size = Int(
        100,
        config=True,
        help="""Steps each agent can undo in each notebook (a step is one tool call that changed
        the notebook); older steps are forgotten. The history lives with the notebook's live
        document: it ends when the notebook's room closes (room_idle_close_delay after the
        agent's last use when no browser has it open, else jupyter_server_ydoc's
        document_cleanup_delay after the last browser left). Defaults to 100. Must be >= 1.""",
    )

    @validate("undo_history_size")
    def _valid_history_size(self, proposal: dict) -> int:
        if proposal["value"] < 1:
            raise TraitError(
                f"MCPExtensionApp.undo_history_size must be >= 1, not {proposal['value']}."
            )
        return proposal["value"]

    change_history_size = Int(
        100,
        config=True,
        help="""How many of the revisions given to agents (with every read and edit) each live
        notebook keeps the cells of, so that get_notebook_changes can tell what changed since
        one of them; for an older one the agent is told to read the notebook again. Edits with
        expected_revision work with any revision of the live notebook. Defaults to 100. Must be
        >= 1.""",
    )

    max_output_chars = Int(
        2000,
        config=True,
        help="""Largest number of characters of one text output in a tool result (reading or
        running cells); longer outputs keep their head and tail, with a note of what was cut.
        The notebook itself always keeps the whole output. Defaults to 2000.""",
    )

    max_total_output_chars = Int(
        20000,
        config=True,
        help="""Largest number of characters of output text in one execution result, over all
        its outputs. Defaults to 20000.""",
    )

    max_images = Int(
        4,
        config=True,
        help="""Largest number of images (PNG, JPEG) returned as image content by one execution
        result; further images are listed as omitted (0: all of them). Defaults to 4.""",
    )

    max_image_bytes = Int(
        1024 * 1024,
        config=True,
        help="""Largest size in bytes of one image returned as image content; larger images are
        listed as omitted. Defaults to 1 MiB.""",
    )

    execution_timeout = Float(
        120,
        config=True,
        help="""Seconds an execution may run when the agent gives no timeout; then the kernel
        is interrupted and the outputs so far are returned. Defaults to 120.""",
    )

    max_execution_timeout = Float(
        3600,
        config=True,
        help="""Largest timeout (seconds) an agent may ask for one execution. Defaults to 3600.""",
    )

    task_ttl = Float(
        3600,
        config=True,
        help="""Seconds a finished task (a run started for a client of the MCP tasks extension)
        stays known after its run ended: until then tasks/get returns its result, afterwards its
        id is unknown. The ttlMs a task reports counts from its creation, as the extension
        defines it: the run's duration (so far) plus this. Defaults to 3600 (1 hour).""",
    )

    client_token_expires_in = Int(
        7 * 24 * 3600,
        config=True,
        help="""Seconds a token made with "Connect an AI agent" in JupyterLab stays valid (only on
        JupyterHub, whose server token must then hold the scope 'tokens!user'). Defaults to 604800
        (7 days); the hub's own token_expires_in_max_seconds, if set, must allow it.""",
    )

    # Timeouts and caps: at 0 or below they would cut off every session, request, output or run.
    @validate(
        "session_idle_timeout",
        "max_request_body_size",
        "max_output_chars",
        "max_total_output_chars",
        "max_image_bytes",
        "execution_timeout",
        "max_execution_timeout",
        "task_ttl",
        "client_token_expires_in",
        "presence_idle_time",
        "change_history_size",
    )
    def _valid_positive_limit(self, proposal: dict) -> float:
        return _checked_limit(proposal, zero_allowed=False)

    # Zero has a meaning here: close the room at once, return no image content.
    @validate("room_idle_close_delay", "max_images")
    def _valid_limit_or_zero(self, proposal: dict) -> float:
        return _checked_limit(proposal, zero_allowed=True)

    allowed_frame_origins = StringList(
        default_value=[],
        config=True,
        help="""Origins (scheme://host[:port]) of web pages allowed to embed JupyterLab in an
        <iframe> and to talk to it with postMessage (open a notebook, learn the active one).
        On the command line: --MCPExtensionApp.allowed_frame_origins='["https://a.example"]',
        or the option once per origin. An invalid origin stops the server from starting.
        They are added to the Content-Security-Policy frame-ancestors header and passed to the
        JupyterLab extension. Defaults to none: only pages of this server's own origin.
        The embedding page must be same-site with JupyterLab (same host name, any port):
        browsers do not send Jupyter's login cookie to cross-site iframes.""",
    )

    @validate("allowed_frame_origins")
    def _valid_origins(self, proposal: dict) -> list[str]:
        try:
            return [embedding.check_origin(origin) for origin in proposal["value"]]
        except ValueError as error:
            raise TraitError(f"MCPExtensionApp.allowed_frame_origins: {error}") from None

    demo_page = Bool(
        True,
        config=True,
        help="""Serve the demo page at {base_url}mcp/demo: JupyterLab in an iframe beside buttons
        that call this server's MCP endpoint with the logged-in user's credentials.""",
    )

    def _link_jupyter_server_extension(self, serverapp) -> None:
        # The server only logs an extension that fails to link and runs on without it: with a
        # refused option (e.g. a security setting) it must not start at all.
        try:
            super()._link_jupyter_server_extension(serverapp)
        except TraitError as error:
            serverapp.log.critical(
                "MCP: invalid configuration, the server does not start: %s", error
            )
            self.exit(1)

    @property
    def _server(self) -> ServerApp:
        """The Jupyter server this extension is linked to (set before settings and handlers)."""
        assert self.serverapp is not None
        return self.serverapp

    def initialize_settings(self) -> None:
        stop_orphaned_worker_threads_at_exit(self.log)
        self.hub = HubServer.from_environment()
        rooms = YDocRooms(self._server)
        undo = UndoHistories(self.undo_history_size)
        live = LiveNotebooks(
            rooms,
            self._server.contents_manager,
            self.log,
            idle_close_delay=self.room_idle_close_delay,
            on_edit=undo.track,
        )
        ui = UIEvents()
        subscriptions = Subscriptions(rooms)

        def current_changed(principal: str, current: CurrentNotebook) -> None:
            ui.current_changed(principal, current)
            subscriptions.list_changed(principal)

        current = CurrentNotebooks(on_change=current_changed)
        kernels = NotebookKernels(self.serverapp, self.log)
        services = Services(
            serverapp=self.serverapp,
            notebooks=live,
            kernels=kernels,
            current=current,
            ui=ui,
            max_output_chars=self.max_output_chars,
            change_history_size=self.change_history_size,
            execution=ExecutionEngine(
                live,
                kernels,
                ExecutionSettings(
                    default_timeout=min(self.execution_timeout, self.max_execution_timeout),
                    max_timeout=self.max_execution_timeout,
                    output_limits=OutputLimits(
                        max_output_chars=self.max_output_chars,
                        max_total_chars=self.max_total_output_chars,
                        max_images=self.max_images,
                        max_image_bytes=self.max_image_bytes,
                    ),
                ),
            ),
            presence=Presence(rooms, self.log, idle_time=self.presence_idle_time),
            undo=undo,
        )
        offered = [tool for tool in TOOLS if tool.name not in set(self.disabled_tools)]
        unknown = set(self.disabled_tools) - {tool.name for tool in TOOLS}
        if unknown:
            self.log.warning(
                "MCP: disabled_tools names unknown tools: %s", ", ".join(sorted(unknown))
            )
        self.tool_calls = InFlightCalls()
        self.subscriptions = subscriptions
        subscriptions.start()
        server = build_mcp_server(
            offered, services, self.tool_calls, ToolTasks(self.task_ttl), subscriptions
        )
        embedding.configure(
            self._server.web_app.settings,
            origins=self.allowed_frame_origins,
            mcp_path=self._endpoint,
            log=self.log,
        )
        self.services = services
        self.live_notebooks = live
        self.notebook_kernels = kernels
        self.session_host = SessionManagerHost(
            server,
            session_idle_timeout=self.session_idle_timeout,
            max_request_body_size=self.max_request_body_size,
            log=self.log,
            on_session_end=self._session_ended,
        )

    def _session_ended(self, session_id: str) -> None:
        self.services.presence.session_ended(session_id)
        self.subscriptions.session_ended(session_id)

    @property
    def _endpoint(self) -> str:
        return self.endpoint_path.strip("/")

    def initialize_handlers(self) -> None:
        path = url_path_join("/", self._endpoint)
        hub = self.hub
        mcp = {"session_host": self.session_host, "auth_help": auth_help(hub)}
        self.handlers.append((path, MCPHandler, mcp))
        services = self.services
        current_notebook = {"current": services.current, "paths": services.paths, "ui": services.ui}
        self.handlers.append(
            (url_path_join(path, "current-notebook"), CurrentNotebookHandler, current_notebook)
        )
        self.handlers.append(
            (url_path_join(path, "ui-events"), UIEventsSocket, {"ui": self.services.ui})
        )
        agent_undo = {
            "notebooks": services.notebooks,
            "undo": services.undo,
            "paths": services.paths,
        }
        self.handlers.append((url_path_join(path, "agent-undo"), AgentUndoHandler, agent_undo))
        connect = {
            "mcp_path": url_path_join(self._server.base_url, self._endpoint),
            "hub": hub,
            "token_expires_in": self.client_token_expires_in,
        }
        self.handlers.append((url_path_join(path, "connect"), ConnectHandler, connect))
        if self.demo_page:
            self.handlers.append(
                (url_path_join(path, "demo"), DemoHandler, {"mcp_path": self._endpoint})
            )
        add_oauth_discovery_answers(self._server.web_app)

    @property
    def mcp_url(self) -> str:
        return url_path_join(self._server.connection_url, self._endpoint)

    async def _start_jupyter_server_extension(self, serverapp) -> None:
        await self.session_host.start()
        _stop_on_sigint_without_a_terminal()
        token = "a hub token that may access this server" if self.hub else "the Jupyter token"
        self.log.info(
            "MCP endpoint: %s (send %s as 'Authorization: Bearer <token>')", self.mcp_url, token
        )

    async def _cancel_tool_calls(self) -> None:
        await self.tool_calls.cancel_all(timeout=5)

    async def _stop_presence(self) -> None:
        self.services.presence.stop()

    async def _stop_subscriptions(self) -> None:
        self.subscriptions.stop()

    async def stop_extension(self) -> None:
        # Never raise here: an exception would keep the server from stopping.
        stops = (
            self._cancel_tool_calls,
            self._stop_presence,
            self._stop_subscriptions,
            self.live_notebooks.stop,
            self.session_host.stop,
            self.notebook_kernels.stop,
        )
        for stop in stops:
            try:
                await stop()
            except Exception:
                self.log.exception("MCP: error while stopping")
