"""Every MCP request passes Jupyter's identity provider and authorizer."""

from __future__ import annotations

import httpx2
import pytest
from conftest import call, call_error, login_with_cookie
from jupyter_server.auth import Authorizer
from support import MCP_ACCEPT, initialize_request

ACCEPT = MCP_ACCEPT
PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
INITIALIZE = initialize_request()


def assert_unauthenticated(
    response: httpx2.Response, challenge: str = 'Bearer realm="jupyter"'
) -> None:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == challenge
    assert response.headers["content-type"].startswith("application/json")
    assert "Authorization: Bearer <token>" in response.json()["message"]


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
async def test_no_credentials_get_401_with_www_authenticate(mcp_url, method):
    async with httpx2.AsyncClient(timeout=20) as http:
        response = await http.request(
            method,
            mcp_url,
            json=INITIALIZE if method == "POST" else None,
            headers={"Accept": ACCEPT},
        )
    assert_unauthenticated(response)


INVALID_TOKEN = 'Bearer realm="jupyter", error="invalid_token"'


@pytest.mark.parametrize(
    ("authorization", "challenge"),
    [
        ("Bearer wrong-token", INVALID_TOKEN),
        ("token wrong-token", INVALID_TOKEN),
        # RFC 6750 §3.1: an unsupported scheme is "no authentication information": no error code.
        ("Basic dXNlcjpwYXNz", 'Bearer realm="jupyter"'),
    ],
)
async def test_wrong_credentials_get_401(mcp_url, authorization, challenge):
    async with httpx2.AsyncClient(timeout=20) as http:
        response = await http.post(
            mcp_url, json=INITIALIZE, headers={"Accept": ACCEPT, "Authorization": authorization}
        )
    assert_unauthenticated(response, challenge)


async def test_a_wrong_token_in_the_query_is_an_invalid_token(mcp_url):
    async with httpx2.AsyncClient(timeout=20) as http:
        response = await http.post(
            f"{mcp_url}?token=wrong-token", json=INITIALIZE, headers={"Accept": ACCEPT}
        )
    assert_unauthenticated(response, INVALID_TOKEN)


@pytest.mark.parametrize("scheme", ["Bearer", "token", "bearer"])
async def test_token_in_authorization_header_is_accepted(mcp_client, make_notebook, token, scheme):
    make_notebook("a.ipynb")
    async with mcp_client(auth=f"{scheme} {token}") as client:
        info = await call(client, "get_notebook_info", notebook_path="a.ipynb")
    assert info["notebook_path"] == "a.ipynb"


async def test_token_in_query_is_accepted_where_jupyter_allows_it(mcp_url, token):
    async with httpx2.AsyncClient(timeout=20) as http:
        response = await http.post(
            f"{mcp_url}?token={token}", json=INITIALIZE, headers={"Accept": ACCEPT}
        )
    assert response.status_code == 200


async def test_browser_cookie_needs_the_xsrf_header(server_url, mcp_url, token):
    async with httpx2.AsyncClient(timeout=20) as http:
        xsrf = await login_with_cookie(http, server_url, token)
        without = await http.post(mcp_url, json=INITIALIZE, headers={"Accept": ACCEPT})
        assert without.status_code == 403
        assert without.headers["content-type"].startswith("application/json")
        assert "xsrf" in without.json()["message"].lower()
        with_xsrf = await http.post(
            mcp_url, json=INITIALIZE, headers={"Accept": ACCEPT, "X-XSRFToken": xsrf}
        )
        assert with_xsrf.status_code == 200
        assert with_xsrf.headers.get("mcp-session-id")


async def test_browser_cookie_from_a_foreign_origin_is_refused(server_url, mcp_url, token):
    async with httpx2.AsyncClient(timeout=20) as http:
        xsrf = await login_with_cookie(http, server_url, token)
        response = await http.post(
            mcp_url,
            json=INITIALIZE,
            headers={"Accept": ACCEPT, "X-XSRFToken": xsrf, "Origin": "http://evil.example.com"},
        )
    assert response.status_code == 403
    assert "cross-origin" in response.json()["message"].lower()


