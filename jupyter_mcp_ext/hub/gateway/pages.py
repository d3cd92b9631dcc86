"""The two pages a person sees while an MCP client signs them in: the hub's code comes back to
``/oauth_callback``, which asks whether this client may use their server; the answer goes to
``/consent``, which sends the browser back to the client with our code (or a refusal).

The consent names the client as it described itself (and, for a client metadata document, the
site that published it) and where the browser goes next, so a person can tell a client they did
not start from the one they did.
"""

from __future__ import annotations

import html
from urllib.parse import urlsplit

from mcp.server.auth.provider import AuthorizationParams, construct_redirect_uri
from mcp.shared.auth import OAuthClientInformationFull
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from tornado.web import HTTPError

from .identity import HubUnreachable, can_reach_own_server
from .oauth import HubSignInProvider

# Pages a person acts on must not be framed by another site (clickjacking) or leak the URL.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}

STYLE = """body{font:16px/1.5 system-ui,sans-serif;max-width:34em;margin:3em auto;padding:0 1em}
button{font:inherit;padding:.4em 1.2em;margin-right:.6em}code{font-size:90%}"""


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    document = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return HTMLResponse(document, status_code=status, headers=PAGE_HEADERS)


def client_description(client: OAuthClientInformationFull | None, client_id: str) -> str:
    """Who asks, in words: its own name, and for a metadata document the site vouching for it."""
    name = (client.client_name if client else None) or "An MCP client"
    if client_id.startswith(("https://", "http://")):
        return f"{html.escape(name)} (from {html.escape(urlsplit(client_id).netloc)})"
    return f"{html.escape(name)} <small>(a name the client gave itself)</small>"


class SignInPages:
    def __init__(self, provider: HubSignInProvider, consent_path: str) -> None:
        self.provider = provider
        self.consent_path = consent_path

    async def oauth_callback(self, request: Request) -> Response:
        """The hub's answer to our sign-in: exchange its code, then ask for consent."""
        key = request.query_params.get("state", "")
        provider = self.provider
        sign_in = await provider.pending_sign_in(key)
        if sign_in is None or sign_in.user is not None:
            return page(
                "Sign-in expired",
                "<p>This sign-in is unknown, was answered already, or took too long. "
                "Start again from your MCP client.</p>",
                400,
            )
        params = AuthorizationParams.model_validate(sign_in.request)
        if "error" in request.query_params or "code" not in request.query_params:
            await provider.cancel_sign_in(key)
            return self._back_to_client(params, error="access_denied")
        hub_auth = provider.identity.hub_auth
        try:
            hub_token = await hub_auth.token_for_code(
                request.query_params["code"], code_verifier=sign_in.hub_code_verifier, sync=False
            )
            model = await provider.identity.owner(hub_token, use_cache=False)
        except (HTTPError, HubUnreachable) as error:
            hub_auth.log.warning("Hub sign-in failed: %s", error)
            return page(
                "Sign-in failed",
                "<p>The hub did not confirm the sign-in. Start again from your MCP client.</p>",
                502,
            )
        if model is None or not can_reach_own_server(model):
            return page(
                "No server to reach",
                "<p>Your hub account cannot reach a server of its own, so an MCP client cannot "
                "use one for you. Ask the hub's operator.</p>",
                403,
            )
        if not await provider.signed_in(key, model["name"], hub_token):
            return page("Sign-in expired", "<p>Start again from your MCP client.</p>", 400)
        client = await provider.get_client(sign_in.client_id)
        who = client_description(client, sign_in.client_id)
        target = urlsplit(str(params.redirect_uri))
        body = (
            f"<p><b>{who}</b> asks to use your Jupyter server as <b>{html.escape(model['name'])}"
            "</b>: to read and edit your notebooks and run code in their kernels, and to start "
            "your server when it is stopped.</p>"
            f"<p>After your answer, your browser goes to <code>{html.escape(target.scheme)}://"
            f"{html.escape(target.netloc)}</code>.</p>"
            f"<form method='post' action='{html.escape(self.consent_path)}'>"
            f"<input type='hidden' name='sign_in' value='{html.escape(key)}'>"
            "<button name='answer' value='allow'>Allow</button>"
            "<button name='answer' value='deny'>Deny</button></form>"
        )
        return page("Connect an MCP client", body)

    async def consent(self, request: Request) -> Response:
        form = await request.form()
        key, answer = str(form.get("sign_in", "")), form.get("answer")
        provider = self.provider
        sign_in = await provider.pending_sign_in(key)
        if sign_in is None or sign_in.user is None or answer not in ("allow", "deny"):
            return page(
                "Sign-in expired",
                "<p>This sign-in is unknown or was answered already. Start again from your "
                "MCP client.</p>",
                400,
            )
        if answer == "deny":
            await provider.cancel_sign_in(key)
            return self._back_to_client(
                AuthorizationParams.model_validate(sign_in.request), error="access_denied"
            )
        try:
            params, code = await provider.issue_code(key)
        except LookupError:
            return page("Sign-in expired", "<p>Start again from your MCP client.</p>", 400)
        return self._back_to_client(params, code=code)

    def _back_to_client(
        self, params: AuthorizationParams, *, code: str | None = None, error: str | None = None
    ) -> Response:
        location = construct_redirect_uri(
            str(params.redirect_uri),
            code=code,
            error=error,
            state=params.state,
            iss=self.provider.issuer,
        )
        return RedirectResponse(location, status_code=303, headers={"Cache-Control": "no-store"})
