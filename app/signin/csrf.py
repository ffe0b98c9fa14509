"""CSRF protection of every state-changing request of a signed-in person: the session's
token (`Viewer.csrf_token`, in a hidden form field `csrf` or the `X-CSRF-Token` header)
must come with it, and an `Origin` header, when the browser sends one, must be this
service's. A request with the admin token (a bearer header no browser adds on its own)
needs neither."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from app.signin.service import SignIn, Viewer

CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


async def csrf_refusal(request: Request, signin: SignIn, viewer: Viewer) -> Response | None:
    """None when the request may change state as `viewer`; else the 403 to send."""
    if viewer.session_digest is None:  # the admin token
        return None
    origin = request.headers.get("origin")
    allowed = {_origin(str(request.base_url)), _origin(signin.settings.public_url)}
    if origin is not None and origin.lower() not in allowed:
        return PlainTextResponse("cross-site request refused\n", status_code=403)
    given = request.headers.get(CSRF_HEADER)
    if given is None and "x-www-form-urlencoded" in request.headers.get("content-type", ""):
        # parsed here (python-multipart is not installed); the body stays readable after
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        given = form.get(CSRF_FIELD, [None])[0]
    if signin.keys is None or not signin.keys.csrf_matches(viewer.session_digest, given):
        return PlainTextResponse(
            "missing or wrong CSRF token: reload the page and try again\n", status_code=403
        )
    return None
