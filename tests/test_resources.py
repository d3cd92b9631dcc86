"""Notebooks as MCP resources, and subscriptions to them in both protocol eras: a real server, the
SDK client, and a pycrdt peer as the person typing in JupyterLab."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator, Iterator

import httpx2
import mcp_types as types
import pytest
from conftest import call
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp_types import INVALID_PARAMS
from peer import open_peer
from support import eventually
from test_tasks import TwoUsers

from jupyter_mcp_ext.subscriptions import SKIP_OWN_CHANGES

MODES = ["legacy", "auto"]  # the handshake era, and 2026-07-28

# resources/subscribe is the handshake era's: deprecated by the SDK, tested on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::mcp.shared.exceptions.MCPDeprecationWarning")


async def read_json(client, uri: str) -> dict:
    result = await client.read_resource(uri, cache_mode="bypass")
    (content,) = result.contents
    assert content.mime_type == "application/json"
    return json.loads(content.text)


@pytest.mark.parametrize("mode", MODES)
async def test_a_notebook_and_one_of_its_cells_read_as_resources_show_the_live_cells(
    mode, make_notebook, mcp_client, browser
):
    path = make_notebook("dir with space/a?b#c.ipynb", [("markdown", "# Title"), ("code", "x = 1")])
    async with browser(path) as peer, mcp_client(mode) as client:
        peer.type_at_end(peer.cell_ids()[1], "  # typed, unsaved")
        uri = "notebook://dir%20with%20space/a%3Fb%23c.ipynb"
        listed = await client.list_resources(cache_mode="bypass")
        assert uri in [resource.uri for resource in listed.resources]
        notebook = await eventually_read(
            client, uri, lambda nb: "typed" in nb["cells"][1]["source"]
        )
        cell_id = notebook["cells"][1]["cell_id"]
        cell = await read_json(client, f"{uri}?cell={cell_id}")
        unchanged = await call(
            client, "get_notebook_changes", notebook_path=path, since_revision=notebook["revision"]
        )

    assert notebook["notebook_path"] == path and notebook["cell_count"] == 2
    assert [(c["cell_type"], c["source"]) for c in notebook["cells"]] == [
        ("markdown", "# Title"),
        ("code", "x = 1  # typed, unsaved"),
    ]
    assert cell["cell"]["cell_id"] == cell_id and cell["cell"]["index"] == 1
    assert cell["cell"]["source"] == "x = 1  # typed, unsaved" and cell["cell"]["outputs"] == []
    # The read's revision works with get_notebook_changes: nothing changed since.
    assert cell["revision"] == notebook["revision"] and unchanged["changes"] == []


async def eventually_read(client, uri: str, until) -> dict:
    return await eventually(lambda: read_json(client, uri), f"{uri} as expected", until=until)


@pytest.mark.parametrize("mode", MODES)
async def test_the_resource_list_has_the_open_notebooks_and_the_current_one(
    mode, make_notebook, mcp_client, browser
):
    opened = make_notebook("opened.ipynb")
    chosen = make_notebook("sub/chosen.ipynb")
    make_notebook("closed.ipynb")
    async with browser(opened), mcp_client(mode) as client:
        await call(client, "prepare_notebook", notebook_path=chosen)
        listed = (await client.list_resources(cache_mode="bypass")).resources
        templates = (await client.list_resource_templates(cache_mode="bypass")).resource_templates

    by_uri = {resource.uri: resource for resource in listed}
    assert set(by_uri) == {"notebook://opened.ipynb", "notebook://sub/chosen.ipynb"}
    assert by_uri["notebook://sub/chosen.ipynb"].description == "your current notebook"
    assert {t.uri_template for t in templates} == {
        "notebook://{+path}",
        "notebook://{+path}?cell={cell_id}",
    }


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("notebook://../outside.ipynb", "'..' may not be used"),
        ("notebook:///etc/passwd.ipynb", "Absolute path"),
        ("notebook://notes.txt", "is not a notebook"),
        ("notebook://missing.ipynb", "does not exist"),
        ("notebook://real.ipynb?cell=nope", "No cell has id 'nope'"),
        ("notebook://real.ipynb?line=3", "unknown query"),
        ("file:///real.ipynb", "Unknown resource"),
    ],
)
async def test_reading_a_resource_that_is_no_notebook_of_the_server_is_a_clear_invalid_params_error(
    mode, uri, message, make_notebook, mcp_client, jp_root_dir
):
    make_notebook("real.ipynb", [("code", "1")])
    (jp_root_dir / "notes.txt").write_text("not a notebook")
    async with mcp_client(mode) as client:
        with pytest.raises(MCPError) as refused:
            await client.read_resource(uri, cache_mode="bypass")
        assert (await call(client, "list_kernels")) is not None  # the server still answers
    assert refused.value.code == INVALID_PARAMS
    assert message in refused.value.message, refused.value.message
    assert str(jp_root_dir) not in refused.value.message


# -- subscriptions ---------------------------------------------------------------------------


class Updates:
    """The notifications a subscribed client received: (when, uri), the list changes as 'list'."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, str]] = []
        self._arrived = asyncio.Event()

    def add(self, what: str) -> None:
        self.seen.append((time.monotonic(), what))
        self._arrived.set()

    async def handle(self, message) -> None:  # the handshake era's message handler
        if isinstance(message, types.ResourceUpdatedNotification):
            self.add(message.params.uri)
        elif isinstance(message, types.ResourceListChangedNotification):
            self.add("list")

    def of(self, what: str) -> list[float]:
        return [at for at, seen in self.seen if seen == what]

    async def next(self, what: str, *, after: float, timeout: float = 5.0) -> float:
        """When the first notification of ``what`` after ``after`` arrived (waiting for it)."""
        deadline = time.monotonic() + timeout
        while not [at for at in self.of(what) if at > after]:
            self._arrived.clear()
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no notification of {what} within {timeout} s: {self.seen}"
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)
        return min(at for at in self.of(what) if at > after)


