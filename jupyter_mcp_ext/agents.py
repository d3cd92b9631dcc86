"""Who changes a notebook: each agent is one MCP session (or, for a client of the sessionless
protocol, one MCP client of a user), with a name people can read and a transaction origin of its
own, so that presence, undo and "who changed what" can tell agents apart from each other and
from the people in the notebook.

A tool call runs as its agent (``acting_as``); everything it changes in a shared document carries
that agent's origin (``current_origin``), also what it changes later from tasks it started (they
inherit the context), such as the outputs of a run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

# Every origin of an agent's transactions starts with this; a person's edits come from clients
# (no origin of ours).
AGENT_ORIGIN = "jupyter-mcp-ext"
UNNAMED_CLIENT = "MCP client"


@dataclass(frozen=True)
class Agent:
    principal: str  # the Jupyter user it acts for (handlers.principal)
    user_name: str  # how people know that user
    client: str  # the MCP client's name from its clientInfo
    session: str  # the MCP session id; empty for the sessionless protocol

    @property
    def origin(self) -> str:
        """The origin of this agent's transactions: unique per agent, stable across its calls."""
        return f"{AGENT_ORIGIN}:{self.principal}:{self.session or 'client=' + self.client}"

    @property
    def name(self) -> str:
        """What people see: what it is and for whom, e.g. 'Claude Code · agent of alice'."""
        return f"{self.client} · agent of {self.user_name}"


def agent_of(principal: str, user_name: str, client_info: Any, session_id: str | None) -> Agent:
    """The agent behind a request, from what the protocol tells of its client."""
    name = getattr(client_info, "title", None) or getattr(client_info, "name", None)
    return Agent(
        principal=principal,
        user_name=user_name or principal,
        client=str(name).strip()[:80] if name else UNNAMED_CLIENT,
        session=session_id or "",
    )


def is_agent_origin(origin: Any) -> bool:
    return isinstance(origin, str) and origin.startswith(AGENT_ORIGIN)


_acting: ContextVar[Agent | None] = ContextVar("jupyter_mcp_ext_agent", default=None)


@contextlib.contextmanager
def acting_as(agent: Agent | None) -> Iterator[Agent | None]:
    token = _acting.set(agent)
    try:
        yield agent
    finally:
        _acting.reset(token)


def current_agent() -> Agent | None:
    return _acting.get()


def current_origin() -> str:
    """The origin for a transaction made now: the acting agent's, else the extension's own."""
    agent = _acting.get()
    return agent.origin if agent is not None else AGENT_ORIGIN
