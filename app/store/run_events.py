"""A run's live log (migration 0015): events appended by the worker, numbered 1, 2, 3, …
per run without gaps, read back by the run page from a number on.

Appending also tells every web process (NOTIFY `agentops_run_events`, `<run>:<seq>`, at
commit); `listen_run_events` is the web process's one listening connection.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from app.store.db import ReaderConnection, TenantConnection

CHANNEL = "agentops_run_events"


@dataclass(frozen=True)
class RunEvent:
    run_id: int
    seq: int
    kind: str
    step: str | None
    payload: dict[str, Any]
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "seq": self.seq,
            "kind": self.kind,
            "step": self.step,
            "payload": self.payload,
            "created_at": self.created_at.isoformat(),
        }


def _event(row: asyncpg.Record) -> RunEvent:
    payload = row["payload"]
    if isinstance(payload, str):
        payload = json.loads(payload)
    return RunEvent(
        int(row["run_id"]),
        int(row["seq"]),
        str(row["kind"]),
        row["step"],
        payload if isinstance(payload, dict) else {"value": payload},
        row["created_at"],
    )


async def append_event(
    tc: TenantConnection, run_id: int, kind: str, step: str | None, payload: dict[str, Any]
) -> int:
    """The new event's number (in the tenant's transaction; seen and announced at commit)."""
    row = await tc.conn.fetchrow(
        "SELECT seq FROM agentops_append_run_event($1, $2, $3, $4::jsonb)",
        run_id,
        kind,
        step,
        json.dumps(payload),
    )
    assert row is not None
    return int(row["seq"])


_SELECT = "SELECT run_id, seq, kind, step, payload, created_at FROM run_events"


async def events_after(
    conn: TenantConnection | ReaderConnection | asyncpg.Connection,
    run_id: int,
    after: int = 0,
    limit: int = 1000,
) -> list[RunEvent]:
    """The run's events numbered above `after`, in order (at most `limit`)."""
    raw = conn if isinstance(conn, asyncpg.Connection) else conn.conn
    rows = await raw.fetch(
        f"{_SELECT} WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3", run_id, after, limit
    )
    return [_event(r) for r in rows]


async def events_before(
    conn: TenantConnection | ReaderConnection | asyncpg.Connection,
    run_id: int,
    before: int | None,
    limit: int,
) -> list[RunEvent]:
    """The run's last `limit` events numbered below `before` (the latest: None), in order."""
    raw = conn if isinstance(conn, asyncpg.Connection) else conn.conn
    rows = await raw.fetch(
        f"{_SELECT} WHERE run_id = $1 AND ($2::bigint IS NULL OR seq < $2)"
        " ORDER BY seq DESC LIMIT $3",
        run_id,
        before,
        limit,
    )
    return [_event(r) for r in reversed(rows)]


def parse_notification(payload: str) -> tuple[int, int] | None:
    """`(run id, seq)` of a notification's payload; None for anything else."""
    run, _, seq = payload.partition(":")
    if not (run.isdigit() and seq.isdigit()):
        return None
    return int(run), int(seq)


async def listen_run_events(conn: asyncpg.Connection, on_event: Callable[[int, int], None]) -> None:
    """Call `on_event(run id, seq)` for every event appended from now on (on `conn`, a
    connection of its own: LISTEN is session state)."""

    def heard(_conn: object, _pid: int, _channel: str, payload: str) -> None:
        parsed = parse_notification(payload)
        if parsed is not None:
            on_event(*parsed)

    await conn.add_listener(CHANNEL, heard)
