"""The admin JSON API (`GET /api/runs`, `GET /api/runs/{id}`) for a signed-in person: the
runs of their workspaces only (row-level security over exactly those tenants), and a run
they cannot read is a 404, as one that does not exist."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from app.signin.access import can_read, can_write, readable_scope
from app.signin.routes import signin_of
from app.signin.service import DATABASE_FAULTS, Viewer
from app.store import runs as run_store
from app.store import steps as step_store
from app.store.readers import list_readable_runs, list_runs_filtered_all_tenants


async def signed_in_viewer(request: Request) -> Viewer | None:
    """The person of the session cookie (not the admin token: web.py checks that)."""
    viewer = await signin_of(request).viewer_of(request)
    return viewer if viewer is not None and viewer.session_digest is not None else None


async def person_runs(request: Request, viewer: Viewer) -> Response:
    signin = signin_of(request)
    params = request.query_params
    try:
        limit = min(max(int(params.get("limit", "50")), 1), 500)
        before = int(params["before"]) if "before" in params else None
    except ValueError:
        return PlainTextResponse("limit and before must be whole numbers\n", status_code=400)
    status, repo = params.get("status"), params.get("repo")
    try:
        scope = await readable_scope(signin, viewer)
        if scope.everything:
            async with signin.db.admin() as conn:
                runs = await list_runs_filtered_all_tenants(
                    conn, limit, before=before, status=status, repo=repo
                )
        else:
            async with signin.db.readers(scope.tenant_ids) as rc:
                runs = await list_readable_runs(
                    rc,
                    limit,
                    before=before,
                    status=status,
                    repo=repo,
                    repos=scope.pairs,
                    repo_ids=scope.repo_ids,
                )
    except DATABASE_FAULTS:
        return PlainTextResponse("database unavailable\n", status_code=503)
    return JSONResponse(
        {"runs": [r.as_json() for r in runs]}, headers={"Cache-Control": "no-store"}
    )


async def person_run(request: Request, viewer: Viewer, run_id: int) -> Response:
    signin = signin_of(request)
    try:
        async with signin.db.admin() as conn:
            run = await run_store.get_run_all_tenants(conn, run_id)
        if run is None or not await can_read(signin, viewer, run):
            return PlainTextResponse(f"no run {run_id}\n", status_code=404)
        async with signin.db.tenant(run.tenant_id) as tc:
            now = await step_store.run_snapshot(tc, run)
        writable = await can_write(signin, viewer, run)
    except DATABASE_FAULTS:
        return PlainTextResponse("database unavailable\n", status_code=503)
    # `can_write`: whether this person's Cancel and Retry would be accepted
    answer = {**now.as_json(), "can_write": writable}
    return JSONResponse(answer, headers={"Cache-Control": "no-store"})
