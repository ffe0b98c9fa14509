"""Run events (migration 0015): numbered 1, 2, 3, … per run without gaps, even when
appends race or roll back; a tenant (and a reader of a tenant) sees its own runs' events
only and cannot append to another tenant's run; every append is announced at commit."""

from __future__ import annotations

import asyncio
import dataclasses

import asyncpg
import pytest

from app.store import Database
from app.store import run_events as event_store
from tests.integration.test_store import new_tenant, record, request


async def two_runs(db: Database) -> tuple[int, int, int, int]:
    a, b = await new_tenant(db), await new_tenant(db)
    run_a = (await record(db, a, dataclasses.replace(request(), repo="acme/app"))).run_id
    run_b = (await record(db, b, dataclasses.replace(request(), repo="beta/secret"))).run_id
    return a, b, run_a, run_b


async def append(db: Database, tenant: int, run: int, kind: str = "tool_call") -> int:
    async with db.tenant(tenant) as tc:
        return await event_store.append_event(tc, run, kind, "implement", {"n": 1})


async def test_numbers_have_no_gaps_under_concurrent_appends_and_rollbacks(db: Database) -> None:
    a, _, run_a, _ = await two_runs(db)

    async def rolled_back() -> None:
        with pytest.raises(RuntimeError):
            async with db.tenant(a) as tc:
                await event_store.append_event(tc, run_a, "lost", None, {})
                raise RuntimeError("the step failed after appending")

    await asyncio.gather(*(append(db, a, run_a) for _ in range(20)), rolled_back())
    await asyncio.gather(*(append(db, a, run_a) for _ in range(10)), rolled_back())
    async with db.readers([a]) as rc:
        events = await event_store.events_after(rc, run_a)
    assert [e.seq for e in events] == list(range(1, 31))
    assert {e.kind for e in events} == {"tool_call"}
    async with db.readers([a]) as rc:
        tail = await event_store.events_after(rc, run_a, after=27)
    assert [e.seq for e in tail] == [28, 29, 30]


async def test_tenant_a_cannot_read_or_append_to_b(db: Database) -> None:
    a, b, run_a, run_b = await two_runs(db)
    await append(db, a, run_a)
    await append(db, b, run_b, "secret")
    async with db.readers([a]) as rc:
        assert await event_store.events_after(rc, run_b) == []
        raw = await rc.conn.fetch("SELECT kind FROM run_events WHERE tenant_id = $1", b)
        assert raw == []
        assert [e.kind for e in await event_store.events_after(rc, run_a)] == ["tool_call"]
    async with db.tenant(a) as tc:
        assert await event_store.events_after(tc, run_b) == []
    # appending to B's run from A's transaction is refused (the run is not A's to see)
    with pytest.raises(asyncpg.PostgresError):
        await append(db, a, run_b)
    # nor may A write a row naming B's tenant directly
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with db.tenant(a) as tc:
            await tc.conn.execute(
                "INSERT INTO run_events (tenant_id, run_id, seq, kind) VALUES ($1, $2, 99, 'x')",
                b,
                run_b,
            )
    async with db.readers([b]) as rc:
        assert [e.kind for e in await event_store.events_after(rc, run_b)] == ["secret"]


async def test_events_are_never_changed_by_tenant_work(db: Database) -> None:
    a, _, run_a, _ = await two_runs(db)
    await append(db, a, run_a)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with db.tenant(a) as tc:
            await tc.conn.execute("UPDATE run_events SET kind = 'forged' WHERE run_id = $1", run_a)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with db.tenant(a) as tc:
            await tc.conn.execute("DELETE FROM run_events WHERE run_id = $1", run_a)


async def test_an_append_is_announced_at_commit_with_its_number(
    db: Database, database_url: str
) -> None:
    a, _, run_a, _ = await two_runs(db)
    heard: list[tuple[int, int]] = []
    got = asyncio.Event()
    conn = await asyncpg.connect(database_url)
    try:

        def on_event(run: int, seq: int) -> None:
            heard.append((run, seq))
            got.set()

        await event_store.listen_run_events(conn, on_event)
        async with db.tenant(a) as tc:
            await event_store.append_event(tc, run_a, "plan", "plan", {"plan": "x"})
            await asyncio.sleep(0.2)
            assert heard == []  # not before commit
        await asyncio.wait_for(got.wait(), 5)
    finally:
        await conn.close()
    assert heard == [(run_a, 1)]


async def test_a_page_of_events_is_the_latest_or_those_before_a_number(db: Database) -> None:
    """The run page reads a window of a long run's events, not all of them."""
    a, _, run_a, _ = await two_runs(db)
    for _ in range(12):
        await append(db, a, run_a)
    async with db.readers([a]) as rc:
        latest = await event_store.events_before(rc, run_a, None, 5)
        before = await event_store.events_before(rc, run_a, 8, 5)
        first = await event_store.events_before(rc, run_a, 3, 5)
    assert [e.seq for e in latest] == [8, 9, 10, 11, 12]
    assert [e.seq for e in before] == [3, 4, 5, 6, 7]
    assert [e.seq for e in first] == [1, 2]
