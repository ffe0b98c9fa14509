"""GitLab as an OAuth 2 provider (Doorkeeper): applications, the authorization code flow
with PKCE, refresh, and the tokens it issues acting as their user with their scopes.

Set-up: `add_oauth_application(redirect_uri, scopes="read_user read_api") -> (uid,
secret)`; `sign_in_browser(username)` is the person signed in to GitLab in the browser
that follows the authorize link (None: GitLab's sign-in page); `deny_authorization =
True` is a person who presses Deny. `oauth_token_ttl` (7200 s) is an access token's life.

`GET /oauth/authorize?client_id&redirect_uri&response_type=code&state&scope[&
code_challenge&code_challenge_method=S256]`: an unknown client or a `redirect_uri` other
than the application's answers 200 with GitLab's error page (no redirect); a scope the
application lacks answers 302 with `error=invalid_scope`; nobody signed in: 302 to
`/users/sign_in`; else (the person authorises at once) 302 to `redirect_uri?code&state`.
`POST /oauth/token` (form or JSON; client credentials in the body or HTTP Basic):
`grant_type=authorization_code` with `code`, `redirect_uri`, `code_verifier` (when the
code had a challenge), or `grant_type=refresh_token` (the refresh token rotates). Errors
as Doorkeeper answers them: 401 `invalid_client`, 400 `invalid_grant`,
`unsupported_grant_type`, `invalid_request`.

An OAuth token is sent as `Authorization: Bearer`; its user is the person; a token without
the `api` scope only reads (`read_api`; any other method: 403 `insufficient_scope`).
`revoke_oauth_tokens(username)` ends a person's tokens; `rename_user(username, new)`
renames an account (its tokens follow it) and frees the old username.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from tests.sim.gitlab.state import GitLabState, SimUser
from tests.sim.skeleton import LoggedRequest, basic_password

if TYPE_CHECKING:
    from tests.sim.gitlab.app import GitLabSim

CODE_TTL = 600.0


@dataclass
class OAuthApp:
    uid: str
    secret: str
    redirect_uri: str
    scopes: frozenset[str]


@dataclass
class Grant:
    app: str
    username: str
    redirect_uri: str
    scopes: frozenset[str]
    challenge: str | None
    method: str
    issued: float


@dataclass
class OAuthToken:
    username: str
    scopes: frozenset[str]
    expires: float


class OAuthState(GitLabState):
    def _init_oauth(self) -> None:
        self.oauth_apps: dict[str, OAuthApp] = {}
        self.browser_username: str | None = None
        self.deny_authorization = False
        self.oauth_token_ttl = 7200.0
        self._grants: dict[str, Grant] = {}
        self._oauth_tokens: dict[str, OAuthToken] = {}
        self._oauth_refresh: dict[str, tuple[str, str, frozenset[str]]] = {}  # app, user, scopes

    def add_oauth_application(
        self, redirect_uri: str, scopes: str = "read_user read_api"
    ) -> tuple[str, str]:
        app = OAuthApp(
            secrets.token_hex(32),
            "gloas-" + secrets.token_hex(32),
            redirect_uri,
            frozenset(scopes.split()),
        )
        self.oauth_apps[app.uid] = app
        return app.uid, app.secret

    def sign_in_browser(self, username: str | None) -> None:
        self.browser_username = username

    def rename_user(self, username: str, new_username: str) -> int:
        """The account of `username` is `new_username` from now on (same id, memberships
        and tokens); `username` is free for another account (`add_user`). Its id is
        returned."""
        with self._lock:
            user = self.users.pop(username)
            user.username = new_username
            self.users[new_username] = user
            for token in self._oauth_tokens.values():
                if token.username == username:
                    token.username = new_username
            for refresh, (app, holder, scopes) in list(self._oauth_refresh.items()):
                if holder == username:
                    self._oauth_refresh[refresh] = (app, new_username, scopes)
            return user.id

    def revoke_oauth_tokens(self, username: str) -> None:
        with self._lock:
            for token in [t for t, v in self._oauth_tokens.items() if v.username == username]:
                del self._oauth_tokens[token]

    def oauth_token(self, token: str) -> OAuthToken | None:
        found = self._oauth_tokens.get(token)
        return found if found is not None and found.expires > time.time() else None

    def _issue_oauth(self, app: str, username: str, scopes: frozenset[str]) -> dict[str, Any]:
        token, refresh = secrets.token_hex(32), secrets.token_hex(32)
        self._oauth_tokens[token] = OAuthToken(username, scopes, time.time() + self.oauth_token_ttl)
        self._oauth_refresh[refresh] = (app, username, scopes)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": int(self.oauth_token_ttl),
            "refresh_token": refresh,
            "scope": " ".join(sorted(scopes)),
            "created_at": int(time.time()),
        }


def oauth_user(sim: GitLabSim, token: str) -> tuple[SimUser, frozenset[str]] | None:
    found = sim.oauth_token(token)
    if found is None or found.username not in sim.users:
        return None
    return sim.users[found.username], found.scopes


def _redirect(url: str, query: dict[str, str]) -> Response:
    joiner = "&" if "?" in url else "?"
    return Response(status_code=302, headers={"location": f"{url}{joiner}{urlencode(query)}"})


async def authorize(sim: GitLabSim, request: Request) -> Response:
    response = _authorize(sim, request)
    sim._record(LoggedRequest("GET", "/oauth/authorize", "", response.status_code))
    return response


def _authorize(sim: GitLabSim, request: Request) -> Response:
    query = request.query_params
    app = sim.oauth_apps.get(query.get("client_id", ""))
    redirect = query.get("redirect_uri", "")
    if app is None:
        return HTMLResponse(
            "<h1>An error has occurred</h1><p>Client authentication failed "
            "due to unknown client.</p>",
            200,
        )
    if redirect != app.redirect_uri:
        return HTMLResponse(
            "<h1>An error has occurred</h1><p>The redirect uri included is not valid.</p>", 200
        )
    state = {"state": query["state"]} if "state" in query else {}
    if query.get("response_type") != "code":
        return _redirect(redirect, {"error": "unsupported_response_type", **state})
    scopes = frozenset((query.get("scope") or " ".join(app.scopes)).split())
    if not scopes <= app.scopes:
        return _redirect(redirect, {"error": "invalid_scope", **state})
    if sim.browser_username is None:
        return Response(status_code=302, headers={"location": f"{sim.base_url}/users/sign_in"})
    if sim.deny_authorization:
        return _redirect(redirect, {"error": "access_denied", **state})
    code = secrets.token_hex(32)
    with sim._lock:
        sim._grants[code] = Grant(
            app.uid,
            sim.browser_username,
            redirect,
            scopes,
            query.get("code_challenge"),
            query.get("code_challenge_method", "plain"),
            time.time(),
        )
    return _redirect(redirect, {"code": code, **state})


def _error(status: int, error: str, description: str) -> Response:
    return JSONResponse({"error": error, "error_description": description}, status)


INVALID_GRANT = (
    "The provided authorization grant is invalid, expired, revoked, does not match the "
    "redirection URI used in the authorization request, or was issued to another client."
)


async def token(sim: GitLabSim, request: Request) -> Response:
    raw = (await request.body()).decode("utf-8", "replace")
    if "json" in request.headers.get("content-type", ""):
        try:
            loaded = json.loads(raw) if raw else {}
        except ValueError:
            loaded = {}
        form = {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
    else:
        form = {k: v[-1] for k, v in parse_qs(raw).items()}
    basic = request.headers.get("authorization", "")
    if basic.lower().startswith("basic ") and basic_password(basic):
        user_part = base64.b64decode(basic[6:].strip()).decode().partition(":")[0]
        form.setdefault("client_id", user_part)
        form.setdefault("client_secret", basic_password(basic) or "")
    response = _token(sim, form)
    sim._record(LoggedRequest("POST", "/oauth/token", "", response.status_code))
    return response


def _token(sim: GitLabSim, form: dict[str, str]) -> Response:
    app = sim.oauth_apps.get(form.get("client_id", ""))
    if app is None or not secrets.compare_digest(form.get("client_secret", ""), app.secret):
        return _error(
            401,
            "invalid_client",
            "Client authentication failed due to unknown "
            "client, no client authentication included, or unsupported "
            "authentication method.",
        )
    grant_type = form.get("grant_type")
    with sim._lock:
        if grant_type == "refresh_token":
            held = sim._oauth_refresh.pop(form.get("refresh_token", ""), None)
            if held is None or held[0] != app.uid:
                return _error(400, "invalid_grant", INVALID_GRANT)
            return JSONResponse(sim._issue_oauth(app.uid, held[1], held[2]))
        if grant_type != "authorization_code":
            return _error(
                400,
                "unsupported_grant_type",
                "The authorization grant type is not supported by the authorization server.",
            )
        grant = sim._grants.pop(form.get("code", ""), None)
        if (
            grant is None
            or grant.app != app.uid
            or time.time() - grant.issued > CODE_TTL
            or form.get("redirect_uri") != grant.redirect_uri
        ):
            return _error(400, "invalid_grant", INVALID_GRANT)
        if grant.challenge is not None:
            verifier = form.get("code_verifier")
            if verifier is None:
                return _error(400, "invalid_request", "The code_verifier is missing.")
            made = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                .rstrip(b"=")
                .decode()
                if grant.method == "S256"
                else verifier
            )
            if not secrets.compare_digest(made, grant.challenge):
                return _error(400, "invalid_grant", INVALID_GRANT)
        return JSONResponse(sim._issue_oauth(app.uid, grant.username, grant.scopes))
