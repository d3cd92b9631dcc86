"""What the gateway shows a person and decides about hub tokens, without a hub: a client's
self-given name cannot inject markup into the consent page, and only a token that can reach its
owner's own server is taken."""

from __future__ import annotations

from mcp.shared.auth import OAuthClientInformationFull

from jupyter_mcp_ext.hub.gateway.identity import can_reach_own_server
from jupyter_mcp_ext.hub.gateway.pages import PAGE_HEADERS, client_description, page


def registered(name: str) -> OAuthClientInformationFull:
    return OAuthClientInformationFull(
        client_id="c0ffee", client_name=name, redirect_uris=["http://127.0.0.1:1/cb"]
    )


def test_a_clients_name_with_markup_is_shown_as_text_and_marked_as_its_own_claim():
    shown = client_description(registered("<script>alert(1)</script>Claude"), "c0ffee")

    assert "<script>" not in shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;Claude" in shown
    assert "a name the client gave itself" in shown


def test_a_client_from_a_metadata_document_is_named_with_the_site_that_published_it():
    shown = client_description(
        registered("Notebook Agent"), "https://agents.example.com/clients/notebook.json"
    )

    assert shown == "Notebook Agent (from agents.example.com)"


def test_pages_cannot_be_framed_or_cached_and_escape_their_title():
    response = page("<b>x</b>", "<p>body</p>")

    assert b"<title>&lt;b&gt;x&lt;/b&gt;</title>" in response.body
    for name, value in PAGE_HEADERS.items():
        assert response.headers[name] == value
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_only_a_users_token_that_reaches_their_own_server_is_taken():
    def model(scopes: list[str], kind: str = "user", name: str = "alice") -> dict:
        return {"kind": kind, "name": name, "scopes": scopes}

    assert can_reach_own_server(model(["access:servers!user=alice"]))
    assert can_reach_own_server(model(["access:servers!server=alice/"]))
    assert can_reach_own_server(model(["access:servers"]))  # e.g. an admin's full token
    assert not can_reach_own_server(model(["read:users:name!user=alice"]))
    assert not can_reach_own_server(model(["access:servers!user=bob"]))
    assert not can_reach_own_server(model(["access:servers!server=alice/lab"]))  # a named server
    assert not can_reach_own_server(model(["access:servers"], kind="service"))
