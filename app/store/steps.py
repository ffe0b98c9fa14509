"""The steps of a run: one row per step, checkpointed so a re-run skips finished steps."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from app.step_records import REPLY_PREFIX, StepRecord, read_record
from app.store.db import TenantConnection
from app.store.runs import Run


@dataclass(frozen=True)
class Step:
    """A step as stored, its record read back typed (app/step_records.py)."""

    name: str
    position: int
    status: str
    record: StepRecord | None  # what it found or did; only once it succeeded
    failure: str | None  # what people were told failed (its `error` keeps the detail)
    error: str | None
    started_at: datetime
    finished_at: datetime | None
    # From `start_step` only: an earlier try of this step started and did not succeed
    # (its worker died, or it failed), so part of its work may already be done.
    again: bool = False

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @property
    def shown(self) -> bool:
        """Shown to people as a line of the checklist (a reply is not a step for them)."""
        return not self.name.startswith(REPLY_PREFIX)

    def as_json(self) -> dict[str, Any]:
        if self.record is not None:
            detail = self.record.stored()
        else:
            detail = {"failure": self.failure} if self.failure else {}
        return {
            "name": self.name,
            "position": self.position,
            "status": self.status,
            "detail": detail,
            "error": self.error,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "seconds": self.seconds,
        }


@dataclass(frozen=True)
class RunSnapshot:
    """A run and its steps as they are now: the one model that the check run,
    `/agentops status`, `/api/runs/{id}` (and the live run page to come) render."""

    run: Run
    steps: tuple[Step, ...]

    def as_json(self) -> dict[str, Any]:
        return {**self.run.as_json(), "steps": [s.as_json() for s in self.steps]}


def _step(row: asyncpg.Record) -> Step:
    values = dict(row)
    stored = values.pop("detail")
    if isinstance(stored, str):
        stored = json.loads(stored)
    if not isinstance(stored, dict):
        stored = {}
    succeeded = values["status"] == "succeeded"
    failure = stored.get("failure") if values["status"] == "failed" else None
    return Step(
        **values,
        record=read_record(values["name"], stored) if succeeded else None,
        failure=str(failure) if failure else None,
    )


_COLUMNS = "name, position, status, detail, error, started_at, finished_at"


async def start_step(tc: TenantConnection, run_id: int, name: str, position: int) -> Step:
    """Mark a step running; a step that already succeeded is returned untouched.

    The statement's snapshot still sees the row as it was, so `earlier` tells a step
    tried before (`Step.again`) from a fresh one.
    """
    row = await tc.conn.fetchrow(
        f"""
        WITH earlier AS (SELECT 1 FROM run_steps WHERE run_id = $2 AND name = $3)
        INSERT INTO run_steps (tenant_id, run_id, name, position, status)
        VALUES ($1, $2, $3, $4, 'running')
        ON CONFLICT (run_id, name) DO UPDATE
            SET status = CASE WHEN run_steps.status = 'succeeded' THEN 'succeeded'
                              ELSE 'running' END,
                started_at = CASE WHEN run_steps.status = 'succeeded'
                                  THEN run_steps.started_at ELSE now() END,
                error = CASE WHEN run_steps.status = 'succeeded' THEN run_steps.error
                             ELSE NULL END
        RETURNING {_COLUMNS}, EXISTS (SELECT 1 FROM earlier) AS again
        """,
        tc.tenant_id,
        run_id,
        name,
        position,
    )
    return _step(row)


async def finish_step(
    tc: TenantConnection,
    run_id: int,
    name: str,
    status: str,
    record: StepRecord | None = None,
    *,
    failure: str | None = None,
    error: str | None = None,
) -> None:
    """Close a step: its `record` when it succeeded; when it failed, the `failure` people
    are told and the `error` the run's record keeps."""
    detail = record.stored() if record is not None else {}
    if failure:
        detail["failure"] = failure
    await tc.conn.execute(
        "UPDATE run_steps SET status = $3, detail = detail || $4::jsonb, error = $5,"
        " finished_at = now() WHERE run_id = $1 AND name = $2",
        run_id,
        name,
        status,
        json.dumps(detail),
        error,
    )


async def list_steps(tc: TenantConnection | asyncpg.Connection, run_id: int) -> list[Step]:
    conn = tc.conn if isinstance(tc, TenantConnection) else tc
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM run_steps WHERE run_id = $1 ORDER BY position, id", run_id
    )
    return [_step(r) for r in rows]


async def run_snapshot(tc: TenantConnection | asyncpg.Connection, run: Run) -> RunSnapshot:
    return RunSnapshot(run, tuple(await list_steps(tc, run.id)))
