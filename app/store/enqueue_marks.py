"""Runs and label checks marked as handed to the queue (`enqueued_at`), across tenants.

One simple query, so one round trip and its own implicit transaction (no BEGIN and
COMMIT of their own), committed without waiting for the disk: the mark only spares the
sweep an enqueue, and if a crash loses it, the sweep's enqueue of a job already in Redis
changes nothing (and no webhook answer waits on the flush). A simple query takes no
parameters; the ids are integers written by `int()`, never text from outside.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.store.db import Database


def marking_sql(run_ids: Sequence[int], check_ids: Sequence[int]) -> str:
    statements = ["SET LOCAL synchronous_commit = off"]
    for table, ids in (("runs", run_ids), ("label_checks", check_ids)):
        if ids:
            listed = ",".join(str(int(i)) for i in ids)
            statements.append(
                f"UPDATE {table} SET enqueued_at = now() WHERE id = ANY('{{{listed}}}'::bigint[])"
            )
    return "; ".join(statements)


async def mark_enqueued(
    db: Database, run_ids: Sequence[int], check_ids: Sequence[int] = ()
) -> None:
    if run_ids or check_ids:
        async with db.pool.acquire() as conn:
            await conn.execute(marking_sql(run_ids, check_ids))
