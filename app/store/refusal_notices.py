"""Refusals of people without write access, counted per person and repository."""

from __future__ import annotations

from app.store.db import TenantConnection


async def record_refusal(
    tc: TenantConnection, run_id: int, repo: str, person: str, window_seconds: float
) -> int:
    """Record that `run_id` was refused; its rank among `person`'s refusals in `repo`
    within `window_seconds` before it (1: the first). Recording a run twice (a step tried
    again) keeps its first time and rank. Workers serialise per person and repository,
    so two refusals at once never share a rank."""
    person = person.lower()
    key = f"refusal:{tc.tenant_id}:{repo}:{person}"
    await tc.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", key)
    await tc.conn.execute(
        "DELETE FROM refusal_notices WHERE tenant_id = $1 AND repo = $2 AND person = $3"
        " AND at < clock_timestamp() - make_interval(secs => $4) AND run_id <> $5",
        tc.tenant_id,
        repo,
        person,
        window_seconds,
        run_id,
    )
    await tc.conn.execute(
        "INSERT INTO refusal_notices (run_id, tenant_id, repo, person, at)"
        " VALUES ($1, $2, $3, $4, clock_timestamp()) ON CONFLICT (run_id) DO NOTHING",
        run_id,
        tc.tenant_id,
        repo,
        person,
    )
    rank: int = await tc.conn.fetchval(
        "SELECT count(*) FROM refusal_notices other, refusal_notices me"
        " WHERE me.run_id = $1 AND other.tenant_id = me.tenant_id AND other.repo = me.repo"
        " AND other.person = me.person AND other.at > me.at - make_interval(secs => $2)"
        " AND (other.at, other.run_id) <= (me.at, me.run_id)",
        run_id,
        window_seconds,
    )
    return rank
