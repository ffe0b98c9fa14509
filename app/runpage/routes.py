"""`GET /runs`, `GET /runs/{id}`, `GET /runs/{id}/events` (Server-Sent Events) and the
Cancel / Retry buttons (`POST /runs/{id}/cancel|retry`).

Who sees what is app/signin's: a run a viewer cannot read is a 404, as one that does not
exist. The buttons act as the signed-in person through the path a comment command takes:
a control run (`cancel` or `retry`, trigger `web`, naming the run) that the worker
authorises with the same write-access check before it acts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from app import signin
from app.runpage import render
from app.runpage.control import control_request
from app.runpage.hub import CatchUp, RunEventHub
from app.runpage.runs_list import runs_page as runs_list_page
from app.runpage.stream_quota import StreamQuota
from app.security_headers import SAME_ORIGIN_FORMS_REFERRER_POLICY
from app.signin.routes import signin_of
from app.store import Database
from app.store import llm_calls as llm_store
from app.store import run_events as event_store
from app.store import runs as run_store
from app.store import steps as step_store
from app.store import tenants as tenant_store
from app.store.readers import (
    get_readable_run,
    list_readable_runs,
    list_runs_filtered_all_tenants,
)
from app.store.run_events import RunEvent
from app.store.runs import Run
from app.web_service import Service

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
IDLE_CATCH_UP = 15.0  # seconds of silence after which a stream reads the database itself
RECHECK_SECONDS = 60.0  # how often a long stream checks its viewer may still read the run
HISTORY_PAGE = 500
_STATIC = Path(__file__).parent / "static"
_FILES = {
    "live.js": ("text/javascript; charset=utf-8", (_STATIC / "live.js").read_bytes()),
    "page.css": ("text/css; charset=utf-8", (_STATIC / "page.css").read_bytes()),
    "list.js": ("text/javascript; charset=utf-8", (_STATIC / "list.js").read_bytes()),
}


def _db(request: Request) -> Database:
    """The database, through sign-in's handle (DatabaseNotReady, one of
    `signin.DATABASE_FAULTS`, while the pools are not up)."""
    return signin_of(request).db


def hub_of(request: Request) -> RunEventHub:
    hub: RunEventHub = request.app.state.run_events
    return hub


def _html(text: str, status: int = 200) -> HTMLResponse:
    headers = {
        "Content-Security-Policy": CSP,
        "Cache-Control": "no-store",
        "Referrer-Policy": SAME_ORIGIN_FORMS_REFERRER_POLICY,
    }
    return HTMLResponse(text, status_code=status, headers=headers)


def _not_found(run_id: object) -> HTMLResponse:
    return _html(render.message_page("Not found", f"There is no run {run_id} for you here."), 404)


def _unavailable() -> HTMLResponse:
    return _html(render.message_page("Database unreachable", "Reload this page in a moment."), 503)


def _to_signin(request: Request) -> Response:
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/signin?next={quote(path, safe='/')}", status_code=303)


def _run_id(request: Request) -> int | None:
    raw = str(request.path_params["run_id"])
    return int(raw) if raw.isdigit() and len(raw) < 19 else None


async def _readable_run(request: Request, viewer: signin.Viewer, run_id: int) -> Run | None:
    """The run, if `viewer` may read it (else None: shown as a 404)."""
    async with _db(request).admin() as conn:
        run = await run_store.get_run_all_tenants(conn, run_id)
    if run is None or not await signin.can_read(request, viewer, run):
        return None
    return run


def _signout(viewer: signin.Viewer) -> str:
    return signin.signout_form(viewer) if viewer.session_digest is not None else ""


async def run_page(request: Request) -> Response:
    run_id = _run_id(request)
    try:
        viewer = await signin.viewer_of(request)
        if viewer is None:
            return _to_signin(request)
        if run_id is None or (run := await _readable_run(request, viewer, run_id)) is None:
            return _not_found(request.path_params["run_id"])
        db = _db(request)
        before = _before(request)
        shown = signin_of(request).settings.run_page_events
        async with db.readers([run.tenant_id]) as rc:
            steps = await step_store.list_steps(rc.conn, run.id)
            events = await event_store.events_before(rc, run.id, before, shown + 1)
            usage = await llm_store.llm_usage_of_run(rc, run.id)
        earlier, events = len(events) > shown, events[-shown:]  # one more read: any before?
        # the buttons act as a person: the admin token's bearer is nobody, and gets none
        signed_in = viewer.session_digest is not None
        writable = signed_in and await signin.can_write(request, viewer, run)
    except signin.DATABASE_FAULTS:
        return _unavailable()
    notice = {"cancel": "Cancel asked.", "retry": "Retry asked."}.get(
        request.query_params.get("asked", ""), ""
    )
    state = render.PageState(
        run,
        steps,
        events,
        usage,
        writable,
        viewer.csrf_token or "",
        viewer.login,
        _signout(viewer),
        notice,
        window=render.EventWindow(earlier=earlier, latest=before is None),
    )
    return _html(render.run_page(state))


def _before(request: Request) -> int | None:
    """`?before=`: the page of events numbered below it (None: the latest events)."""
    raw = request.query_params.get("before", "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def _resume_from(request: Request) -> int:
    """The last event the viewer has: `Last-Event-ID` (a reconnecting browser), else
    `?after=` (the page's last event, for the first connection)."""
    for raw in (request.headers.get("last-event-id"), request.query_params.get("after")):
        if raw is not None and raw.strip().isdigit() and len(raw.strip()) < 10:
            return int(raw.strip())
    return 0


async def run_events(request: Request) -> Response:
    run_id = _run_id(request)
    try:
        viewer = await signin.viewer_of(request)
        if viewer is None or run_id is None:
            return Response("not found\n", status_code=404, media_type="text/plain")
        run = await _readable_run(request, viewer, run_id)
    except signin.DATABASE_FAULTS:
        return Response("database unavailable\n", status_code=503, media_type="text/plain")
    if run is None:
        return Response("not found\n", status_code=404, media_type="text/plain")
    quota = hub_of(request).quota
    if quota.open_streams(viewer.person) >= quota.limit:
        return Response(
            f"too many live streams open ({quota.limit}): close some run pages\n",
            status_code=429,
            media_type="text/plain",
            headers={"Retry-After": "30"},
        )
    stream = _counted(quota, viewer, _stream(request, viewer, run, _resume_from(request)))
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


async def _counted(
    quota: StreamQuota, viewer: signin.Viewer, stream: AsyncGenerator[str, None]
) -> AsyncIterator[str]:
    """`stream`, counted against the person's quota while it is open."""
    with quota.held(viewer.person) as admitted:
        if not admitted:  # others were opened between the check and the first byte
            yield "event: end\ndata: {}\n\n"
            return
        async with contextlib.aclosing(stream):  # its subscription ends with it, now
            async for chunk in stream:
                yield chunk


def _sse(event: RunEvent) -> str:
    return f"id: {event.seq}\ndata: {render.live_message(event)}\n\n"


async def _stream(
    request: Request, viewer: signin.Viewer, run: Run, last: int
) -> AsyncGenerator[str, None]:
    """The history after `last`, then the live tail: each event once, in order."""
    db = _db(request)
    yield "retry: 2000\n\n"
    async with hub_of(request).subscribe(run.id, run.tenant_id) as sub:
        # a run long finished (maybe before events were recorded, or its last event was
        # lost) ends after its history; one that just finished still sends its last events
        ended = _long_finished(run)

        async def read_after() -> list[RunEvent]:
            async with db.readers([run.tenant_id]) as rc:
                return await event_store.events_after(rc, run.id, last, HISTORY_PAGE)

        async def catch_up() -> AsyncIterator[RunEvent]:
            nonlocal last
            while True:
                events = await read_after()
                for event in events:
                    last = event.seq
                    yield event
                if len(events) < HISTORY_PAGE:
                    return

        checked = time.monotonic()
        pending: list[RunEvent | CatchUp] = [CatchUp()]  # the history first
        while True:
            for item in pending:
                if isinstance(item, CatchUp) or item.seq > last + 1:
                    async for event in catch_up():  # a gap: fill it from the database
                        ended = ended or event.kind == "run_ended"
                        yield _sse(event)
                elif item.seq == last + 1:
                    last = item.seq
                    ended = ended or item.kind == "run_ended"
                    yield _sse(item)
                # item.seq <= last: already sent
            if ended:
                yield "event: end\ndata: {}\n\n"
                return
            try:
                first = await asyncio.wait_for(sub.queue.get(), IDLE_CATCH_UP)
                pending = [first]
                while not sub.queue.empty():
                    pending.append(sub.queue.get_nowait())
            except TimeoutError:
                pending = [CatchUp()]
                yield ": still here\n\n"
                ended = await _finished(db, run)
            if time.monotonic() - checked > RECHECK_SECONDS:
                checked = time.monotonic()
                if not await _still_readable(request, run):
                    yield "event: end\ndata: {}\n\n"
                    return


def _long_finished(run: Run) -> bool:
    if not run.finished or run.finished_at is None:
        return False
    return (datetime.now(UTC) - run.finished_at).total_seconds() > IDLE_CATCH_UP


async def _finished(db: Database, run: Run) -> bool:
    """Whether the run has finished (after a silence: its end event may never come)."""
    try:
        async with db.readers([run.tenant_id]) as rc:
            now = await get_readable_run(rc, run.id)
    except signin.DATABASE_FAULTS:
        return False
    return now is None or now.finished


async def _still_readable(request: Request, run: Run) -> bool:
    """The session is still live and the person may still read the run (minutes-old
    answers are cached by app/signin)."""
    try:
        viewer = await signin.viewer_of(request)
        return viewer is not None and await signin.can_read(request, viewer, run)
    except signin.DATABASE_FAULTS:
        return True  # the database's blip ends no stream; the next check decides


async def runs_list(request: Request) -> Response:
    params = request.query_params
    repo = params.get("repo", "").strip()[:200]
    status = params.get("status", "")
    status = status if status in render.STATUSES else ""
    before_raw = params.get("before", "")
    before = int(before_raw) if before_raw.isdigit() and len(before_raw) < 19 else None
    limit = 50
    try:
        viewer = await signin.viewer_of(request)
        if viewer is None:
            return _to_signin(request)
        scope = await signin.readable_scope(request, viewer)
        db = _db(request)
        filters = {"before": before, "status": status or None, "repo": repo or None}
        if scope.everything:
            async with db.admin() as conn:
                runs = await list_runs_filtered_all_tenants(conn, limit + 1, **filters)  # type: ignore[arg-type]
        else:
            async with db.readers(scope.tenant_ids) as rc:
                runs = await list_readable_runs(
                    rc,
                    limit + 1,
                    repos=scope.pairs,
                    repo_ids=scope.repo_ids,
                    **filters,  # type: ignore[arg-type]
                )
    except signin.DATABASE_FAULTS:
        return _unavailable()
    next_before = runs[limit - 1].id if len(runs) > limit else None
    page = runs_list_page(
        runs[:limit], viewer.login, _signout(viewer), repo, status, next_before, before
    )
    return _html(page)


async def run_action(request: Request) -> Response:
    """Cancel or Retry, as the signed-in person: a control run naming this run."""
    action = str(request.path_params["action"])
    run_id = _run_id(request)
    if action not in ("cancel", "retry"):
        return _not_found(request.path_params["run_id"])
    try:
        viewer = await signin.viewer_of(request)
        if viewer is None or run_id is None:
            return _not_found(request.path_params["run_id"])
        if (refusal := await signin.csrf_refusal(request, viewer)) is not None:
            return refusal
        run = await _readable_run(request, viewer, run_id)
        if run is None:
            return _not_found(run_id)
        if viewer.session_digest is None or not await signin.can_write(request, viewer, run):
            text = (
                "Only a signed-in person with write access to the repository can "
                + action
                + " its runs (the admin token acts as nobody)."
            )
            return _html(render.message_page("Not allowed", text, viewer.login), 403)
        db = _db(request)
        async with db.admin() as conn:
            tenant = await tenant_store.get_tenant(conn, run.tenant_id)
        if tenant is None:
            return _not_found(run_id)
        asked = control_request(run, tenant, action, viewer.login, "run page")
        service: Service = request.app.state.service
        result = await service.intake.accept(asked, f"web-{uuid.uuid4().hex}", "run_page")
    except signin.DATABASE_FAULTS:
        return _unavailable()
    log.info(
        "run %s: %s asked on the run page by %s (%s)", run.id, action, viewer.login, result.text
    )
    return RedirectResponse(f"/runs/{run.id}?asked={action}", status_code=303)


async def static_file(request: Request) -> Response:
    found = _FILES.get(str(request.path_params["name"]))
    if found is None:
        return Response("not found\n", status_code=404, media_type="text/plain")
    media_type, body = found
    return Response(body, media_type=media_type, headers={"Cache-Control": "max-age=300"})


def routes() -> list[Route]:
    return [
        Route("/runs", runs_list),
        Route("/runs/static/{name}", static_file),
        Route("/runs/{run_id}", run_page),
        Route("/runs/{run_id}/events", run_events),
        Route("/runs/{run_id}/{action}", run_action, methods=["POST"]),
    ]
