"""Runs and the deliveries that started them. Every function takes a tenant connection,
except the few named `*_all_tenants`, which the intake, sweep and admin API use."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from app.commands import CONTROL
from app.events import RunRequest
from app.store.db import TenantConnection, TenantStatement

TERMINAL = ("succeeded", "failed", "cancelled")
_COLUMNS = (
    "id, tenant_id, forge, repo, target_kind, target_number, command, args, requested_by,"
    " trigger, trigger_key, comment_id, context, status, cancel_requested, retry_of,"
    " attempts, check_ref, result, error, created_at, started_at, finished_at, delivery_id,"
    " trace_parent"
)


@dataclass(frozen=True)
class Run:
    id: int
    tenant_id: int
    forge: str
    repo: str
    target_kind: str
    target_number: int
    command: str
    args: str
    requested_by: str
    trigger: str
    trigger_key: str
    comment_id: int | None
    context: dict[str, Any]
    status: str
    cancel_requested: bool
    retry_of: int | None
    attempts: int
    check_ref: dict[str, Any] | None
    result: dict[str, Any]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    delivery_id: str | None = None  # the forge's id of the delivery that started it
    trace_parent: str | None = None  # the intake span's W3C `traceparent` (tracing on)

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    @property
    def repo_id(self) -> int | None:
        """The forge's id of its repository, as its webhook gave it (migration 0022)."""
        return repository_id(self.context)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            out[key] = value.isoformat() if isinstance(value, datetime) else value
        return out


def _run(row: asyncpg.Record | None) -> Run | None:
    if row is None:
        return None
    values = dict(row)
    for key in ("context", "check_ref", "result"):
        if isinstance(values[key], str):
            values[key] = json.loads(values[key])
    return Run(**values)


@dataclass(frozen=True)
class Accepted:
    run_id: int
    created: bool  # False: the delivery or the command was seen before
    reason: str


def run_fields(request: RunRequest) -> tuple[Any, ...]:
    """A run's columns from `repo` to `context` (JSON text), in the order of `runs` and of
    the intake's SQL functions' parameters."""
    return (
        request.repo,
        request.target_kind,
        request.target_number,
        request.command.name,
        request.command.args,
        request.requested_by,
        request.trigger,
        request.trigger_key,
        request.comment_id,
        json.dumps({**request.context, "unknown_command": request.command.unknown}),
    )


async def accept_run(
    ts: TenantStatement,
    request: RunRequest,
    delivery_id: str,
    event: str,
    trace_parent: str | None = None,
) -> Accepted:
    """The delivery row and its queued run, in one statement (one transaction, one round
    trip); a duplicate delivery or command adds nothing and names the run it started."""
    row = await ts.conn.fetchrow(
        "SELECT run_id, created, reason FROM agentops_accept_run("
        "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::jsonb, $16)",
        ts.tenant_id,
        ts.proof,
        request.tenant.forge,
        delivery_id,
        event,
        *run_fields(request),
        trace_parent,
    )
    assert row is not None  # a function with OUT parameters returns one row
    return Accepted(int(row["run_id"]), bool(row["created"]), str(row["reason"]))


async def insert_delivery(
    tc: TenantConnection, forge: str, delivery_id: str, event: str, content_key: str | None
) -> int | None:
    """The new delivery row's id; None when this delivery, or a delivery of the same
    content (`content_key`: the trigger key of what it asks), was stored before."""
    delivery = await tc.conn.fetchval(
        "INSERT INTO deliveries (tenant_id, forge, delivery_id, event, content_key)"
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id",
        tc.tenant_id,
        forge,
        delivery_id,
        event,
        content_key,
    )
    return int(delivery) if delivery is not None else None


async def duplicate_of(
    tc: TenantConnection, forge: str, delivery_id: str, content_key: str
) -> Accepted:
    """Why `insert_delivery` stored nothing: the same delivery, or the same command sent
    again (a redelivery under a new id, a replayed body), and the run it started."""
    seen = await tc.conn.fetchrow(
        "SELECT run_id FROM deliveries WHERE forge = $1 AND delivery_id = $2",
        forge,
        delivery_id,
    )
    if seen is not None:
        return Accepted(int(seen["run_id"] or 0), False, "duplicate delivery")
    # The earlier delivery may be another tenant's, which this tenant cannot see: 0.
    run_id = await tc.conn.fetchval(
        "SELECT run_id FROM deliveries WHERE forge = $1 AND content_key = $2",
        forge,
        content_key,
    )
    return Accepted(int(run_id or 0), False, "duplicate command")


async def insert_run(tc: TenantConnection, request: RunRequest) -> tuple[int | None, bool]:
    """`(run id, created)`: a queued run, or the one already made for its trigger key
    (None when that run is another tenant's)."""
    conn = tc.conn
    run_id = await conn.fetchval(
        """
        INSERT INTO runs (tenant_id, forge, repo, target_kind, target_number, command, args,
                          requested_by, trigger, trigger_key, comment_id, context)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb)
        ON CONFLICT (trigger_key) DO NOTHING RETURNING id
        """,
        tc.tenant_id,
        request.tenant.forge,
        *run_fields(request),
    )
    if run_id is not None:
        return int(run_id), True
    run_id = await conn.fetchval("SELECT id FROM runs WHERE trigger_key = $1", request.trigger_key)
    return (int(run_id) if run_id is not None else None), False