async def test_a_session_cannot_be_used_without_credentials(mcp_url, token):
    async with httpx2.AsyncClient(timeout=20) as agent, httpx2.AsyncClient(timeout=20) as intruder:
        opened = await agent.post(
            mcp_url, json=INITIALIZE, headers={"Accept": ACCEPT, "Authorization": f"Bearer {token}"}
        )
        session = opened.headers["mcp-session-id"]
        hijack = await intruder.post(
            mcp_url, json=PING, headers={"Accept": ACCEPT, "mcp-session-id": session}
        )
    assert_unauthenticated(hijack)


class ReadOnlyAuthorizer(Authorizer):
    """Allows reading anything, nothing else."""

    def is_authorized(self, handler, user, action, resource):
        return action == "read"


class NoMCPAuthorizer(Authorizer):
    """Allows the rest of Jupyter but not the MCP endpoint."""

    def is_authorized(self, handler, user, action, resource):
        return resource != "mcp"


@pytest.fixture
def read_only_config(jp_server_config):
    jp_server_config["ServerApp"]["authorizer_class"] = ReadOnlyAuthorizer
    return jp_server_config


async def test_read_only_user_can_read_but_not_edit(
    read_only_config, mcp_client, make_notebook, jp_root_dir
):
    make_notebook("a.ipynb", [("markdown", "# Report")])
    before = (jp_root_dir / "a.ipynb").read_text()
    async with mcp_client() as client:
        cells = await call(client, "read_all_cells", notebook_path="a.ipynb")
        assert [c["source"] for c in cells["cells"]] == ["# Report"]
        for name, arguments in [
            ("append_code_cell", {"source": "x = 1"}),
            ("overwrite_cell_source", {"cell_index": 0, "source": "changed"}),
            ("delete_cell", {"cell_index": 0}),
            ("create_notebook", {"notebook_path": "new.ipynb"}),
        ]:
            error = await call_error(client, name, **{"notebook_path": "a.ipynb", **arguments})
            assert "Permission denied" in error and "write contents" in error
        after = await call(client, "read_all_cells", notebook_path="a.ipynb")
    assert [c["source"] for c in after["cells"]] == ["# Report"]
    assert (jp_root_dir / "a.ipynb").read_text() == before
    assert not (jp_root_dir / "new.ipynb").exists()


@pytest.fixture
def no_mcp_config(jp_server_config):
    jp_server_config["ServerApp"]["authorizer_class"] = NoMCPAuthorizer
    return jp_server_config


async def test_user_refused_by_the_authorizer_gets_403_json(no_mcp_config, mcp_url, token):
    async with httpx2.AsyncClient(timeout=20) as http:
        response = await http.post(
            mcp_url, json=INITIALIZE, headers={"Accept": ACCEPT, "Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/json")
    assert "not authorized" in response.json()["message"]


@pytest.fixture(params=[False, True], ids=["xsrf-checked", "xsrf-disabled"])
def empty_token_config(jp_server_config, request):
    jp_server_config["ServerApp"]["token"] = (
        ""  # (pytest-jupyter replaces an empty IdentityProvider.token)
    )
    jp_server_config["ServerApp"]["disable_check_xsrf"] = request.param
    return jp_server_config


async def test_empty_token_server_treats_mcp_like_its_own_api(
    empty_token_config, server_url, mcp_url
):
    async with httpx2.AsyncClient(timeout=20) as http:
        api = await http.post(server_url + "api/contents", json={"type": "notebook"})
        mcp = await http.post(mcp_url, json=INITIALIZE, headers={"Accept": ACCEPT})
    # Without a token Jupyter still refuses cookie-less POSTs that lack XSRF (unless disabled):
    # the MCP endpoint answers exactly as Jupyter's own API does.
    assert (api.status_code == 201) == (mcp.status_code == 200)
    if empty_token_config["ServerApp"]["disable_check_xsrf"]:
        assert mcp.status_code == 200
    else:
        assert api.status_code == mcp.status_code == 403
        assert "_xsrf" in mcp.json()["message"]