@contextlib.contextmanager
def meta_on_listen(client: Client, meta: dict) -> Iterator[None]:
    """Add ``meta`` to the _meta of the client's subscriptions/listen requests (the SDK's listen
    takes none)."""
    session = client.session
    stamp = session._stamp

    def stamped(data: dict, opts) -> None:
        stamp(data, opts)
        if data.get("method") == "subscriptions/listen":
            data["params"].setdefault("_meta", {}).update(meta)

    session._stamp = stamped
    try:
        yield
    finally:
        session._stamp = stamp


@contextlib.asynccontextmanager
async def subscribed(
    mcp_url: str,
    token: str,
    mode: str,
    uris: list[str],
    *,
    skip_own: bool = False,
    list_changed: bool = False,
    name: str = "subscriber",
) -> AsyncIterator[tuple[Client, Updates]]:
    """An SDK client subscribed to ``uris``: resources/subscribe in the handshake era,
    subscriptions/listen at 2026-07-28; what it is told is gathered in ``Updates``."""
    updates = Updates()
    meta = {SKIP_OWN_CHANGES: True} if skip_own else None
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
        Client(
            streamable_http_client(mcp_url, http_client=http),
            mode=mode,
            # At 2026-07-28 the listen stream's events also reach a message handler: gather once.
            message_handler=updates.handle if mode == "legacy" else None,
            client_info=types.Implementation(name=name, version="1"),
        ) as client,
    ):
        if mode == "legacy":
            if list_changed:
                await client.list_resources(cache_mode="bypass")
            for uri in uris:
                await client.subscribe_resource(uri, meta=meta)
            yield client, updates
            return
        with meta_on_listen(client, meta or {}):
            listening = client.listen(
                resource_subscriptions=uris, resources_list_changed=list_changed
            )
            async with listening as subscription:

                async def gather() -> None:
                    async for event in subscription:
                        updates.add(getattr(event, "uri", None) or "list")

                gathering = asyncio.create_task(gather())
                try:
                    yield client, updates
                finally:
                    gathering.cancel()


async def quiet(updates: Updates, what: str, *, after: float, seconds: float = 1.5) -> None:
    """Nothing about ``what`` arrives within ``seconds`` from now."""
    await asyncio.sleep(seconds)
    assert not [at for at in updates.of(what) if at > after], updates.seen


@pytest.mark.parametrize("mode", MODES)
async def test_a_subscribed_client_is_told_within_a_second_of_the_persons_keystroke(
    mode, make_notebook, mcp_url, token, browser
):
    path = make_notebook("watched.ipynb", [("code", "a = 1"), ("code", "b = 2")])
    uri = "notebook://watched.ipynb"
    async with browser(path) as peer, subscribed(mcp_url, token, mode, [uri]) as (client, updates):
        first, second = peer.cell_ids()
        cell_uri = f"{uri}?cell={second}"
        if mode == "legacy":
            await client.subscribe_resource(cell_uri)
        typed = time.monotonic()
        peer.type_at_end(first, "0")
        told = await updates.next(uri, after=typed)
        read = await read_json(client, uri)
        await quiet(updates, cell_uri, after=typed, seconds=0.6)  # the other cell is untouched
        typed_second = time.monotonic()
        peer.type_at_end(second, "0")
        if mode == "legacy":
            await updates.next(cell_uri, after=typed_second)

    assert told - typed < 1.0, f"told {told - typed:.2f} s after the keystroke"
    assert read["cells"][0]["source"] == "a = 10"


@pytest.mark.parametrize("mode", MODES)
async def test_a_client_that_asked_so_is_not_told_of_its_own_edits_but_of_the_persons(
    mode, make_notebook, mcp_url, token, browser
):
    path = make_notebook("own.ipynb", [("code", "a = 1")])
    uri = "notebook://own.ipynb"
    async with (
        browser(path) as peer,
        subscribed(mcp_url, token, mode, [uri], skip_own=True) as (client, updates),
        subscribed(mcp_url, token, mode, [uri], name="other agent") as (_, other),
    ):
        edited = time.monotonic()
        await call(
            client, "overwrite_cell_source", notebook_path=path, cell_index=0, source="a = 2"
        )
        await other.next(uri, after=edited)  # another agent is told of it
        await quiet(updates, uri, after=edited)
        typed = time.monotonic()
        peer.type_at_end(peer.cell_ids()[0], "0")
        told = await updates.next(uri, after=typed)
    assert told - typed < 1.0