async def get_run(tc: TenantConnection, run_id: int) -> Run | None:
    return _run(await tc.conn.fetchrow(f"SELECT {_COLUMNS} FROM runs WHERE id = $1", run_id))


async def claim_run(tc: TenantConnection, run_id: int) -> Run | None:
    """Move a queued (or interrupted running) run to running; None when it is finished.

    A running run with `cancel_requested` is claimed too (its worker died, or stopped,
    before acting on the cancel): the claimer closes it as cancelled. A queued one was
    cancelled by the request itself."""
    return _run(
        await tc.conn.fetchrow(
            f"""
        UPDATE runs SET status = 'running', attempts = attempts + 1,
                        started_at = coalesce(started_at, now()), heartbeat_at = now()
        WHERE id = $1 AND (status = 'running' OR (status = 'queued' AND NOT cancel_requested))
        RETURNING {_COLUMNS}
        """,
            run_id,
        )
    )


async def finish_run(
    tc: TenantConnection,
    run_id: int,
    status: str,
    error: str | None = None,
    result: dict[str, Any] | None = None,
) -> bool:
    """Close a run once; False when it was already closed. Its `closing` record (see
    `record_closing`) goes: the run is closed."""
    done = await tc.conn.fetchval(
        """
        UPDATE runs SET status = $2, error = $3,
                        result = (result || $4::jsonb) - 'closing', finished_at = now()
        WHERE id = $1 AND status NOT IN ('succeeded', 'failed', 'cancelled') RETURNING id
        """,
        run_id,
        status,
        error,
        json.dumps(result or {}),
    )
    return done is not None


async def record_closing(
    tc: TenantConnection, run_id: int, closing: dict[str, Any], result: dict[str, Any]
) -> None:
    """Before a run's close touches the forge: how it ends (`closing`, kept in its result
    under `closing` until `finish_run`) and what it found (`result`), so that a worker
    cut mid-close leaves the next one only the rest of the close to do."""
    await tc.conn.execute(
        "UPDATE runs SET result = result || $3::jsonb || jsonb_build_object('closing', $2::jsonb)"
        " WHERE id = $1 AND status NOT IN ('succeeded', 'failed', 'cancelled')",
        run_id,
        json.dumps(closing),
        json.dumps(result),
    )


async def mark_check_closed(tc: TenantConnection, run_id: int) -> None:
    """The closing run's check run (GitLab: status and note) is completed."""
    await tc.conn.execute(
        "UPDATE runs SET result = jsonb_set(result, '{closing,check_closed}', 'true')"
        " WHERE id = $1 AND result ? 'closing'",
        run_id,
    )


async def set_check_ref(tc: TenantConnection, run_id: int, ref: dict[str, Any]) -> None:
    await tc.conn.execute(
        "UPDATE runs SET check_ref = $2::jsonb WHERE id = $1", run_id, json.dumps(ref)
    )


# The runs of one repository: by its id where the run and the asker both know it (a
# renamed repository keeps its runs; one that took a free name gets none of the old one's),
# else by name. $1 the name, $2 the id (NULL when the asker has none).
_SAME_REPOSITORY = "(repo_id = $2 OR repo = $1 AND (repo_id IS NULL OR $2::bigint IS NULL))"


async def target_runs(tc: TenantConnection, on: Run, limit: int = 10) -> list[Run]:
    """The newest runs on the issue or pull request `on` is on, `on` included."""
    rows = await tc.conn.fetch(
        f"SELECT {_COLUMNS} FROM runs WHERE {_SAME_REPOSITORY} AND target_kind = $3"
        " AND target_number = $4 ORDER BY id DESC LIMIT $5",
        on.repo,
        on.repo_id,
        on.target_kind,
        on.target_number,
        limit,
    )
    return [r for r in map(_run, rows) if r is not None]


async def active_work_runs(tc: TenantConnection, on: Run) -> list[Run]:
    """Queued or running work (not control commands) on the issue or pull request `on`
    (a control run) is on, but for `on`."""
    rows = await tc.conn.fetch(
        f"SELECT {_COLUMNS} FROM runs WHERE {_SAME_REPOSITORY} AND target_kind = $3"
        " AND target_number = $4 AND status IN ('queued', 'running') AND id <> $5"
        " AND NOT (command = ANY($6::text[])) ORDER BY id DESC",
        on.repo,
        on.repo_id,
        on.target_kind,
        on.target_number,
        on.id,
        sorted(CONTROL),
    )
    return [r for r in map(_run, rows) if r is not None]


async def last_failed_work_run(tc: TenantConnection, on: Run) -> Run | None:
    """The newest failed or cancelled work on the issue or pull request `on` is on."""
    return _run(
        await tc.conn.fetchrow(
            f"SELECT {_COLUMNS} FROM runs WHERE {_SAME_REPOSITORY} AND target_kind = $3"
            " AND target_number = $4 AND status IN ('failed', 'cancelled')"
            " AND NOT (command = ANY($5::text[])) ORDER BY id DESC LIMIT 1",
            on.repo,
            on.repo_id,
            on.target_kind,
            on.target_number,
            sorted(CONTROL),
        )
    )


