"""The sign-in routes: `/signin` (choose a forge), `/signin/{forge}` (off to the forge),
`/signin/{forge}/callback` (the forge's redirect back: the state must be the one this
browser was given), `POST /signout` (with the session's CSRF token), and `GET /api/me`."""

from __future__ import annotations

import hmac
import html
import logging
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from app.forges.registry import display_name
from app.html_page import html_page
from app.signin import cookies
from app.signin.access import readable_scope
from app.signin.csrf import csrf_refusal
from app.signin.forge_client import ForgeUnreachable, SignInRefused
from app.signin.keys import digest, new_secret_token, pkce_challenge
from app.signin.service import DATABASE_FAULTS, SignIn, Viewer
from app.store import web_sessions as session_store

log = logging.getLogger(__name__)


def signin_of(request: Request) -> SignIn:
    signin: SignIn = request.app.state.signin
    return signin


def _public_url(signin: SignIn, request: Request) -> str:
    if "public_url" in signin.settings.model_fields_set:
        return signin.settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


def callback_url(signin: SignIn, request: Request, forge: str) -> str:
    return f"{_public_url(signin, request)}/signin/{forge}/callback"


def _page(title: str, text: str, status: int = 200) -> Response:
    return html_page(f"<h1>{html.escape(title)}</h1>{text}", status, form_action="'self'")


async def signin_page(request: Request) -> Response:
    signin = signin_of(request)
    if not signin.forges:
        return _page(
            "Sign-in is off",
            "<p>The operator has not set up sign-in (README: <em>The run page: sign-in and "
            "who sees what</em>).</p>",
            404,
        )
    try:
        viewer = await signin.viewer_of(request)
    except DATABASE_FAULTS:
        return _page("Database unreachable", "<p>Reload this page in a moment.</p>", 503)
    next_path = cookies.local_path(request.query_params.get("next"))
    if viewer is not None and viewer.forge is not None:
        return _page(
            "Signed in",
            f"<p>You are signed in as <strong>{html.escape(viewer.login)}</strong> "
            f"({html.escape(display_name(viewer.forge))}).</p>" + signout_form(viewer),
        )
    links = "".join(
        f'<li><a href="/signin/{kind}?next={html.escape(next_path)}">Sign in with '
        f"{html.escape(display_name(kind))}</a></li>"
        for kind in signin.forges
    )
    return _page(
        "Sign in to AgentOps",
        f"<p>You see the runs of the repositories you can read.</p><ul>{links}</ul>",
    )


def signout_form(viewer: Viewer) -> str:
    """The sign-out button, with the session's CSRF token."""
    return (
        '<form method="post" action="/signout">'
        f'<input type="hidden" name="csrf" value="{html.escape(viewer.csrf_token or "")}">'
        '<button type="submit">Sign out</button></form>'
    )


async def start(request: Request) -> Response:
    signin = signin_of(request)
    kind = request.path_params["forge"]
    forge = signin.forges.get(kind)
    if forge is None or signin.keys is None:
        return PlainTextResponse(f"no sign-in with {kind!r} here\n", status_code=404)
    state = cookies.SignInState(
        kind,
        new_secret_token(),
        new_secret_token(),
        cookies.local_path(request.query_params.get("next")),
        int(time.time()),
    )
    url = forge.authorize_url(
        callback_url(signin, request, kind), state.state, pkce_challenge(state.verifier)
    )
    response = RedirectResponse(url, status_code=302)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Set-Cookie"] = cookies.state_cookie(
        signin.keys, state, signin.secure_cookies(request)
    )
    return response


def _refused(signin: SignIn, request: Request, reason: str, status: int = 403) -> Response:
    response = _page(
        "Sign-in refused",
        f'<p>{html.escape(reason)}</p><p><a href="/signin">Try again</a>.</p>',
        status,
    )
    response.headers["Set-Cookie"] = cookies.expired_state_cookie(signin.secure_cookies(request))
    return response


