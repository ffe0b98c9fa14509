"""The web process's fan-out of run events (app/runpage/hub.py) on the real PostgreSQL:
one listening connection hands each appended event to every viewer of its run, survives
losing that connection (viewers are told to catch up, and the next events arrive), and
the recorder never fails a run when the database is gone."""

from __future__ import annotations

import asyncio
import dataclasses

import asyncpg

from app.runpage.hub import LISTENER_NAME, CatchUp, RunEventHub, Subscription
from app.store import Database, connect
from app.store import run_events as event_store
from app.store.run_events import RunEvent
from app.workflow.recorder import RunRecorder
from tests.integration.test_store import new_tenant, record, request


async def next_event(sub: Subscription) -> RunEvent:
    while True:
        item = await asyncio.wait_for(sub.queue.get(), 10)
        if not isinstance(item, CatchUp):
            return item


async def test_every_viewer_gets_each_event_and_a_lost_listener_comes_back(
    db: Database, database_url: str
) -> None:
    tenant = await new_tenant(db)
    run_id = (await record(db, tenant, dataclasses.replace(request(), repo="acme/hub"))).run_id
    other = (await record(db, tenant, dataclasses.replace(request(), repo="acme/other"))).run_id
    hub = RunEventHub(database_url, lambda: db)
    recorder = RunRecorder(db, tenant, run_id)
    try:
        async with hub.subscribe(run_id, tenant) as one, hub.subscribe(run_id, tenant) as two:
            assert hub.listening and hub.subscribers() == 2
            async with db.tenant(tenant) as tc:  # another run's event reaches nobody here
                await event_store.append_event(tc, other, "tool_call", None, {})
            await recorder.record("plan", {"plan": "<b>x</b>"}, "plan")
            first = [await next_event(one), await next_event(two)]
            assert [(e.seq, e.kind, e.payload) for e in first] == [
                (1, "plan", {"plan": "<b>x</b>"})
            ] * 2

            conn = await asyncpg.connect(database_url)
            try:
                killed = await conn.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = $1 AND datname = current_database()",
                    LISTENER_NAME,
                )
            finally:
                await conn.close()
            assert killed == 1
            told = await asyncio.wait_for(one.queue.get(), 10)
            assert isinstance(told, CatchUp)  # read what may have been missed
            for _ in range(100):
                if hub.listening:
                    break
                await asyncio.sleep(0.1)
            assert hub.listening
            await recorder.record("tool_call", {"tool": "read_file"})
            assert (await next_event(one)).seq == 2
            assert (await next_event(two)).seq == 2
        assert hub.subscribers() == 0
    finally:
        await hub.close()
    assert recorder.failures == 0


async def test_recording_without_a_database_costs_the_event_not_the_run(
    db: Database, database_url: str
) -> None:
    tenant = await new_tenant(db)
    run_id = (await record(db, tenant, dataclasses.replace(request(), repo="acme/gone"))).run_id
    gone = await connect(database_url)
    await gone.close()
    recorder = RunRecorder(gone, tenant, run_id)
    await recorder.step_started("plan", 0, False)  # no exception
    await recorder.run_ended("failed")
    assert recorder.failures == 2
    # and a run another tenant's recorder names is refused, not written
    intruder = RunRecorder(db, await new_tenant(db), run_id)
    await intruder.record("forged", {})
    assert intruder.failures == 1
    async with db.readers([tenant]) as rc:
        assert await event_store.events_after(rc, run_id) == []