async def request_cancel(tc: TenantConnection, run_id: int) -> Run | None:
    """Flag a run for cancellation; a run still queued is cancelled at once."""
    return _run(
        await tc.conn.fetchrow(
            f"""
        UPDATE runs SET cancel_requested = true,
            status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,
            finished_at = CASE WHEN status = 'queued' THEN now() ELSE finished_at END
        WHERE id = $1 AND status IN ('queued', 'running') RETURNING {_COLUMNS}
        """,
            run_id,
        )
    )


async def is_cancel_requested(tc: TenantConnection, run_id: int) -> bool:
    return bool(await tc.conn.fetchval("SELECT cancel_requested FROM runs WHERE id = $1", run_id))


async def create_retry(
    tc: TenantConnection, original: Run, requested_by: str, trigger_key: str
) -> int:
    """A new queued run repeating `original`; one per `trigger_key`."""
    run_id = await tc.conn.fetchval(
        """
        INSERT INTO runs (tenant_id, forge, repo, target_kind, target_number, command, args,
                          requested_by, trigger, trigger_key, comment_id, context, retry_of)
        SELECT tenant_id, forge, repo, target_kind, target_number, command, args,
               $2, 'retry', $3, comment_id, context, id FROM runs WHERE id = $1
        ON CONFLICT (trigger_key) DO NOTHING RETURNING id
        """,
        original.id,
        requested_by,
        trigger_key,
    )
    if run_id is None:
        run_id = await tc.conn.fetchval("SELECT id FROM runs WHERE trigger_key = $1", trigger_key)
    return int(run_id)


# --- across tenants: intake, the re-enqueue sweep and the admin API ----------------------


async def run_tenant_all_tenants(conn: asyncpg.Connection, run_id: int) -> int | None:
    value = await conn.fetchval("SELECT tenant_id FROM runs WHERE id = $1", run_id)
    return int(value) if value is not None else None


QueuedPage = tuple[datetime, int]  # where a page of queued runs ended: created_at, id


async def queued_runs_all_tenants(
    conn: asyncpg.Connection, older_than_seconds: float, after: QueuedPage | None, limit: int
) -> tuple[list[int], QueuedPage | None]:
    """A page of the runs queued at least `older_than_seconds` ago and not cancelled, oldest
    first, from `after` on (the page before's end); and where this page ends (None: the
    last page). The sweep reads them all, so a long backlog hides no newer run."""
    rows = await conn.fetch(
        "SELECT id, created_at FROM runs WHERE status = 'queued' AND NOT cancel_requested"
        " AND created_at < now() - make_interval(secs => $1)"
        " AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3))"
        " ORDER BY created_at, id LIMIT $4",
        older_than_seconds,
        after[0] if after else None,
        after[1] if after else 0,
        limit,
    )
    end = (rows[-1]["created_at"], int(rows[-1]["id"])) if len(rows) == limit else None
    return [int(r["id"]) for r in rows], end


async def list_runs_all_tenants(
    conn: asyncpg.Connection, limit: int, before: int | None, status: str | None
) -> list[Run]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM runs WHERE ($2::bigint IS NULL OR id < $2)"
        " AND ($3::text IS NULL OR status = $3) ORDER BY id DESC LIMIT $1",
        limit,
        before,
        status,
    )
    return [r for r in map(_run, rows) if r is not None]


async def get_run_all_tenants(conn: asyncpg.Connection, run_id: int) -> Run | None:
    return _run(await conn.fetchrow(f"SELECT {_COLUMNS} FROM runs WHERE id = $1", run_id))


async def count_by_status_all_tenants(conn: asyncpg.Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT status, count(*) AS n FROM runs GROUP BY status")
    return {str(r["status"]): int(r["n"]) for r in rows}


async def touch_heartbeat_all_tenants(conn: asyncpg.Connection, run_id: int) -> None:
    await conn.execute(
        "UPDATE runs SET heartbeat_at = now() WHERE id = $1 AND status = 'running'", run_id
    )


async def abandoned_runs_all_tenants(conn: asyncpg.Connection, stale_seconds: float) -> list[int]:
    """Running runs whose worker stopped beating; each is claimed for one hand-over."""
    rows = await conn.fetch(
        "UPDATE runs SET heartbeat_at = now() WHERE id IN ("
        " SELECT id FROM runs WHERE status = 'running'"
        " AND heartbeat_at < now() - make_interval(secs => $1)"
        " ORDER BY id LIMIT 100 FOR UPDATE SKIP LOCKED) RETURNING id",
        stale_seconds,
    )
    return [int(r["id"]) for r in rows]


def repository_id(context: Mapping[str, Any]) -> int | None:
    """The forge's id of the repository an event's `context` names: GitHub's `repo_id`,
    GitLab's `project_id` (the same rule as migration 0022's column)."""
    for key in ("repo_id", "project_id"):
        value = context.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**18:
            return value
    return None
