"""`GET /`: status when configured, else the GitHub App manifest flow to create the App.

The flow: `GET /` sets a visitor cookie and posts the manifest to GitHub with a `state`
bound to that cookie; GitHub sends the visitor back to `/setup/callback?code&state`. The
callback turns the code into the App's credentials only for the visitor the state was
issued to, once, while no App is configured, and hands them over once: on the page, or
in the file `AGENTOPS_SETUP_CREDENTIALS_FILE`.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import ipaddress
import json
import logging
import re
import time
from urllib.parse import urlencode, urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from app import gitlab_secret_page
from app.config import Settings
from app.forges.github.manifest import convert_manifest_code, github_web_url, load_manifest
from app.forges.github.spec import SPEC as GITHUB
from app.forges.registry import FORGES
from app.html_page import html_page
from app.setup_credentials import (
    AppCredentials,
    CredentialsError,
    credentials_from_conversion,
    write_credentials_file,
)
from app.setup_state import (
    VISITOR_COOKIE,
    new_token,
    token_digest,
    visitor_cookie_header,
    well_formed_token,
)
from app.store import DATABASE_ERRORS, Database
from app.store.setup_states import (
    STATE_TTL_SECONDS,
    StateUse,
    release_setup_state,
    remember_setup_state,
    use_setup_state,
)

log = logging.getLogger(__name__)

_CODE = re.compile(r"[A-Za-z0-9_\-]{1,200}")


_NOTHING_DONE = "Nothing was created or shown."
# After the person confirmed on GitHub, the App exists there whatever happens here.
_APP_LEFT = (
    "Nothing secret was shown. The App GitHub created for this attempt is unused: delete it "
    "in GitHub's settings (Developer settings, GitHub Apps)."
)


def _refusal(status: int, title: str, reason: str, outcome: str = _NOTHING_DONE) -> HTMLResponse:
    return html_page(
        f"<h1>{html.escape(title)}</h1><p>{reason}</p><p>{html.escape(outcome)} "
        '<a href="/">Start again from the set-up page</a>.</p>',
        status,
    )


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.service.settings
    return settings


def _database(request: Request) -> Database | None:
    db: Database | None = request.app.state.service.db
    return db


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def index(request: Request) -> Response:
    settings = _settings(request)
    if any(spec.enabled(settings) for spec in FORGES):
        return _status_page(settings)
    db = _database(request)
    cookie = request.cookies.get(VISITOR_COOKIE)
    visitor = cookie if cookie is not None and well_formed_token(cookie) else new_token()
    state = new_token()
    try:
        assert db is not None
        async with db.admin() as conn:
            await remember_setup_state(conn, token_digest(state), token_digest(visitor))
    except DATABASE_ERRORS:
        return html_page(
            "<h1>Set up AgentOps</h1><p>The database is unreachable, and the set-up page "
            "needs it. Check <code>AGENTOPS_DATABASE_URL</code> and reload.</p>",
            503,
        )
    public_url = _public_url(settings, request)
    on_github_com = settings.github_api_url.rstrip("/") == "https://api.github.com"
    # GitHub Enterprise Server may well live on a private network: only github.com is judged
    if on_github_com and (unreachable := unreachable_by_github(public_url)) is not None:
        return html_page(
            "<h1>Set up AgentOps</h1><p>This server's public address is "
            f"<code>{html.escape(public_url)}</code>, and GitHub cannot deliver webhooks "
            f"there: {html.escape(unreachable)}. Set <code>AGENTOPS_PUBLIC_URL</code> to the "
            "https address at which GitHub reaches this server (a reverse proxy or a "
            "tunnel), restart it, and open this page there.</p>",
            200,
        )
    workflows = request.query_params.get("workflows") == "on"
    manifest = json.dumps(load_manifest(public_url, workflows=workflows))
    github = github_web_url(settings.github_api_url)
    action = f"{github}/settings/apps/new?{urlencode({'state': state})}"
    body = (
        "<h1>Set up AgentOps</h1><p>No GitHub App is configured yet. The button below asks "
        "GitHub to create one from <code>app.yml</code>, with webhooks pointing at "
        f"<code>{html.escape(public_url)}{GITHUB.webhook_path}</code>.</p>"
        + _workflows_choice(workflows)
        + await _still_missing(request, settings)
        + f'<form action="{html.escape(action)}" method="post">'
        f'<input type="hidden" name="manifest" value="{html.escape(manifest)}">'
        '<button type="submit">Create the GitHub App</button></form>'
        "<p>For GitLab, set <code>AGENTOPS_GITLAB_URL</code>, <code>AGENTOPS_GITLAB_TOKEN</code>"
        " and <code>AGENTOPS_GITLAB_WEBHOOK_SECRET</code> instead (see README.md); each"
        " project's hook then gets its own token (<code>agentops gitlab-secret PATH</code>).</p>"
    )
    response = html_page(body, form_action=_origin(github))
    response.headers["Cache-Control"] = "no-store"
    response.headers["Set-Cookie"] = visitor_cookie_header(visitor, public_url, STATE_TTL_SECONDS)
    return response


def _public_url(settings: Settings, request: Request) -> str:
    """`AGENTOPS_PUBLIC_URL`, or else the address this page was opened at (its scheme and
    host as a trusted proxy's `X-Forwarded-Proto` and `-Host` give them: app/forwarded.py)."""
    if "public_url" in settings.model_fields_set:
        return settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def unreachable_by_github(url: str) -> str | None:
    """Why github.com cannot send webhooks to `url`, or None."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        return "it is not an https address"
    host = (parts.hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return "it is this machine's own name"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if address.is_loopback or address.is_private or address.is_link_local:
        return "it is a loopback or private address"
    return None


DOCTOR_SECONDS = 10.0
# Anyone may open the page while no forge is configured: the checks (new connections to
# PostgreSQL and Redis, a call to each model provider) run at most this often.
CHECKS_KEPT_SECONDS = 60.0


class _MissingChecks:
    """What `agentops doctor` finds missing for the service, run once a minute at most."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._at = -CHECKS_KEPT_SECONDS
        self._failed: list[str] | None = None

    async def failed(self, settings: Settings) -> list[str] | None:
        """Names of the failed checks; None when they did not finish in time."""
        from app.llm.doctor import service_checks  # the providers' SDKs: only when asked

        async with self._lock:
            if time.monotonic() - self._at >= CHECKS_KEPT_SECONDS:
                try:
                    checks = await asyncio.wait_for(service_checks(settings), DOCTOR_SECONDS)
                    self._failed = [check.name for check in checks if check.ok is False]
                except TimeoutError:
                    self._failed = None
                self._at = time.monotonic()
            return self._failed


async def _still_missing(request: Request, settings: Settings) -> str:
    """What is missing besides the App (models, database, Redis), by name only: the page is
    anonymous, and `agentops doctor` on the server says why and what to set."""
    state = request.app.state
    if not hasattr(state, "missing_checks"):
        state.missing_checks = _MissingChecks()
    failed = await state.missing_checks.failed(settings)
    if failed is None:
        return (
            f"<p>The service's own checks did not finish in {DOCTOR_SECONDS:.0f} s: run "
            "<code>agentops doctor</code> on the server to see what else is missing.</p>"
        )
    if not failed:
        return "<p>The models, the database and Redis answer (<code>agentops doctor</code>).</p>"
    items = "".join(f"<li>{html.escape(name)}</li>" for name in failed)
    return (
        "<h2>Still missing</h2><p>Besides the App, these must work before AgentOps can do "
        f"anything:</p><ul>{items}</ul><p>Run <code>agentops doctor</code> on the server: it "
        "says why each one fails and what to set.</p>"
    )


def _workflows_choice(on: bool) -> str:
    """Whether the App may change CI workflow files: off unless the operator asks."""
    checked = " checked" if on else ""
    now = (
        "The App will ask for the <code>workflows</code> permission."
        if on
        else "The App will not be able to change CI workflow files."
    )
    return (
        '<form method="get" action="/"><p><label><input type="checkbox" name="workflows"'
        f"{checked}> Let AgentOps change CI workflow files (<code>.github/workflows/</code>)"
        '</label> <button type="submit">Update</button></p><p>'
        f"{now} Without it GitHub refuses every push that touches them, and"
        " <code>allow_workflow_edits</code> in a repository's <code>.agentops.yml</code>"
        " cannot work; with it, a steered model that a repository allows to edit workflows"
        " can change what its CI runs with the repository's secrets.</p></form>"
    )


def _status_page(settings: Settings) -> Response:
    forges = [spec.display_name for spec in FORGES if spec.enabled(settings)]
    hooks = ", ".join(f"<code>{spec.webhook_path}</code>" for spec in FORGES)
    body = (
        f"<h1>AgentOps is running</h1><p>Forges: {', '.join(forges)}.</p>"
        f"<p>Webhooks: {hooks}. Health: <code>/readyz</code>.</p>"
    )
    if settings.gitlab_enabled:
        body += gitlab_secret_page.link_html()
    return html_page(body)


async def callback(request: Request) -> Response:
    settings = _settings(request)
    if settings.github_enabled:
        return _refusal(
            409,
            "A GitHub App is configured already",
            "This service has its App; the set-up callback is closed.",
        )
    code = request.query_params.get("code", "")
    state = request.query_params.get("state")
    if not _CODE.fullmatch(code) or not well_formed_token(state):
        return _refusal(
            400,
            "Not a set-up callback",
            "The callback needs the <code>code</code> and <code>state</code> GitHub sends "
            "back after you create the App from the set-up page.",
        )
    assert state is not None
    visitor = request.cookies.get(VISITOR_COOKIE)
    if not well_formed_token(visitor):
        return _refusal(
            403,
            "This browser did not start the set-up",
            "The set-up cookie is missing: the App must be created from the set-up page of "
            "this service, in the same browser.",
        )
    assert visitor is not None
    target = settings.setup_credentials_file
    if target is not None and (target.exists() or target.is_symlink()):
        return html_page(
            "<h1>The credentials file exists already</h1><p>AgentOps does not overwrite "
            f"<code>{html.escape(str(target))}</code>. Move it away and reload this page "
            "(within the hour): nothing was used up.</p>",
            409,
        )
    db = _database(request)
    try:
        assert db is not None
        async with db.admin() as conn:
            use = await use_setup_state(conn, token_digest(state), token_digest(visitor))
    except DATABASE_ERRORS:
        return html_page("<h1>Database unreachable</h1><p>Reload this page in a moment.</p>", 503)
    if use is StateUse.USED:
        return _refusal(
            403,
            "This set-up link was used already",
            "The App's credentials are handed over once and are not shown again.",
        )
    if use is not StateUse.ACCEPTED:
        return _refusal(
            403,
            "Unknown set-up state",
            "The state is not one this service issued to this browser, or it is more than "
            "an hour old.",
        )
    try:
        return await _convert(settings, code)
    except _NoAnswer as exc:
        # GitHub did not answer: the same link may try again (a code GitHub did use is
        # refused by GitHub then, which the page says)
        with contextlib.suppress(*DATABASE_ERRORS):
            async with db.admin() as conn:
                await release_setup_state(conn, token_digest(state), token_digest(visitor))
        return _refusal(
            502,
            exc.title,
            html.escape(exc.reason),
            "Reload this page to try again, within the hour of creating the App, once this "
            "server reaches GitHub (a proxy? HTTPS_PROXY?).",
        )


class _NoAnswer(Exception):
    def __init__(self, title: str, reason: str) -> None:
        super().__init__(reason)
        self.title, self.reason = title, reason


async def _convert(settings: Settings, code: str) -> Response:
    try:
        data = await convert_manifest_code(settings.github_api_url, code)
        credentials = credentials_from_conversion(data)
    except httpx.HTTPStatusError as exc:
        status = exc.response.status_code
        if "x-github-request-id" not in exc.response.headers:
            # every answer of GitHub's API carries its request id; this one came from a
            # proxy or gateway on the way
            log.warning("manifest conversion did not reach GitHub: HTTP %s on the way", status)
            raise _NoAnswer(
                "GitHub was not reached",
                f"Something on the way answered HTTP {status}, not GitHub.",
            ) from exc
        log.warning("manifest conversion refused by GitHub: HTTP %s", status)
        return _refusal(
            502,
            "GitHub did not hand over the App",
            f"GitHub answered HTTP {status} to the code: codes work once, for an hour.",
            _APP_LEFT,
        )
    except httpx.HTTPError as exc:
        log.warning("manifest conversion got no answer from %s: %s", settings.github_api_url, exc)
        reached = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.ProxyError)
        title = "GitHub did not answer" if reached else "GitHub was not reached"
        raise _NoAnswer(title, f"{type(exc).__name__} (the service's log says more).") from exc
    except (CredentialsError, ValueError) as exc:
        reason = str(exc) if isinstance(exc, CredentialsError) else "GitHub's answer is not JSON"
        log.warning("manifest conversion answer unusable: %s", reason)
        return _refusal(502, "GitHub's answer is unusable", html.escape(reason), _APP_LEFT)
    log.info(
        "GitHub App %s (id %s) created through the set-up page",
        credentials.slug,
        credentials.app_id,
    )
    if settings.setup_credentials_file is not None:
        return _saved(settings, credentials)
    return _shown(credentials)


