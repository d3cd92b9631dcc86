"""The server extension: configuration traits and wiring, no logic."""

from __future__ import annotations

from jupyter_server.extension.application import ExtensionApp
from jupyter_server.utils import url_path_join
from traitlets import Float, Int, List, Unicode

from .context import CurrentNotebooks
from .handlers import MCPHandler
from .notebooks import LiveNotebooks
from .server import build_mcp_server
from .tools import TOOLS, Services
from .transport import SessionManagerHost


class MCPExtensionApp(ExtensionApp):
    """Serves MCP at ``{base_url}mcp`` on the Jupyter server's own port."""

    name = "jupyter_mcp_ext"
    load_other_extensions = True

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
        jupyter_server_ydoc's own cleanup. Defaults to 60.""",
    )

    max_output_chars = Int(
        2000,
        config=True,
        help="""Largest number of characters of one text output returned by reading tools;
        longer outputs are cut with a note saying how much was left out. Defaults to 2000.""",
    )

    def initialize_settings(self) -> None:
        live = LiveNotebooks(self.serverapp, self.log, idle_close_delay=self.room_idle_close_delay)
        services = Services(
            serverapp=self.serverapp,
            notebooks=live,
            current=CurrentNotebooks(),
            max_output_chars=self.max_output_chars,
        )
        tools = [tool for tool in TOOLS if tool.name not in set(self.disabled_tools)]
        unknown = set(self.disabled_tools) - {tool.name for tool in TOOLS}
        if unknown:
            self.log.warning("MCP: disabled_tools names unknown tools: %s", ", ".join(sorted(unknown)))
        server = build_mcp_server(tools, services)
        self.live_notebooks = live
        self.session_host = SessionManagerHost(
            server,
            session_idle_timeout=self.session_idle_timeout,
            max_request_body_size=self.max_request_body_size,
            log=self.log,
        )

    def initialize_handlers(self) -> None:
        path = url_path_join("/", self.endpoint_path.strip("/"))
        self.handlers.append((path, MCPHandler, {"session_host": self.session_host}))

    @property
    def mcp_url(self) -> str:
        return url_path_join(self.serverapp.connection_url, self.endpoint_path.strip("/"))

    async def _start_jupyter_server_extension(self, serverapp) -> None:
        await self.session_host.start()
        self.live_notebooks.start()
        self.log.info("MCP endpoint: %s (send the Jupyter token as 'Authorization: Bearer <token>')", self.mcp_url)

    async def stop_extension(self) -> None:
        # Never raise here: an exception would keep the server from stopping.
        for stop in (self.live_notebooks.stop, self.session_host.stop):
            try:
                await stop()
            except Exception:
                self.log.exception("MCP: error while stopping")
