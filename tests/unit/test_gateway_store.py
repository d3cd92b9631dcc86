"""What the hub gateway's database keeps and promises (issue 12): codes and tokens only as hashes,
the hub token behind them sealed, a code and a refresh token good once, a revoked grant gone,
expired entries neither returned nor kept, clients kept as registered — also across a restart (a
new Store on the same database). SQLite in a temporary directory, as the gateway's default;
the races between replicas also on PostgreSQL when it is installed."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from mcp.shared.auth import OAuthClientInformationFull

from jupyter_mcp_ext.hub.gateway import store as tables
from jupyter_mcp_ext.hub.gateway.store import Grant, Store, grant_id, new_secret, unseal

HUB_TOKEN = "hub-" + secrets.token_hex(16)
CLIENT = "client-" + secrets.token_hex(4)


def database_file(tmp_path: Path) -> Path:
    return tmp_path / "mcp-gateway.sqlite"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{database_file(tmp_path)}")
    yield store
    store.close()


@pytest.fixture(scope="module")
def postgresql_server() -> Iterator[str]:
    from hub import postgres  # tests/hub: the same throwaway server as the hub tests use

    reason = postgres.missing()
    if reason is not None:
        pytest.skip(reason)
    with postgres.postgresql_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A store as replicas share it: SQLite, or PostgreSQL (the production database)."""
    if request.param == "sqlite":
        url = f"sqlite:///{database_file(tmp_path)}"
    else:
        url = request.getfixturevalue("postgresql_server")
    store = Store(url)
    yield store
    store.close()


def a_grant(expires_in: float = 300, **fields: Any) -> Grant:
    values: dict[str, Any] = {
        "client_id": CLIENT,
        "user": "alice",
        "scopes": ["mcp"],
        "resource": "http://127.0.0.1:8000/services/mcp/",
        "expires_at": time.time() + expires_in,
        "hub_token": HUB_TOKEN,
        "grant_id": grant_id(),
    }
    return Grant(**{**values, **fields})


def signed_in_tokens(store: Store, expires_in: float = 3600, **fields: Any) -> tuple[str, str]:
    """An access and a refresh token, as the token endpoint issues them after a sign-in."""
    access, refresh = new_secret(), new_secret()
    expires_at = time.time() + expires_in
    store.save_tokens(
        {"access": (access, expires_at), "refresh": (refresh, expires_at)}, a_grant(**fields)
    )
    return access, refresh


def new_tokens() -> dict[str, tuple[str, float]]:
    expires_at = time.time() + 3600
    return {"access": (new_secret(), expires_at), "refresh": (new_secret(), expires_at)}


