"""Sign-in with GitHub or GitLab, and who sees what (issue 15 §2).

The seam for the run pages (`app/runpage/`), one call each::

    from app import signin

    viewer = await signin.viewer_of(request)      # None: not signed in (→ /signin?next=…)
    if viewer is None or not await signin.can_read(request, viewer, run):
        return 404                                 # never 403: a run's existence is private
    buttons = await signin.can_write(request, viewer, run)    # Cancel / Retry
    refusal = await signin.csrf_refusal(request, viewer)     # on every POST: a 403 or None
    scope = await signin.readable_scope(request, viewer)     # the runs list:
    #   scope.everything → the admin listing; else
    #   async with db.readers(scope.tenant_ids) as rc: list_readable_runs(rc, …, repos=scope.pairs)

`viewer.csrf_token` goes in every form (`<input type="hidden" name="csrf">`) or the
`X-CSRF-Token` header of a script's POST.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app.signin import access, csrf
from app.signin.access import Scope
from app.signin.cookies import SESSION_COOKIE, SESSION_COOKIES
from app.signin.routes import routes, signin_of, signout_form
from app.signin.service import DATABASE_FAULTS, SignIn, Viewer
from app.store.runs import Run

__all__ = [
    "DATABASE_FAULTS",
    "SESSION_COOKIE",
    "SESSION_COOKIES",
    "Scope",
    "SignIn",
    "Viewer",
    "can_read",
    "can_write",
    "csrf_refusal",
    "readable_scope",
    "routes",
    "signout_form",
    "viewer_of",
]


async def viewer_of(request: Request) -> Viewer | None:
    return await signin_of(request).viewer_of(request)


async def can_read(request: Request, viewer: Viewer, run: Run) -> bool:
    return await access.can_read(signin_of(request), viewer, run)


async def can_write(request: Request, viewer: Viewer, run: Run) -> bool:
    return await access.can_write(signin_of(request), viewer, run)


async def readable_scope(request: Request, viewer: Viewer) -> Scope:
    return await access.readable_scope(signin_of(request), viewer)


async def csrf_refusal(request: Request, viewer: Viewer) -> Response | None:
    return await csrf.csrf_refusal(request, signin_of(request), viewer)