def _saved(settings: Settings, credentials: AppCredentials) -> Response:
    target = settings.setup_credentials_file
    assert target is not None
    try:
        write_credentials_file(target, credentials)
    except OSError as exc:
        log.error("could not write %s: %s; showing the credentials once instead", target, exc)
        return _shown(credentials, f"Writing {target} failed ({exc.strerror}). ")
    return html_page(
        f"<h1>GitHub App {html.escape(credentials.slug)} created</h1><p>Its settings (App id, "
        f"slug, webhook secret, client id and secret, and private key) were written to "
        f"<code>{html.escape(str(target))}</code>, readable by its owner only. Load them into "
        "the service's environment (e.g. <code>set -a; . FILE</code>, or Compose's "
        "<code>env_file</code>) and restart the service. They are not shown here.</p>",
        secret=True,
    )


def _shown(credentials: AppCredentials, note: str = "") -> Response:
    return html_page(
        f"<h1>GitHub App {html.escape(credentials.slug)} created</h1><p>{html.escape(note)}"
        "Put these settings in the service's environment and restart it. This page is shown "
        "once: this link will not show them again.</p>"
        f"<pre>{html.escape(chr(10).join(credentials.env_lines()[:-1]))}</pre>"
        "<p>The private key (save it to a file for <code>AGENTOPS_GITHUB_PRIVATE_KEY_PATH"
        "</code>, or use the one-line <code>AGENTOPS_GITHUB_PRIVATE_KEY</code> below):</p>"
        f"<pre>{html.escape(credentials.pem)}</pre>"
        f"<pre>{html.escape(credentials.env_lines()[-1])}</pre>",
        secret=True,
    )
