"""The App's user authorization (GitHub's OAuth web flow) and what a user-to-server token
(`ghu_…`) may read.

Set-up: the App's client is `sim.client_id` / `sim.client_secret`; `set_callback_url(url)`
registers its callback URL (unset: any `redirect_uri` is taken); `sign_in_browser(login)`
is the person signed in to github.com in the browser that follows the authorize link
(None: nobody, GitHub's login page answers); `deny_authorization = True` is a person who
presses Cancel.

`GET /login/oauth/authorize?client_id&redirect_uri&state[&code_challenge&
code_challenge_method=S256]` answers 302 to `redirect_uri?code=C&state=S` (a code for one
use, ten minutes); a `redirect_uri` off the registered callback URL answers 302 to the
callback with `error=redirect_uri_mismatch`. `POST /login/oauth/access_token` (form or
JSON; JSON back with `Accept: application/json`, else a form) takes `client_id`,
`client_secret`, `code`, `redirect_uri`, `code_verifier` (when the code had a challenge),
or `grant_type=refresh_token` + `refresh_token`, and answers 200 either way, with
`access_token` (`ghu_`, `expires_in` `user_token_ttl`), `refresh_token` (`ghr_`), or with
`error`: `incorrect_client_credentials`, `bad_verification_code`, `redirect_uri_mismatch`,
`bad_refresh_token`, as GitHub does.

An account's id is `user_json`'s (a digest of its login) until `rename_user(login, new)`:
the account keeps its id, its tokens and its repository permissions under the new login,
and `login` is free: whoever signs in with it next is a new account, with a new id (as
when a GitHub login is renamed and registered again by someone else).

With a user token: `GET /user` (its `id` the account's); `GET /user/installations` (the
App's installations where the user has explicit access to a repository: `{"total_count",
"installations"}`);
`GET /user/installations/{id}/repositories` (those repositories); `GET /repos/{owner}/
{repo}` or `GET /repositories/{id}` when the user can read it (a permission other than
"none", or a public repository), with `permissions` {admin, maintain, push, triage,
pull}; anything else of the repository's for reading. `revoke_user_tokens(login)` ends
a person's tokens; `user_tokens_issued` lists them. A user token never writes here (403).
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
from starlette.responses import HTMLResponse, Response

from tests.sim.github.http import json_response, paginate, route
from tests.sim.github.shapes import repo_json
from tests.sim.github.state import Call, GitHubState, SimRepo, user_json
from tests.sim.skeleton import LoggedRequest, SimError

if TYPE_CHECKING:
    from tests.sim.github.app import GitHubSim

CODE_TTL = 600.0
LEVELS = ["none", "read", "triage", "write", "maintain", "admin"]


@dataclass
class IssuedCode:
    login: str
    redirect_uri: str
    challenge: str | None
    issued: float


class OAuthState(GitHubState):
    """The App's OAuth client, the browser's person, codes and user tokens."""

    def _init_oauth(self, user_token_ttl: float) -> None:
        self.client_id = "Iv1." + secrets.token_hex(8)
        self.client_secret = secrets.token_hex(20)
        self.callback_url: str | None = None
        self.browser_login: str | None = None
        self.deny_authorization = False
        self.user_token_ttl = user_token_ttl
        self.user_tokens_issued: list[str] = []
        self._codes: dict[str, IssuedCode] = {}
        self._user_tokens: dict[str, tuple[str, float]] = {}  # token -> (login, expires)
        self._refresh_tokens: dict[str, str] = {}  # refresh token -> login
        self._account_ids: dict[str, int] = {}  # login -> id, where not user_json's
        self._accounts_made = 0

    def account_id(self, login: str) -> int:
        """The id of the account that has `login` now."""
        made: int = user_json(login)["id"]
        return self._account_ids.get(login, made)

    def rename_user(self, login: str, new_login: str) -> int:
        """The account of `login` is now `new_login` (same id, tokens and permissions);
        `login` belongs to a new account from now on: its id is returned."""
        with self._lock:
            self._account_ids[new_login] = self.account_id(login)
            self._accounts_made += 1
            made = 5_000_000_000 + self._accounts_made  # above any crc32: no one else's
            self._account_ids[login] = made
            for token, (holder, expires) in list(self._user_tokens.items()):
                if holder == login:
                    self._user_tokens[token] = (new_login, expires)
            for token, holder in list(self._refresh_tokens.items()):
                if holder == login:
                    self._refresh_tokens[token] = new_login
            for repo in self._repos.values():
                if login in repo.permissions:
                    repo.permissions[new_login] = repo.permissions.pop(login)
            return made

    def set_callback_url(self, url: str | None) -> None:
        self.callback_url = url

    def sign_in_browser(self, login: str | None) -> None:
        self.browser_login = login

    def revoke_user_tokens(self, login: str) -> None:
        with self._lock:
            for table in (self._user_tokens, self._refresh_tokens):
                for token in [t for t, v in table.items() if _login(v) == login]:
                    del table[token]

    def user_of_token(self, token: str) -> str | None:
        found = self._user_tokens.get(token)
        if found is None or found[1] < time.time():
            return None
        return found[0]

    def role_of(self, repo: SimRepo, login: str) -> str:
        owner_account = self._installations[repo.installation_id].account
        return repo.permissions.get(login, "admin" if login == owner_account else "none")

    def user_reads(self, repo: SimRepo, login: str) -> bool:
        installation = self._installations.get(repo.installation_id)
        if installation is None or installation.suspended:
            return False
        return self.role_of(repo, login) != "none" or not repo.private

    def _issue_user_token(self, login: str) -> dict[str, Any]:
        token = "ghu_" + secrets.token_urlsafe(27)
        refresh = "ghr_" + secrets.token_urlsafe(54)
        self._user_tokens[token] = (login, time.time() + self.user_token_ttl)
        self._refresh_tokens[refresh] = login
        self.user_tokens_issued.append(token)
        return {
            "access_token": token,
            "expires_in": int(self.user_token_ttl),
            "refresh_token": refresh,
            "refresh_token_expires_in": 15897600,
            "token_type": "bearer",
            "scope": "",
        }


def _login(value: str | tuple[str, float]) -> str:
    return value[0] if isinstance(value, tuple) else value


def _redirect(url: str, query: dict[str, str]) -> Response:
    joiner = "&" if "?" in url else "?"
    return Response(status_code=302, headers={"location": f"{url}{joiner}{urlencode(query)}"})


def _callback_matches(registered: str | None, given: str) -> bool:
    """GitHub: the host and port must match; the path may be a subdirectory."""
    if registered is None:
        return True
    return given == registered or given.startswith(registered.rstrip("/") + "/")


async def authorize(sim: GitHubSim, request: Request) -> Response:
    query = request.query_params

    def done(response: Response) -> Response:
        sim._record(LoggedRequest("GET", "/login/oauth/authorize", "", response.status_code))
        return response

    if query.get("client_id") != sim.client_id:
        return done(HTMLResponse("<h1>404</h1>", status_code=404))
    redirect = query.get("redirect_uri") or sim.callback_url or ""
    state = {"state": query["state"]} if "state" in query else {}
    if not _callback_matches(sim.callback_url, redirect):
        return done(
            _redirect(
                str(sim.callback_url),
                {
                    "error": "redirect_uri_mismatch",
                    "error_description": "The redirect_uri MUST match the registered callback "
                    "URL for this application.",
                    **state,
                },
            )
        )
    if sim.browser_login is None:
        return done(HTMLResponse("<h1>Sign in to GitHub</h1>", status_code=200))
    if sim.deny_authorization:
        return done(_redirect(redirect, {"error": "access_denied", **state}))
    code = secrets.token_hex(10)
    challenge = query.get("code_challenge")
    if challenge is not None and query.get("code_challenge_method", "plain") != "S256":
        challenge = "plain:" + challenge
    with sim._lock:
        sim._codes[code] = IssuedCode(sim.browser_login, redirect, challenge, time.time())
    return done(_redirect(redirect, {"code": code, **state}))


def _verifier_matches(challenge: str | None, verifier: str | None) -> bool:
    if challenge is None:
        return True
    if verifier is None:
        return False
    if challenge.startswith("plain:"):
        return secrets.compare_digest(challenge[6:], verifier)
    made = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    return secrets.compare_digest(made.decode(), challenge)


async def access_token(sim: GitHubSim, request: Request) -> Response:
    raw = (await request.body()).decode("utf-8", "replace")
    if "json" in request.headers.get("content-type", ""):
        try:
            loaded = json.loads(raw) if raw else {}
        except ValueError:
            loaded = {}
        form = {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
    else:
        form = {k: v[-1] for k, v in parse_qs(raw).items()}
    answer = _token_answer(sim, form)
    sim._record(LoggedRequest("POST", "/login/oauth/access_token", "", 200))
    if "json" in request.headers.get("accept", ""):
        return json_response(200, answer)
    return Response(
        urlencode({k: str(v) for k, v in answer.items()}),
        media_type="application/x-www-form-urlencoded",
    )


def _error(error: str, description: str) -> dict[str, Any]:
    return {
        "error": error,
        "error_description": description,
        "error_uri": "https://docs.github.com/apps/troubleshooting-authorization-request-errors",
    }


def _token_answer(sim: GitHubSim, form: dict[str, str]) -> dict[str, Any]:
    if form.get("client_id") != sim.client_id or not secrets.compare_digest(
        form.get("client_secret", ""), sim.client_secret
    ):
        return _error(
            "incorrect_client_credentials",
            "The client_id and/or client_secret passed are incorrect.",
        )
    with sim._lock:
        if form.get("grant_type") == "refresh_token":
            login = sim._refresh_tokens.pop(form.get("refresh_token", ""), None)
            if login is None:
                return _error(
                    "bad_refresh_token", "The refresh token passed is incorrect or expired."
                )
            return sim._issue_user_token(login)
        issued = sim._codes.pop(form.get("code", ""), None)
        if issued is None or time.time() - issued.issued > CODE_TTL:
            return _error("bad_verification_code", "The code passed is incorrect or expired.")
        if form.get("redirect_uri") and form["redirect_uri"] != issued.redirect_uri:
            return _error(
                "redirect_uri_mismatch",
                "The redirect_uri MUST match the registered callback URL for this application.",
            )
        if not _verifier_matches(issued.challenge, form.get("code_verifier")):
            return _error("bad_verification_code", "The code_verifier does not match.")
        return sim._issue_user_token(issued.login)


# --- the API with a user token ---------------------------------------------------------


def _user(call: Call) -> str:
    if call.user is None:
        raise SimError(403, "Resource not accessible by integration")
    return call.user


@route("GET", "/user")
def _get_user(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    login = _user(call)
    return 200, {**user_json(login), "id": sim.account_id(login)}


def _explicit_repos(sim: GitHubSim, login: str, installation_id: int) -> list[SimRepo]:
    return [
        r
        for r in sim._repos.values()
        if r.installation_id == installation_id
        and sim.role_of(r, login) != "none"
        and sim.user_reads(r, login)
    ]


@route("GET", "/user/installations")
def _user_installations(sim: GitHubSim, call: Call) -> Response:
    login = _user(call)
    found = [
        {
            "id": i.id,
            "account": user_json(i.account),
            "app_id": sim.app_id,
            "target_type": "Organization",
            "repository_selection": "selected",
        }
        for i in sim._installations.values()
        if _explicit_repos(sim, login, i.id)
    ]
    return _wrapped(paginate(call, found), "installations", len(found))


@route("GET", "/user/installations/{installation_id:int}/repositories")
def _user_installation_repos(sim: GitHubSim, call: Call) -> Response:
    login = _user(call)
    repos = _explicit_repos(sim, login, int(call.params["installation_id"]))
    if not repos:
        raise SimError(404, "Not Found")
    found = [repo_json(r, call.web, call.api) for r in repos]
    return _wrapped(paginate(call, found), "repositories", len(found))


def _wrapped(response: Response, key: str, total: int) -> Response:
    response.body = json.dumps(
        {"total_count": total, key: json.loads(bytes(response.body))}
    ).encode()
    response.headers["content-length"] = str(len(response.body))
    return response


def user_permissions(sim: GitHubSim, repo: SimRepo, login: str) -> dict[str, bool]:
    role = sim.role_of(repo, login)
    rank = LEVELS.index(role) if role in LEVELS else 0
    readable = sim.user_reads(repo, login)
    return {
        "admin": rank >= LEVELS.index("admin"),
        "maintain": rank >= LEVELS.index("maintain"),
        "push": rank >= LEVELS.index("write"),
        "triage": rank >= LEVELS.index("triage"),
        "pull": readable,
    }
