"""The user's current notebook and the JupyterLab side of it, seen from outside: the REST API
(``{base_url}mcp/current-notebook``), the UI events the JupyterLab extension listens to
(``{base_url}mcp/ui-events``), the embedding configuration (CSP ``frame-ancestors``, page config),
the demo page, and the installed labextension.

Real server, real SDK client, raw HTTP; UI events are read over the real websockets, and a pycrdt
peer on the collaboration websocket stands in for a browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
import websockets
from conftest import call, call_error, login_with_cookie
from jupyter_server.auth import Authorizer, IdentityProvider, User
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from peer import open_peer
from support import MCP_ACCEPT, initialize_request
from tool_helpers import invoke
from traitlets import TraitError

UI_ACTIONS = {"current-changed", "open-notebook", "show-cell"}
OWNER = "server-owner"  # who a token holder is, with Jupyter's own identity provider
ABSENCE_WAIT = 1.0  # seconds to wait before concluding that an event was not pushed


# -- helpers -------------------------------------------------------------------------------------


@pytest.fixture
def api(server_url: str, token: str):
    """``async with api() as http:`` — an HTTP client sending the token (none with authenticated=False)."""

    @contextlib.asynccontextmanager
    async def connect(*, authenticated: bool = True) -> AsyncIterator[httpx2.AsyncClient]:
        headers = {"Authorization": f"token {token}"} if authenticated else {}
        async with httpx2.AsyncClient(headers=headers, timeout=30, follow_redirects=False) as http:
            yield http

    return connect


@pytest.fixture
def current_url(server_url: str) -> str:
    return server_url + "mcp/current-notebook"


def error_message(response: httpx2.Response) -> str:
    assert response.headers["content-type"].startswith("application/json"), response.text
    return response.json()["message"]


class EventBus:
    """The UI events a JupyterLab window receives on a websocket."""

    def __init__(self, websocket: Any) -> None:
        self._websocket = websocket
        self._unclaimed: list[dict[str, Any]] = []  # UI events received and not yet expected

    @staticmethod
    def _matches(event: dict[str, Any], match: dict[str, Any]) -> bool:
        return all(event.get(key, object()) == value for key, value in match.items())

    async def _receive(self, timeout: float) -> bool:
        """Read one message (keeping it if it is a UI event); False when none came in time."""
        try:
            raw = await asyncio.wait_for(self._websocket.recv(), timeout)
        except asyncio.TimeoutError:
            return False
        event = json.loads(raw)
        if event.get("action") in UI_ACTIONS:
            self._unclaimed.append(event)
        return True

    async def expect(self, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        """The first UI event (received or to come) with these fields; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self._unclaimed:
                if self._matches(event, match):
                    self._unclaimed.remove(event)
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not await self._receive(remaining):
                raise AssertionError(
                    f"no UI event with {match} within {timeout} s; got {self._unclaimed}"
                )

    async def expect_none(self, within: float = ABSENCE_WAIT, **match: Any) -> None:
        """No UI event with these fields arrives (or has arrived) within ``within`` seconds."""
        deadline = time.monotonic() + within
        while (remaining := deadline - time.monotonic()) > 0:
            await self._receive(remaining)
        unexpected = [event for event in self._unclaimed if self._matches(event, match)]
        assert not unexpected, f"unexpected UI events: {unexpected}"


UI_EVENTS = "mcp/ui-events"
JUPYTER_EVENT_BUS = "api/events/subscribe"


@pytest.fixture
def event_bus(server_url: str, token: str):
    """``async with event_bus() as bus:`` — subscribed to ``mcp/ui-events`` as JupyterLab is
    (``as_token=`` another user's token; ``path=`` another websocket, e.g. Jupyter's event bus)."""

    @contextlib.asynccontextmanager
    async def subscribe(
        *, as_token: str | None = None, path: str = UI_EVENTS
    ) -> AsyncIterator[EventBus]:
        url = "ws" + server_url.removeprefix("http") + path
        headers = {"Authorization": f"token {as_token or token}"}
        async with websockets.connect(url, additional_headers=headers, proxy=None) as websocket:
            yield EventBus(websocket)

    return subscribe