async def callback(request: Request) -> Response:
    signin = signin_of(request)
    kind = request.path_params["forge"]
    forge = signin.forges.get(kind)
    if forge is None or signin.keys is None:
        return PlainTextResponse(f"no sign-in with {kind!r} here\n", status_code=404)
    params = request.query_params
    held = cookies.state_of(signin.keys, request.cookies, signin.secure_cookies(request))
    given = params.get("state", "")
    if (
        held is None
        or held.forge != kind
        or not held.fresh()
        or not hmac.compare_digest(held.state.encode(), given.encode())
    ):
        return _refused(
            signin,
            request,
            "This sign-in was not started in this browser, or more than ten minutes ago.",
        )
    if params.get("error") or not params.get("code"):
        return _refused(signin, request, f"{display_name(kind)} did not sign you in.")
    try:
        tokens = await forge.exchange(
            params["code"], callback_url(signin, request, kind), held.verifier
        )
        person = await forge.person(tokens.access)
    except SignInRefused as exc:
        log.info("sign-in with %s refused: %s", kind, exc)
        return _refused(signin, request, str(exc))
    except ForgeUnreachable as exc:
        log.warning("sign-in with %s: the forge did not answer: %s", kind, exc)
        return _refused(signin, request, f"{display_name(kind)} did not answer.", 502)
    session_id = new_secret_token()
    lifetime = int(signin.settings.session_hours * 3600)
    try:
        async with signin.db.admin() as conn:
            await session_store.create_session(
                conn,
                digest(session_id),
                kind,
                person.id,
                person.login,
                signin.keys.seal(tokens.access),
                signin.keys.seal(tokens.refresh) if tokens.refresh else None,
                tokens.expires_in,
                lifetime,
            )
        operator = await signin.settle_operator(kind, person.login, person.id)
    except DATABASE_FAULTS:
        return _refused(signin, request, "The database is unreachable.", 503)
    log.info("%s signed in with %s%s", person.login, kind, " (operator)" if operator else "")
    response = RedirectResponse(held.next_path, status_code=303)
    secure = signin.secure_cookies(request)
    response.headers["Cache-Control"] = "no-store"
    response.headers.append(
        "Set-Cookie",
        cookies.expired_state_cookie(secure),
    )
    response.headers.append(
        "Set-Cookie", cookies.session_cookie(signin.keys, session_id, lifetime, secure)
    )
    return response


async def signout(request: Request) -> Response:
    signin = signin_of(request)
    try:
        viewer = await signin.viewer_of(request)
        if viewer is not None and viewer.session_digest is not None:
            if (refusal := await csrf_refusal(request, signin, viewer)) is not None:
                return refusal
            async with signin.db.admin() as conn:
                await session_store.delete_session(conn, viewer.session_digest)
            signin.cache.forget(viewer.person)
    except DATABASE_FAULTS:
        return _page("Database unreachable", "<p>Try again in a moment.</p>", 503)
    response = RedirectResponse("/signin", status_code=303)
    response.headers["Set-Cookie"] = cookies.expired_session_cookie(signin.secure_cookies(request))
    return response


async def me(request: Request) -> Response:
    """Who the request is, and the workspaces they can access (as this service's tenants)."""
    signin = signin_of(request)
    try:
        viewer = await signin.viewer_of(request)
        if viewer is None:
            return JSONResponse({"error": "not signed in", "signin": "/signin"}, 401)
        scope = await readable_scope(signin, viewer)
    except DATABASE_FAULTS:
        return JSONResponse({"error": "database unavailable"}, 503)
    return JSONResponse(
        {
            "forge": viewer.forge,
            "login": viewer.login,
            "operator": viewer.operator,
            "csrf_token": viewer.csrf_token,
            "workspaces": "all"
            if scope.everything
            else [
                {"tenant_id": t, "repositories": sorted(r for tt, r in scope.pairs if tt == t)}
                for t in sorted(scope.tenant_ids)
            ],
        },
        headers={"Cache-Control": "no-store"},
    )


def routes() -> list[Route]:
    return [
        Route("/signin", signin_page),
        Route("/signin/{forge}", start),
        Route("/signin/{forge}/callback", callback),
        Route("/signout", signout, methods=["POST"]),
        Route("/api/me", me),
    ]