@pytest.mark.parametrize("mode", MODES)
async def test_after_unsubscribing_a_client_is_told_nothing_more(
    mode, make_notebook, mcp_url, token, browser
):
    path = make_notebook("left.ipynb", [("code", "a = 1")])
    uri = "notebook://left.ipynb"
    async with browser(path) as peer:
        cell = peer.cell_ids()[0]
        async with subscribed(mcp_url, token, mode, [uri]) as (client, updates):
            typed = time.monotonic()
            peer.type_at_end(cell, "1")
            await updates.next(uri, after=typed)
            if mode == "legacy":
                await client.unsubscribe_resource(uri)
                left = time.monotonic()
                peer.type_at_end(cell, "2")
                await quiet(updates, uri, after=left)
        if mode != "legacy":  # leaving the listen stream is its unsubscribe
            left = time.monotonic()
            peer.type_at_end(cell, "2")
            await quiet(updates, uri, after=left)
    assert len(updates.of(uri)) == 1, updates.seen


@pytest.mark.parametrize("mode", MODES)
async def test_a_burst_of_keystrokes_is_told_at_most_twice_a_second_first_at_once_last_at_the_end(
    mode, make_notebook, mcp_url, token, browser
):
    path = make_notebook("burst.ipynb", [("code", "")])
    uri = "notebook://burst.ipynb"
    async with browser(path) as peer, subscribed(mcp_url, token, mode, [uri]) as (client, updates):
        cell = peer.cell_ids()[0]
        began = time.monotonic()
        for key in "print('hello world'":  # 20 keystrokes over about a second
            peer.type_at_end(cell, key)
            await asyncio.sleep(0.05)
        ended = time.monotonic()
        await asyncio.sleep(1.0)
        told = updates.of(uri)
        last = await read_json(client, uri)

    assert told and told[0] - began < 1.0, updates.seen
    gaps = [b - a for a, b in itertools.pairwise(told)]
    assert all(gap > 0.4 for gap in gaps), gaps  # 0.5 s apart on the server; network jitter aside
    assert len(told) <= 2 * (ended - began) + 2, told
    assert told[-1] > ended - 0.5  # the end of the burst is told too
    assert last["cells"][0]["source"] == "print('hello world'"


@pytest.mark.parametrize(
    "jp_server_config",
    [{"ServerApp": {"identity_provider_class": TwoUsers}}],
    indirect=True,
    ids=["two-users"],
)
@pytest.mark.parametrize("mode", MODES)
async def test_a_user_is_never_told_of_another_users_notebook_or_current_notebook(
    mode, make_notebook, mcp_url, server_url
):
    alice_path = make_notebook("alice.ipynb", [("code", "a = 1")])
    make_notebook("bob.ipynb", [("code", "b = 1")])
    alice_uri, bob_uri = "notebook://alice.ipynb", "notebook://bob.ipynb"
    async with (
        open_peer(server_url, "alice-token", alice_path) as peer,
        subscribed(mcp_url, "alice-token", mode, [alice_uri], list_changed=True) as (alice, told),
        subscribed(mcp_url, "bob-token", mode, [bob_uri], list_changed=True) as (_, bob_told),
    ):
        began = time.monotonic()
        peer.type_at_end(peer.cell_ids()[0], "0")
        await told.next(alice_uri, after=began)
        await call(alice, "prepare_notebook", notebook_path=alice_path)  # alice's list changes
        await told.next("list", after=began)
        await quiet(bob_told, "list", after=began, seconds=1.0)
    assert bob_told.seen == [], bob_told.seen


@pytest.mark.parametrize("mode", MODES)
async def test_the_server_says_it_tells_of_resource_and_list_changes(mode, mcp_client):
    async with mcp_client(mode) as client:
        capabilities = client.server_capabilities.resources
    assert capabilities.subscribe and capabilities.list_changed


@pytest.mark.parametrize("mode", MODES)
async def test_a_subscription_to_a_notebook_nobody_has_open_tells_of_changes_once_someone_opens_it(
    mode, make_notebook, mcp_url, token, browser
):
    path = make_notebook("later.ipynb", [("code", "a = 1")])
    uri = "notebook://later.ipynb"
    async with subscribed(mcp_url, token, mode, [uri]) as (_, updates), browser(path) as peer:
        await asyncio.sleep(0.3)  # the room's "initialize" event reaches its listeners
        typed = time.monotonic()
        peer.type_at_end(peer.cell_ids()[0], "0")
        told = await updates.next(uri, after=typed)
    assert told - typed < 1.0