# -- the REST API --------------------------------------------------------------------------------


async def test_current_notebook_api_refuses_anonymous_requests_like_jupyters_own_api(
    api, server_url, current_url
):
    async with api(authenticated=False) as http:
        mine = await http.get(current_url)
        contents = await http.get(server_url + "api/contents")
        put = await http.put(current_url, json={"path": None})
    assert mine.status_code == contents.status_code == 403
    assert put.status_code == 403


async def test_current_notebook_is_none_until_chosen(api, current_url):
    async with api() as http:
        response = await http.get(current_url)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {
        "path": None,
        "source": None,
        "updated_at": None,
        "window": None,
        "principal": OWNER,
    }


async def test_a_reported_notebook_is_what_path_less_tool_calls_act_on(
    api, current_url, mcp_client, make_notebook
):
    make_notebook("a.ipynb", [("markdown", "# A")])
    make_notebook("sub/c.ipynb")
    async with api() as http:
        before = time.time()
        put = await http.put(current_url, json={"path": "a.ipynb", "window": "w1"})
        assert put.status_code == 200, put.text
        assert put.json()["path"] == "a.ipynb" and put.json()["source"] == "w1"
        assert before <= put.json()["updated_at"] <= time.time()
        assert (await http.get(current_url)).json() == put.json()
    async with mcp_client() as client:
        info = await invoke(client, "get_notebook_info", expect_path="a.ipynb")
        assert info["cells_by_type"]["markdown"] == 1
        listing = await invoke(client, "list_notebooks")
        assert listing["current_notebook"] == "a.ipynb"

    # Paths are normalized as the tools normalize them.
    async with api() as http:
        put = await http.put(current_url, json={"path": "./sub//c.ipynb"})
    assert put.status_code == 200, put.text
    assert put.json()["path"] == "sub/c.ipynb" and put.json()["source"] == "api"
    async with mcp_client() as client:
        await invoke(client, "get_notebook_info", expect_path="sub/c.ipynb")


