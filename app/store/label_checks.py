"""Label checks: labels waiting for the worker to look them up in `.agentops.yml`.

A check lives from the intake until the worker decides: then it becomes a run (the
delivery points at it) or disappears. Unrelated labels leave no run behind, only the
delivery row that deduplicates redeliveries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import asyncpg

from app.events import LabelCheck, RunRequest, TenantKey
from app.store.db import TenantConnection
from app.store.runs import Accepted, duplicate_of, insert_delivery, insert_run

_COLUMNS = (
    "c.id, c.forge, c.delivery_id, c.repo, c.target_kind, c.target_number, c.labels,"
    " c.requested_by, c.trigger_key, c.context, t.external_key, t.account"
)


@dataclass(frozen=True)
class StoredLabelCheck:
    id: int
    delivery_id: str
    check: LabelCheck


async def record_delivery_and_label_check(
    tc: TenantConnection, check: LabelCheck, delivery_id: str, event: str
) -> Accepted:
    """Delivery row and pending check in the caller's transaction; `Accepted.run_id` is
    the check's id (or, for a duplicate delivery, the run it started, if any)."""
    forge = check.tenant.forge
    if await insert_delivery(tc, forge, delivery_id, event, check.trigger_key) is None:
        return await duplicate_of(tc, forge, delivery_id, check.trigger_key)
    check_id = await tc.conn.fetchval(
        """
        INSERT INTO label_checks (tenant_id, forge, delivery_id, repo, target_kind,
                                  target_number, labels, requested_by, trigger_key, context)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)
        ON CONFLICT (trigger_key) DO NOTHING RETURNING id
        """,
        tc.tenant_id,
        forge,
        delivery_id,
        check.repo,
        check.target_kind,
        check.target_number,
        list(check.labels),
        check.requested_by,
        check.trigger_key,
        json.dumps(check.context),
    )
    if check_id is None:
        return Accepted(0, False, "duplicate label check")
    return Accepted(int(check_id), True, "accepted")


async def get_label_check(tc: TenantConnection, check_id: int) -> StoredLabelCheck | None:
    row = await tc.conn.fetchrow(
        f"SELECT {_COLUMNS} FROM label_checks c JOIN tenants t ON t.id = c.tenant_id"
        " WHERE c.id = $1",
        check_id,
    )
    if row is None:
        return None
    context = row["context"]
    check = LabelCheck(
        tenant=TenantKey(row["forge"], row["external_key"], row["account"]),
        repo=row["repo"],
        target_kind=row["target_kind"],
        target_number=row["target_number"],
        labels=tuple(row["labels"]),
        requested_by=row["requested_by"],
        trigger_key=row["trigger_key"],
        context=json.loads(context) if isinstance(context, str) else dict(context),
    )
    return StoredLabelCheck(int(row["id"]), row["delivery_id"], check)


async def start_run(
    tc: TenantConnection, stored: StoredLabelCheck, request: RunRequest
) -> int | None:
    """Turn the check into its run, in the caller's transaction: the run (or the one
    already made for its key), the delivery pointing at it, the check gone."""
    run_id, _ = await insert_run(tc, request)
    if run_id is not None:
        await tc.conn.execute(
            "UPDATE deliveries SET run_id = $1 WHERE forge = $2 AND delivery_id = $3",
            run_id,
            stored.check.tenant.forge,
            stored.delivery_id,
        )
    await drop(tc, stored.id)
    return run_id


async def drop(tc: TenantConnection, check_id: int) -> None:
    await tc.conn.execute("DELETE FROM label_checks WHERE id = $1", check_id)


# --- across tenants: the worker's first look, and the re-enqueue sweep ------------------


async def check_tenant_all_tenants(conn: asyncpg.Connection, check_id: int) -> int | None:
    value = await conn.fetchval("SELECT tenant_id FROM label_checks WHERE id = $1", check_id)
    return int(value) if value is not None else None


async def pending_checks_all_tenants(
    conn: asyncpg.Connection, older_than_seconds: float, after: int, limit: int
) -> list[int]:
    """A page of the label checks made at least `older_than_seconds` ago and not yet done
    (a row lives until its check), by id from `after` on."""
    rows = await conn.fetch(
        "SELECT id FROM label_checks WHERE created_at < now() - make_interval(secs => $1)"
        " AND id > $2 ORDER BY id LIMIT $3",
        older_than_seconds,
        after,
        limit,
    )
    return [int(r["id"]) for r in rows]