def rows(store: Store, table: sa.Table) -> list[Any]:
    with store.engine.connect() as db:
        return list(db.execute(sa.select(table)))


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run ``calls`` in threads released together, as requests reaching replicas at once."""
    start = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        start.wait()
        try:
            results[index] = calls[index]()
        except Exception as error:  # reported as the result
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_codes_tokens_and_the_hub_token_never_reach_the_database_file_as_they_are(
    store: Store, tmp_path: Path
):
    sign_in = new_secret()
    store.begin_sign_in(sign_in, CLIENT, {"state": "s"}, "verifier", ttl=600)
    assert store.signed_in(sign_in, "alice", HUB_TOKEN)
    code = new_secret()
    store.save_code(code, a_grant(details={"code_challenge": "c"}))
    access, refresh = signed_in_tokens(store)
    store.close()

    written = b"".join(path.read_bytes() for path in tmp_path.glob("mcp-gateway.sqlite*"))

    # What is written is there (this is the database), what is secret is not.
    assert b"alice" in written and tables.digest(access).encode() in written
    for secret in (sign_in, code, access, refresh, HUB_TOKEN):
        assert secret.encode() not in written, secret


def test_the_hub_token_opens_only_with_the_token_it_stands_for_not_with_what_the_database_has(
    store: Store,
):
    access, refresh = signed_in_tokens(store)
    row = next(row for row in rows(store, tables.tokens) if row.kind == "access")

    with pytest.raises(InvalidTag):
        unseal(row.sealed_hub_token, row.token_hash)  # all the database knows of the token
    with pytest.raises(InvalidTag):
        unseal(row.sealed_hub_token, refresh)  # another token of the same sign-in
    granted = store.token(access, "access")
    assert granted is not None and granted.hub_token == HUB_TOKEN


def test_a_code_is_good_once_and_only_for_its_own_client(store: Store):
    code = new_secret()
    details = {"code_challenge": "challenge", "redirect_uri": "http://127.0.0.1:1/cb"}
    store.save_code(code, a_grant(details=details))

    assert store.code(code, "another-client") is None
    loaded = store.code(code, CLIENT)
    assert loaded is not None
    assert (loaded.user, loaded.hub_token, loaded.details) == ("alice", HUB_TOKEN, details)
    assert store.use_code(code) is True
    assert store.use_code(code) is False
    assert store.code(code, CLIENT) is None


def test_a_refresh_works_once_and_the_old_tokens_stop_working(store: Store):
    access, refresh = signed_in_tokens(store)
    grant = store.token(refresh, "refresh")
    assert grant is not None
    issued = new_tokens()

    assert store.rotate(refresh, grant, issued) is True
    # The same refresh token again, from a request that loaded it before the first one won.
    assert store.rotate(refresh, grant, new_tokens()) is False

    assert store.token(access, "access") is None
    assert store.token(refresh, "refresh") is None
    renewed = store.token(issued["access"][0], "access")
    assert renewed is not None and renewed.hub_token == HUB_TOKEN
    assert renewed.grant_id == grant.grant_id
    assert store.token(issued["refresh"][0], "refresh") is not None


def test_of_two_refreshes_at_once_with_one_token_exactly_one_wins(shared_store: Store):
    for _ in range(10):
        _, refresh = signed_in_tokens(shared_store)
        grant = shared_store.token(refresh, "refresh")
        assert grant is not None
        attempts = [new_tokens(), new_tokens()]

        results = at_once([partial(shared_store.rotate, refresh, grant, i) for i in attempts])

        assert sorted(results) == [False, True], results
        winner, loser = attempts if results[0] else reversed(attempts)
        assert shared_store.token(winner["access"][0], "access") is not None
        assert shared_store.token(winner["refresh"][0], "refresh") is not None
        assert shared_store.token(loser["access"][0], "access") is None
        assert shared_store.token(loser["refresh"][0], "refresh") is None


def test_revoking_a_grant_drops_its_access_and_refresh_but_not_other_sign_ins(store: Store):
    access, refresh = signed_in_tokens(store)
    other_access, _ = signed_in_tokens(store)
    grant = store.token(access, "access")
    assert grant is not None

    store.revoke_grant(grant.grant_id)

    assert store.token(access, "access") is None
    assert store.token(refresh, "refresh") is None
    assert store.rotate(refresh, grant, new_tokens()) is False
    assert store.token(other_access, "access") is not None


def test_expired_entries_are_not_returned_and_clean_removes_only_them(store: Store):
    expired_sign_in = new_secret()
    store.begin_sign_in(expired_sign_in, CLIENT, {}, "verifier", ttl=-1)
    expired_code = new_secret()
    store.save_code(expired_code, a_grant(expires_in=-1, details={}))
    expired_access, expired_refresh = signed_in_tokens(store, expires_in=-1)
    store.save_client("https://app.example/client.json", {"client_id": "x"}, time.time() - 1)
    live_access, live_refresh = signed_in_tokens(store)
    store.save_client(CLIENT, {"client_id": CLIENT}, None)  # registered: kept for good

    assert store.sign_in(expired_sign_in) is None
    assert store.signed_in(expired_sign_in, "alice", HUB_TOKEN) is False
    assert store.code(expired_code, CLIENT) is None
    assert store.token(expired_access, "access") is None
    assert store.token(expired_refresh, "refresh") is None
    assert store.client("https://app.example/client.json") is None
    grant = a_grant()
    assert store.rotate(expired_refresh, grant, new_tokens()) is False

    assert store.clean() == 5  # the sign-in, the code, two tokens, the fetched client

    assert [len(rows(store, table)) for table in (tables.sign_ins, tables.codes)] == [0, 0]
    assert {row.token_hash for row in rows(store, tables.tokens)} == {
        tables.digest(live_access),
        tables.digest(live_refresh),
    }
    assert store.token(live_access, "access") is not None
    assert store.client(CLIENT) == {"client_id": CLIENT}
    assert store.clean() == 0


def test_a_registered_client_round_trips_and_a_new_registration_replaces_it(store: Store):
    client = OAuthClientInformationFull(
        client_id=CLIENT,
        client_name="Test Agent",
        redirect_uris=["http://127.0.0.1:47823/callback"],
        grant_types=["authorization_code", "refresh_token"],
        token_endpoint_auth_method="none",
        scope="mcp",
    )
    store.save_client(CLIENT, client.model_dump(mode="json"), None)
    assert OAuthClientInformationFull.model_validate(store.client(CLIENT)) == client

    renamed = client.model_copy(update={"client_name": "Renamed Agent"})
    store.save_client(CLIENT, renamed.model_dump(mode="json"), None)
    assert OAuthClientInformationFull.model_validate(store.client(CLIENT)) == renamed
    assert store.client("unknown") is None


def test_one_client_saved_by_two_replicas_at_once_is_saved_once(shared_store: Store):
    for _ in range(10):
        client_id = f"https://app.example/{secrets.token_hex(4)}.json"
        document = {"client_id": client_id, "client_name": "Fetched twice"}

        save = partial(shared_store.save_client, client_id, document, time.time() + 600)

        results = at_once([save, save])

        assert results == [None, None]
        assert shared_store.client(client_id) == document


def test_what_was_stored_is_still_there_for_a_new_store_on_the_same_database(
    store: Store, tmp_path: Path
):
    store.save_client(CLIENT, {"client_id": CLIENT}, None)
    access, refresh = signed_in_tokens(store)
    store.close()

    restarted = Store(f"sqlite:///{database_file(tmp_path)}")
    try:
        assert restarted.client(CLIENT) == {"client_id": CLIENT}
        granted = restarted.token(access, "access")
        assert granted is not None and (granted.user, granted.hub_token) == ("alice", HUB_TOKEN)
        assert restarted.token(refresh, "refresh") is not None
    finally:
        restarted.close()