async def test_reporting_a_missing_notebook_is_refused_with_close_matches(
    api, current_url, make_notebook
):
    make_notebook("analysis.ipynb")
    async with api() as http:
        await http.put(current_url, json={"path": "analysis.ipynb"})
        response = await http.put(current_url, json={"path": "analysys.ipynb"})
        assert response.status_code == 400
        message = error_message(response)
        assert "'analysys.ipynb' does not exist" in message
        assert "'analysis.ipynb'" in message  # the close match
        # A refused report leaves the current notebook as it was.
        assert (await http.get(current_url)).json()["path"] == "analysis.ipynb"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("../x.ipynb", "'..' may not be used"),
        ("/tmp/x.ipynb", "Absolute path '/tmp/x.ipynb' refused"),
        ("notes.txt", "'notes.txt' is not a notebook"),
        ("folder.ipynb", "'folder.ipynb' is a directory"),
        ("folder", "'folder' is not a notebook"),
    ],
    ids=["parent", "absolute", "not-a-notebook", "directory-named-ipynb", "directory"],
)
async def test_reporting_a_path_that_is_not_a_notebook_in_the_root_is_refused(
    api, current_url, jp_root_dir, path, expected
):
    (jp_root_dir / "notes.txt").write_text("not a notebook")
    (jp_root_dir / "folder.ipynb").mkdir()
    (jp_root_dir / "folder").mkdir()
    async with api() as http:
        response = await http.put(current_url, json={"path": path})
        assert response.status_code == 400
        assert expected in error_message(response)
        assert (await http.get(current_url)).json()["path"] is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", ['"path"']),  # what a valid body looks like
        (b"", ["JSON object", '{"path": "folder/notebook.ipynb"}']),
        (b'["a.ipynb"]', ["JSON object"]),
        (b'{"open": true}', ["A 'path' is needed", "only a 'window' may be sent alone"]),
        (b'{"path": "a.ipynb", "focus": true}', ["'focus'", "valid keys: path, window, open"]),
        (b'{"path": 3}', ["'path' must be a string or null"]),
        (b'{"path": ["a.ipynb"]}', ["'path' must be a string or null"]),
        (
            json.dumps({"path": "a.ipynb", "window": "w" * 101}).encode(),
            ["'window'", "1-100 characters"],
        ),
        (b'{"path": "a.ipynb", "window": ""}', ["'window'", "1-100 characters"]),
        (b'{"path": "a.ipynb", "window": 7}', ["'window'", "1-100 characters"]),
        (b'{"path": "a.ipynb", "open": "yes"}', ["'open' must be true or false"]),
    ],
    ids=[
        "bad-json",
        "empty",
        "not-an-object",
        "no-path",
        "unknown-key",
        "path-number",
        "path-list",
        "window-too-long",
        "window-empty",
        "window-number",
        "open-not-bool",
    ],
)
async def test_a_malformed_report_is_refused_naming_what_is_valid(
    api, current_url, make_notebook, body, expected
):
    make_notebook("a.ipynb")
    async with api() as http:
        response = await http.put(
            current_url, content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400
        message = error_message(response)
        for part in expected:
            assert part in message, message
        assert (await http.get(current_url)).json()["path"] is None


async def test_reporting_null_clears_the_current_notebook(
    api, current_url, mcp_client, make_notebook
):
    make_notebook("a.ipynb")
    async with api() as http:
        assert (
            await http.put(current_url, json={"path": "a.ipynb", "window": "w1"})
        ).status_code == 200
        cleared = await http.put(current_url, json={"path": None, "window": "w1"})
        assert cleared.status_code == 200
        assert cleared.json()["path"] is None
        assert (await http.get(current_url)).json()["path"] is None
    async with mcp_client() as client:
        message = await call_error(client, "get_notebook_info")
        listing = await invoke(client, "list_notebooks")
    assert "notebook_path" in message and "prepare_notebook" in message
    assert listing["current_notebook"] is None


async def test_the_newer_of_a_report_and_prepare_notebook_wins(
    api, current_url, mcp_client, make_notebook
):
    make_notebook("a.ipynb")
    make_notebook("b.ipynb")
    async with api() as http, mcp_client() as client:
        # A window reports a, then an agent prepares b: b.
        assert (
            await http.put(current_url, json={"path": "a.ipynb", "window": "w1"})
        ).status_code == 200
        await invoke(client, "prepare_notebook", notebook_path="b.ipynb")
        await invoke(client, "get_notebook_info", expect_path="b.ipynb")
        state = (await http.get(current_url)).json()
        assert (state["path"], state["source"]) == ("b.ipynb", "agent")

        # The agent prepares b, then the window reports a: a.
        await invoke(client, "prepare_notebook", notebook_path="b.ipynb")
        assert (
            await http.put(current_url, json={"path": "a.ipynb", "window": "w1"})
        ).status_code == 200
        await invoke(client, "get_notebook_info", expect_path="a.ipynb")
        later = (await http.get(current_url)).json()
        assert (later["path"], later["source"]) == ("a.ipynb", "w1")
        assert later["updated_at"] >= state["updated_at"]


async def test_a_cookie_report_without_the_xsrf_header_is_refused(
    server_url, current_url, token, make_notebook
):
    make_notebook("a.ipynb")
    make_notebook("b.ipynb")
    async with httpx2.AsyncClient(timeout=30) as browser_like:
        xsrf = await login_with_cookie(browser_like, server_url, token)
        refused = await browser_like.put(current_url, json={"path": "a.ipynb"})
        assert refused.status_code == 403
        assert "xsrf" in error_message(refused).lower()
        assert (await browser_like.get(current_url)).json()["path"] is None
        # The same request as JupyterLab sends it (with the header) is accepted.
        accepted = await browser_like.put(
            current_url, json={"path": "b.ipynb"}, headers={"X-XSRFToken": xsrf}
        )
        assert accepted.status_code == 200, accepted.text
        assert (await browser_like.get(current_url)).json()["path"] == "b.ipynb"


# -- UI events --------------------------------------------------------------------------------------


async def test_prepare_notebook_opens_it_in_the_window_used_last(
    api, current_url, event_bus, mcp_client, make_notebook
):
    make_notebook("a.ipynb")
    make_notebook("b.ipynb")
    async with event_bus() as bus, api() as http, mcp_client() as client:
        assert (
            await http.put(current_url, json={"path": "a.ipynb", "window": "w1"})
        ).status_code == 200
        reported = await bus.expect(action="current-changed", path="a.ipynb")
        assert (reported["source"], reported["principal"]) == ("w1", OWNER)

        await invoke(client, "prepare_notebook", notebook_path="b.ipynb")
        opened = await bus.expect(action="open-notebook")
        assert (opened["path"], opened["window"], opened["principal"]) == ("b.ipynb", "w1", OWNER)
        changed = await bus.expect(action="current-changed", path="b.ipynb")
        assert (changed["source"], changed["principal"]) == ("agent", OWNER)


async def test_open_requests_go_to_the_window_turned_to_last_or_to_all_once_it_closed(
    api, current_url, event_bus, mcp_client, make_notebook
):
    make_notebook("a.ipynb")
    make_notebook("b.ipynb")
    async with event_bus() as bus, api() as http, mcp_client() as client:
        assert (
            await http.put(current_url, json={"path": "a.ipynb", "window": "w1"})
        ).status_code == 200
        # The user turns to a window showing no notebook: the current notebook stays, the window moves.
        turned = await http.put(current_url, json={"window": "w2"})
        assert turned.status_code == 200
        assert {k: turned.json()[k] for k in ("path", "source", "window")} == {
            "path": "a.ipynb",
            "source": "w1",
            "window": "w2",
        }
        await bus.expect(action="current-changed", path="a.ipynb", window="w2")
        await invoke(client, "prepare_notebook", notebook_path="b.ipynb")
        assert (await bus.expect(action="open-notebook"))["window"] == "w2"

        # A window that closes is forgotten only if it was the one used last.
        assert (await http.delete(current_url, params={"window": "w1"})).json()["window"] == "w2"
        assert (await http.delete(current_url, params={"window": "w2"})).json()["window"] is None
        await invoke(client, "prepare_notebook", notebook_path="a.ipynb")
        opened = await bus.expect(action="open-notebook", path="a.ipynb")
        assert opened["window"] is None  # every window of the user opens it

        missing = await http.delete(current_url)
        assert missing.status_code == 400
        assert "window=<client id>" in error_message(missing)


async def test_a_report_with_open_opens_the_notebook_in_jupyterlab(
    api, current_url, event_bus, make_notebook
):
    make_notebook("a.ipynb")
    async with event_bus() as bus, api() as http:
        response = await http.put(current_url, json={"path": "a.ipynb", "open": True})
        assert response.status_code == 200, response.text
        opened = await bus.expect(action="open-notebook")
        # No window has reported yet: every window of the user may act on it.
        assert (opened["path"], opened["window"], opened["principal"]) == ("a.ipynb", None, OWNER)
        changed = await bus.expect(action="current-changed", path="a.ipynb")
        assert changed["source"] == "api"


async def test_a_report_from_a_window_does_not_reopen_the_notebook(
    api, current_url, event_bus, make_notebook
):
    make_notebook("a.ipynb")
    make_notebook("b.ipynb")
    async with event_bus() as bus, api() as http:
        response = await http.put(
            current_url, json={"path": "a.ipynb", "window": "w1", "open": False}
        )
        assert response.status_code == 200, response.text
        assert (await bus.expect(action="current-changed", path="a.ipynb"))["source"] == "w1"
        await bus.expect_none(action="open-notebook")

        # The bus is alive: a platform's request to open b goes to the window used last.
        assert (
            await http.put(current_url, json={"path": "b.ipynb", "open": True})
        ).status_code == 200
        opened = await bus.expect(action="open-notebook")
        assert (opened["path"], opened["window"]) == ("b.ipynb", "w1")


async def test_agent_edits_in_a_notebook_on_screen_show_the_cell(
    event_bus, browser, mcp_client, make_notebook
):
    make_notebook("a.ipynb", [("markdown", "# Title"), ("code", "x = 1")])
    async with browser("a.ipynb") as peer, event_bus() as bus, mcp_client() as client:
        appended = await call(
            client, "append_code_cell", notebook_path="a.ipynb", source="print(x)"
        )
        shown = await bus.expect(action="show-cell")
        assert shown == {
            "action": "show-cell",
            "principal": OWNER,
            "path": "a.ipynb",
            "cell_id": appended["cell_id"],
            "cell_index": 2,
            "reason": "edit",
        }
        await peer.wait_until(lambda: peer.sources()[-1] == "print(x)")

        first = peer.cell_ids()[1]
        await call(
            client, "overwrite_cell_source", notebook_path="a.ipynb", cell_index=1, source="x = 2"
        )
        shown = await bus.expect(action="show-cell")
        assert (shown["cell_id"], shown["cell_index"], shown["reason"]) == (first, 1, "edit")

        await call(
            client,
            "edit_cell_source",
            notebook_path="a.ipynb",
            cell_id=appended["cell_id"],
            old_text="x",
            new_text="x * 2",
        )
        shown = await bus.expect(action="show-cell")
        assert (shown["cell_id"], shown["cell_index"]) == (appended["cell_id"], 2)

        await call(
            client, "move_cell", notebook_path="a.ipynb", cell_id=appended["cell_id"], to_index=0
        )
        shown = await bus.expect(action="show-cell")
        assert (shown["cell_id"], shown["cell_index"]) == (appended["cell_id"], 0)


async def test_agent_runs_in_a_notebook_on_screen_show_the_cell_as_it_starts(
    event_bus, browser, mcp_client, make_notebook
):
    make_notebook("a.ipynb", [("code", "import time")])
    async with browser("a.ipynb"), event_bus() as bus, mcp_client() as client:
        ran = await call(client, "execute_cell", notebook_path="a.ipynb", cell_index=0, timeout=60)
        shown = await bus.expect(action="show-cell", reason="execute")
        assert (shown["cell_id"], shown["cell_index"]) == (ran["cell_id"], 0)

        # Shown when it starts, not when it ends: the event comes while a slow cell still runs.
        running = asyncio.ensure_future(
            call(
                client,
                "insert_execute_code_cell",
                notebook_path="a.ipynb",
                source="time.sleep(3)",
                timeout=60,
            )
        )
        try:
            shown = await bus.expect(action="show-cell", reason="execute", timeout=2.5)
            assert not running.done()
            assert shown["cell_index"] == 1
        finally:
            inserted = await running
        assert shown["cell_id"] == inserted["cell_id"]


async def test_agent_edits_in_a_notebook_nobody_has_open_show_nothing(
    event_bus, browser, mcp_client, make_notebook
):
    make_notebook("a.ipynb", [("code", "x = 1")])
    make_notebook("b.ipynb", [("code", "y = 1")])
    async with browser("a.ipynb"), event_bus() as bus, mcp_client() as client:
        await call(client, "append_code_cell", notebook_path="b.ipynb", source="y")
        await call(
            client, "overwrite_cell_source", notebook_path="b.ipynb", cell_index=0, source="y = 2"
        )
        await bus.expect_none(action="show-cell")

        # The same edit in the notebook the browser has open is shown: the bus was listening.
        appended = await call(client, "append_code_cell", notebook_path="a.ipynb", source="x")
        shown = await bus.expect(action="show-cell")
        assert (shown["path"], shown["cell_id"]) == ("a.ipynb", appended["cell_id"])


USER_TOKENS = {"alice-token": "alice", "bob-token": "bob"}


class TwoUsers(IdentityProvider):
    """A server with two users, each with a token of their own (as a multi-user deployment has)."""

    async def get_user_token(self, handler):
        name = USER_TOKENS.get(self.get_token(handler) or "")
        return User(username=name) if name else None


TWO_USERS = {"ServerApp": {"identity_provider_class": TwoUsers}}


@pytest.mark.parametrize("jp_server_config", [TWO_USERS], indirect=True, ids=["two-users"])
async def test_each_user_receives_only_their_own_ui_events(
    server_url, current_url, mcp_url, event_bus, make_notebook
):
    make_notebook("alice.ipynb")
    make_notebook("bob.ipynb")
    async with contextlib.AsyncExitStack() as stack:
        alice = await stack.enter_async_context(event_bus(as_token="alice-token"))
        bob = await stack.enter_async_context(event_bus(as_token="bob-token"))
        # What anyone subscribed to Jupyter's own event bus would see.
        bus_of_bob = await stack.enter_async_context(
            event_bus(as_token="bob-token", path=JUPYTER_EVENT_BUS)
        )
        as_alice = await stack.enter_async_context(
            httpx2.AsyncClient(headers={"Authorization": "token alice-token"}, timeout=30)
        )
        as_bob = await stack.enter_async_context(
            httpx2.AsyncClient(headers={"Authorization": "token bob-token"}, timeout=30)
        )

        put = await as_alice.put(current_url, json={"path": "alice.ipynb", "window": "alice-w"})
        assert put.status_code == 200 and put.json()["principal"] == "alice"
        await alice.expect(
            action="current-changed", path="alice.ipynb", window="alice-w", principal="alice"
        )
        assert (
            await as_alice.put(current_url, json={"path": "alice.ipynb", "open": True})
        ).status_code == 200
        opened = await alice.expect(action="open-notebook")
        assert (opened["path"], opened["window"], opened["principal"]) == (
            "alice.ipynb",
            "alice-w",
            "alice",
        )

        assert (
            await as_bob.put(current_url, json={"path": "bob.ipynb", "open": True})
        ).status_code == 200
        await bob.expect(action="open-notebook", path="bob.ipynb", principal="bob")
        await bob.expect(action="current-changed", path="bob.ipynb", principal="bob")

        # Alice's agent edits the notebook her browser shows: her window follows, nobody else's.
        async with (
            open_peer(server_url, "alice-token", "alice.ipynb"),
            httpx2.AsyncClient(headers={"Authorization": "Bearer alice-token"}, timeout=30) as http,
            Client(streamable_http_client(mcp_url, http_client=http)) as agent,
        ):
            appended = await call(
                agent, "append_code_cell", notebook_path="alice.ipynb", source="x = 1"
            )
            shown = await alice.expect(action="show-cell")
            assert (shown["path"], shown["cell_id"], shown["principal"]) == (
                "alice.ipynb",
                appended["cell_id"],
                "alice",
            )

        await bob.expect_none(principal="alice")
        await bus_of_bob.expect_none()
        await alice.expect_none(principal="bob")


@pytest.mark.parametrize("jp_server_config", [TWO_USERS], indirect=True, ids=["two-users"])
async def test_ui_events_need_a_user(server_url):
    url = "ws" + server_url.removeprefix("http") + UI_EVENTS
    for headers in ({}, {"Authorization": "token wrong-token"}):
        with pytest.raises(websockets.InvalidStatus) as refused:
            async with websockets.connect(url, additional_headers=headers, proxy=None):
                pass
        assert refused.value.response.status_code == 403


class NoMCPAuthorizer(Authorizer):
    """Allows the rest of Jupyter but not the MCP endpoint."""

    def is_authorized(self, handler, user, action, resource):
        return resource != "mcp"


@pytest.mark.parametrize(
    "jp_server_config",
    [{"ServerApp": {"authorizer_class": NoMCPAuthorizer}}],
    indirect=True,
    ids=["no-mcp"],
)
async def test_ui_events_are_refused_to_a_user_not_allowed_mcp(server_url, token):
    url = "ws" + server_url.removeprefix("http") + UI_EVENTS
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(
            url, additional_headers={"Authorization": f"token {token}"}, proxy=None
        ):
            pass
    assert refused.value.response.status_code == 403


# -- embedding: who may frame JupyterLab -------------------------------------------------------------


def csp_directives(response: httpx2.Response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return {
        part.strip().split(" ", 1)[0]: part.strip() for part in policy.split(";") if part.strip()
    }


WITH_JUPYTERLAB = {  # JupyterLab's page too, to see what the frontend is sent
    "jpserver_extensions": {
        "jupyter_mcp_ext": True,
        "jupyter_server_ydoc": True,
        "jupyter_server_fileid": True,
        "jupyterlab": True,
    },
}

LAB_PAGE_CONFIG = re.compile(
    r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', re.S
)


@pytest.mark.parametrize(
    "jp_server_config", [{"ServerApp": WITH_JUPYTERLAB}], indirect=True, ids=["lab"]
)
async def test_by_default_only_the_servers_own_origin_may_frame_jupyterlab(
    api, server_url, jp_serverapp, make_notebook
):
    make_notebook("a.ipynb")
    async with api() as http:
        status = await http.get(server_url + "api/status")
        lab = await http.get(server_url + "lab/tree/a.ipynb")
    for response in (status, lab):
        assert response.status_code == 200
        assert csp_directives(response)["frame-ancestors"] == "frame-ancestors 'self'"
    config = json.loads(jp_serverapp.web_app.settings["page_config_data"]["jupyterMcpExt"])
    assert config == {"allowedOrigins": [], "mcpPath": "mcp"}
    assert (
        json.loads(json.loads(LAB_PAGE_CONFIG.search(lab.text).group(1))["jupyterMcpExt"]) == config
    )


EMBEDDING = {
    "MCPExtensionApp": {
        "allowed_frame_origins": ["http://platform.example:3000", "https://Chat.Example.com:443/"]
    },
    "ServerApp": WITH_JUPYTERLAB,
}


@pytest.mark.parametrize("jp_server_config", [EMBEDDING], indirect=True, ids=["two-origins"])
async def test_allowed_frame_origins_may_frame_jupyterlab_and_reach_the_frontend(
    api, server_url, jp_serverapp, make_notebook
):
    allowed = ["http://platform.example:3000", "https://chat.example.com"]
    make_notebook("a.ipynb")
    async with api() as http:
        status = await http.get(server_url + "api/status")
        lab = await http.get(server_url + "lab/tree/a.ipynb")
    assert lab.status_code == 200
    for response in (status, lab):
        assert csp_directives(response)["frame-ancestors"] == (
            "frame-ancestors 'self' http://platform.example:3000 https://chat.example.com"
        )
    config = json.loads(jp_serverapp.web_app.settings["page_config_data"]["jupyterMcpExt"])
    assert config == {"allowedOrigins": allowed, "mcpPath": "mcp"}
    # What JupyterLab's PageConfig.getOption("jupyterMcpExt") returns in the browser.
    page_config = json.loads(LAB_PAGE_CONFIG.search(lab.text).group(1))
    assert json.loads(page_config["jupyterMcpExt"]) == config


@pytest.mark.parametrize(
    "origin",
    [
        "platform.example.com",
        "https://x.com/path",
        "*",
        "https://*.example.com",
        "ftp://x.com",
        "https://user@x.com",
        "https://x.com?a=1",
        "http://x.com:99999",
        "http://x.com:abc",
    ],
)
def test_an_allowed_frame_origin_that_is_not_an_origin_is_refused_with_an_example(origin):
    from jupyter_mcp_ext.app import MCPExtensionApp

    with pytest.raises(TraitError) as raised:
        MCPExtensionApp(allowed_frame_origins=["http://ok.example", origin])
    message = str(raised.value)
    assert "allowed_frame_origins" in message
    assert repr(origin) in message, message
    assert "e.g. 'https://platform.example.com'" in message, message


@pytest.mark.parametrize(
    ("origin", "normalized"),
    [
        ("https://Chat.Example.com:443/", "https://chat.example.com"),
        ("http://localhost:80", "http://localhost"),
        (" http://localhost:3000 ", "http://localhost:3000"),
        ("https://platform.example:8443", "https://platform.example:8443"),
        ("http://[::1]:3000", "http://[::1]:3000"),
    ],
)
def test_allowed_frame_origins_are_written_as_browsers_send_them(origin, normalized):
    from jupyter_mcp_ext.app import MCPExtensionApp

    assert MCPExtensionApp(allowed_frame_origins=[origin]).allowed_frame_origins == [normalized]


# -- the demo page --------------------------------------------------------------------------------


async def test_the_demo_page_sends_anonymous_visitors_to_the_login_page(
    api, server_url, jp_base_url
):
    async with api(authenticated=False) as http:
        response = await http.get(server_url + "mcp/demo")
    assert response.status_code == 302
    location = urlsplit(response.headers["location"])
    assert location.path == jp_base_url + "login"
    assert parse_qs(location.query)["next"] == [jp_base_url + "mcp/demo"]


async def test_the_demo_page_frames_jupyterlab_beside_mcp_controls(
    server_url, token, http_server_port
):
    origin = f"http://127.0.0.1:{http_server_port[-1]}"
    async with httpx2.AsyncClient(
        timeout=30
    ) as visitor:  # a browser: keeps the cookies it is given
        page = await visitor.get(f"{server_url}mcp/demo?token={token}")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert re.search(r"<iframe\b[^>]*>", page.text)
        config = json.loads(
            re.search(
                r'<script id="demo-config" type="application/json">(.*?)</script>', page.text, re.S
            ).group(1)
        )
        assert config["mcpUrl"] == urlsplit(server_url).path + "mcp"
        assert config["xsrfToken"]

        script = re.search(r'<script src="([^"]*demo\.js[^"]*)"', page.text).group(1)
        js = await visitor.get(
            origin + script if script.startswith("/") else server_url + "mcp/" + script
        )
        assert js.status_code == 200
        assert "javascript" in js.headers["content-type"]
        assert "demo-config" in js.text  # the script that reads the page's config

        # The page's own requests (login cookie + its xsrfToken) reach the MCP endpoint.
        mcp = await visitor.post(
            origin + config["mcpUrl"],
            json=initialize_request(client="demo"),
            headers={
                "Accept": MCP_ACCEPT,
                "X-XSRFToken": config["xsrfToken"],
            },
        )
        assert mcp.status_code == 200, mcp.text


@pytest.mark.parametrize(
    "jp_server_config", [{"MCPExtensionApp": {"demo_page": False}}], indirect=True, ids=["demo-off"]
)
async def test_the_demo_page_can_be_turned_off(api, server_url, mcp_client, make_notebook):
    make_notebook("a.ipynb")
    async with api() as http:
        response = await http.get(server_url + "mcp/demo")
    assert response.status_code == 404
    async with mcp_client() as client:  # MCP itself still served
        await invoke(client, "get_notebook_info", notebook_path="a.ipynb")


# -- the JupyterLab extension ---------------------------------------------------------------------


def test_the_labextension_is_installed_and_enabled():
    listing = subprocess.run(
        [sys.executable, "-m", "jupyter", "labextension", "list"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listing.returncode == 0, listing.stderr
    output = re.sub(r"\x1b\[[0-9;]*m", "", listing.stdout + listing.stderr)  # no colours
    assert re.search(r"^\s*jupyter-mcp-ext v\S+ enabled OK\b", output, re.M), output
    disabled = output.split("Disabled extensions:")[-1] if "Disabled extensions:" in output else ""
    assert "jupyter-mcp-ext" not in disabled, output
