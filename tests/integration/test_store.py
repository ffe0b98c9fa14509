"""The store on a real PostgreSQL: deliveries and runs in one transaction, idempotency,
and row-level security between tenants."""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import cast

import asyncpg
import pytest

from app.commands import Command, TargetKind
from app.events import RunRequest, TenantKey
from app.step_records import Cloned, Delivered, Installed, Planned, UnknownRecord
from app.store import Database
from app.store import runs as run_store
from app.store import steps as step_store
from app.store import tenants as tenant_store


def _key() -> str:
    return uuid.uuid4().hex[:12]


async def new_tenant(db: Database, forge: str = "github", account: str = "") -> int:
    async with db.admin() as conn:
        return await tenant_store.upsert_tenant(conn, forge, _key(), account)


def request(trigger_key: str | None = None, command: Command | None = None) -> RunRequest:
    return RunRequest(
        tenant=TenantKey("github", "unused-here"),
        repo="octo/widgets",
        target_kind="issue",
        target_number=7,
        command=command or Command("implement", "be brief"),
        requested_by="alice",
        trigger="comment",
        trigger_key=trigger_key or f"github:comment:{_key()}",
        comment_id=123,
        context={"installation_id": 1},
    )


async def record(
    db: Database, tenant_id: int, req: RunRequest, delivery_id: str | None = None
) -> run_store.Accepted:
    async with db.tenant_statement(tenant_id) as ts:
        return await run_store.accept_run(ts, req, delivery_id or _key(), "issue_comment")


# --- deliveries and runs -----------------------------------------------------------------


async def test_a_delivery_and_its_queued_run_are_stored_together(db: Database) -> None:
    tenant = await new_tenant(db)
    delivery = _key()
    accepted = await record(db, tenant, request(), delivery)
    assert accepted.created and accepted.reason == "accepted"
    async with db.admin() as conn:
        run = await conn.fetchrow("SELECT * FROM runs WHERE id = $1", accepted.run_id)
        row = await conn.fetchrow("SELECT * FROM deliveries WHERE delivery_id = $1", delivery)
    assert run is not None and row is not None
    assert (run["tenant_id"], run["status"], run["command"], run["args"]) == (
        tenant,
        "queued",
        "implement",
        "be brief",
    )
    assert (row["tenant_id"], row["forge"], row["run_id"], row["event"]) == (
        tenant,
        "github",
        accepted.run_id,
        "issue_comment",
    )


async def test_a_repeated_delivery_adds_nothing(db: Database) -> None:
    tenant = await new_tenant(db)
    delivery = _key()
    first = await record(db, tenant, request(), delivery)
    # The forge redelivers the same delivery (it even may be a new comment id: the
    # delivery id alone decides).
    again = await record(db, tenant, request(), delivery)
    assert (again.created, again.reason, again.run_id) == (
        False,
        "duplicate delivery",
        first.run_id,
    )
    async with db.admin() as conn:
        n_deliveries = await conn.fetchval(
            "SELECT count(*) FROM deliveries WHERE delivery_id = $1", delivery
        )
        n_runs = await conn.fetchval("SELECT count(*) FROM runs WHERE tenant_id = $1", tenant)
    assert (n_deliveries, n_runs) == (1, 1)


async def test_a_repeated_delivery_days_later_is_still_a_duplicate(db: Database) -> None:
    tenant = await new_tenant(db)
    delivery = _key()
    first = await record(db, tenant, request(), delivery)
    async with db.admin() as conn:
        await conn.execute(
            "UPDATE deliveries SET received_at = now() - interval '30 days' WHERE delivery_id = $1",
            delivery,
        )
        await conn.execute(
            "UPDATE runs SET status = 'succeeded', finished_at = now() WHERE id = $1", first.run_id
        )
    again = await record(db, tenant, request(), delivery)
    assert not again.created and again.run_id == first.run_id


async def test_two_deliveries_of_one_command_make_one_run(db: Database) -> None:
    tenant = await new_tenant(db)
    req = request()
    first = await record(db, tenant, req, "delivery-a-" + _key())
    second = await record(db, tenant, req, "delivery-b-" + _key())
    assert first.created
    assert (second.created, second.reason, second.run_id) == (
        False,
        "duplicate command",
        first.run_id,
    )
    async with db.admin() as conn:
        linked = await conn.fetch("SELECT run_id FROM deliveries WHERE tenant_id = $1", tenant)
        runs = await conn.fetchval("SELECT count(*) FROM runs WHERE tenant_id = $1", tenant)
    # the second delivery has the first one's content key: it is refused, not stored
    assert [r["run_id"] for r in linked] == [first.run_id]
    assert runs == 1


async def test_a_command_key_of_another_tenant_starts_nothing_and_reveals_nothing(
    db: Database,
) -> None:
    a = await new_tenant(db)
    b = await new_tenant(db)
    req = request()
    run_a = (await record(db, a, req)).run_id
    forged = await record(db, b, req)  # same trigger key, sent for another tenant
    assert (forged.created, forged.run_id, forged.reason) == (False, 0, "duplicate command")
    async with db.admin() as conn:
        assert await conn.fetchval("SELECT count(*) FROM runs WHERE tenant_id = $1", b) == 0
        assert await conn.fetchval("SELECT tenant_id FROM runs WHERE id = $1", run_a) == a


async def _run_without_delivery(db: Database, tenant_id: int, trigger_key: str) -> int:
    """A run no delivery names (as a retry's): its trigger key is known to `runs` only."""
    async with db.admin() as conn:
        return int(
            await conn.fetchval(
                "INSERT INTO runs (tenant_id, forge, repo, target_kind, target_number, command,"
                " requested_by, trigger, trigger_key) VALUES ($1, 'github', 'octo/widgets',"
                " 'issue', 7, 'implement', 'alice', 'retry', $2) RETURNING id",
                tenant_id,
                trigger_key,
            )
        )


async def test_a_command_whose_run_no_delivery_names_links_the_delivery_to_it(
    db: Database,
) -> None:
    tenant = await new_tenant(db)
    req = request()
    existing = await _run_without_delivery(db, tenant, req.trigger_key)
    delivery = _key()
    accepted = await record(db, tenant, req, delivery)
    assert (accepted.created, accepted.reason, accepted.run_id) == (
        False,
        "duplicate command",
        existing,
    )
    async with db.admin() as conn:
        linked = await conn.fetchval(
            "SELECT run_id FROM deliveries WHERE delivery_id = $1", delivery
        )
        runs = await conn.fetchval("SELECT count(*) FROM runs WHERE tenant_id = $1", tenant)
    assert (linked, runs) == (existing, 1)


async def test_a_command_whose_run_is_another_tenants_stores_the_delivery_unlinked(
    db: Database,
) -> None:
    a = await new_tenant(db)
    b = await new_tenant(db)
    req = request()
    await _run_without_delivery(db, a, req.trigger_key)
    delivery = _key()
    accepted = await record(db, b, req, delivery)  # committed: no dangling run id is kept
    assert (accepted.created, accepted.run_id, accepted.reason) == (False, 0, "duplicate command")
    async with db.admin() as conn:
        row = await conn.fetchrow(
            "SELECT tenant_id, run_id FROM deliveries WHERE delivery_id = $1", delivery
        )
        assert await conn.fetchval("SELECT count(*) FROM runs WHERE tenant_id = $1", b) == 0
    assert row is not None and (row["tenant_id"], row["run_id"]) == (b, None)


async def test_a_run_that_cannot_be_stored_keeps_no_delivery_either(db: Database) -> None:
    tenant = await new_tenant(db)
    delivery = _key()
    # a kind the type forbids, as a caller that skipped the type would send: the CHECK refuses it
    bad = dataclasses.replace(request(), target_kind=cast(TargetKind, "commit"))
    with pytest.raises(asyncpg.CheckViolationError):
        await record(db, tenant, bad, delivery)
    async with db.admin() as conn:
        assert (
            await conn.fetchval("SELECT count(*) FROM deliveries WHERE delivery_id = $1", delivery)
            == 0
        )
        assert await conn.fetchval("SELECT count(*) FROM runs WHERE tenant_id = $1", tenant) == 0
    # and the forge's redelivery is then accepted
    assert (await record(db, tenant, request(), delivery)).created


async def test_delivery_ids_are_unique_per_forge(db: Database) -> None:
    github = await new_tenant(db, "github")
    gitlab = await new_tenant(db, "gitlab")
    delivery = _key()
    assert (await record(db, github, request(), delivery)).created
    gl_request = RunRequest(**{**request().__dict__, "tenant": TenantKey("gitlab", "x")})
    assert (await record(db, gitlab, gl_request, delivery)).created


async def test_unknown_command_is_kept_in_the_context(db: Database) -> None:
    tenant = await new_tenant(db)
    accepted = await record(db, tenant, request(command=Command("help", unknown="deploy")))
    async with db.tenant(tenant) as tc:
        run = await run_store.get_run(tc, accepted.run_id)
    assert run is not None
    assert run.command == "help"
    assert run.context == {"installation_id": 1, "unknown_command": "deploy"}


# --- tenants -----------------------------------------------------------------------------


async def test_upsert_tenant_is_idempotent_and_keeps_the_account(db: Database) -> None:
    key = _key()
    async with db.admin() as conn:
        first = await tenant_store.upsert_tenant(conn, "github", key, "octo")
        again = await tenant_store.upsert_tenant(conn, "github", key, "")
        other_forge = await tenant_store.upsert_tenant(conn, "gitlab", key, "")
        tenant = await tenant_store.get_tenant(conn, first)
    assert first == again != other_forge
    assert tenant is not None and tenant.account == "octo" and tenant.active


async def test_a_known_tenant_costs_no_write_and_a_renamed_one_is_updated(db: Database) -> None:
    key = _key()

    async def upsert(account: str) -> tuple[int, str]:
        """In a transaction of its own, as the intake does: (id, row version after)."""
        async with db.admin() as conn:
            tenant_id = await tenant_store.upsert_tenant(conn, "github", key, account)
        async with db.admin() as conn:
            xmin = await conn.fetchval("SELECT xmin FROM tenants WHERE id = $1", tenant_id)
        return tenant_id, str(xmin)

    tenant_id, written = await upsert("octo")
    assert await upsert("octo") == (tenant_id, written)  # the same row version: no write
    assert await upsert("") == (tenant_id, written)
    renamed_id, renamed = await upsert("octo-renamed")
    assert renamed_id == tenant_id and renamed != written
    async with db.admin() as conn:
        tenant = await tenant_store.get_tenant(conn, tenant_id)
    assert tenant is not None and tenant.account == "octo-renamed"


async def test_tenant_states(db: Database) -> None:
    async with db.admin() as conn:
        tenant_id = await tenant_store.upsert_tenant(conn, "github", _key(), "octo")
        await tenant_store.set_tenant_state(conn, tenant_id, "suspend")
        suspended = await tenant_store.get_tenant(conn, tenant_id)
        await tenant_store.set_tenant_state(conn, tenant_id, "unsuspend")
        back = await tenant_store.get_tenant(conn, tenant_id)
        await tenant_store.set_tenant_state(conn, tenant_id, "deleted")
        removed = await tenant_store.get_tenant(conn, tenant_id)
        await tenant_store.set_tenant_state(conn, tenant_id, "created")
        reinstalled = await tenant_store.get_tenant(conn, tenant_id)
    assert suspended is not None and suspended.suspended_at is not None and not suspended.active
    assert back is not None and back.active
    assert removed is not None and removed.removed_at is not None and not removed.active
    assert reinstalled is not None and reinstalled.active


# --- row-level security ------------------------------------------------------------------


async def test_a_tenant_transaction_runs_as_the_restricted_role(db: Database) -> None:
    tenant = await new_tenant(db)
    async with db.tenant(tenant) as tc:
        role = await tc.conn.fetchval("SELECT current_user")
        setting = await tc.conn.fetchval("SELECT current_setting('app.tenant_id')")
    assert (role, setting) == ("agentops_tenant", str(tenant))
    # the role and setting end with the transaction
    async with db.admin() as conn:
        assert await conn.fetchval("SELECT current_user") != "agentops_tenant"
        assert not await conn.fetchval("SELECT current_setting('app.tenant_id', true)")


async def test_runs_of_another_tenant_are_invisible(db: Database) -> None:
    a = await new_tenant(db)
    b = await new_tenant(db)
    run_a = (await record(db, a, request())).run_id
    run_b = (await record(db, b, request())).run_id
    async with db.tenant(a) as tc:
        await step_store.start_step(tc, run_a, "analyze", 1)
    async with db.tenant(b) as tc:
        assert await run_store.get_run(tc, run_a) is None
        assert await run_store.get_run(tc, run_b) is not None
        # even a query without any WHERE clause sees only tenant B
        tenants_seen = {r["tenant_id"] for r in await tc.conn.fetch("SELECT tenant_id FROM runs")}
        deliveries_seen = {
            r["tenant_id"] for r in await tc.conn.fetch("SELECT tenant_id FROM deliveries")
        }
        steps_of_a = await step_store.list_steps(tc, run_a)
        mine = await run_store.get_run(tc, run_b)
        assert mine is not None and await run_store.target_runs(tc, mine) == [mine]
    assert tenants_seen == {b}
    assert deliveries_seen == {b}
    assert steps_of_a == []


async def test_another_tenants_run_cannot_be_changed(db: Database) -> None:
    a = await new_tenant(db)
    b = await new_tenant(db)
    run_a = (await record(db, a, request())).run_id
    async with db.tenant(b) as tc:
        assert await run_store.request_cancel(tc, run_a) is None
        assert await run_store.claim_run(tc, run_a) is None
        assert not await run_store.finish_run(tc, run_a, "failed", "not yours")
        deleted = await tc.conn.execute("DELETE FROM runs WHERE id = $1", run_a)
    assert deleted == "DELETE 0"
    async with db.tenant(a) as tc:
        run = await run_store.get_run(tc, run_a)
    assert run is not None and run.status == "queued" and not run.cancel_requested


async def test_inserting_a_row_for_another_tenant_fails(db: Database) -> None:
    a = await new_tenant(db)
    b = await new_tenant(db)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        async with db.tenant(b) as tc:
            await tc.conn.execute(
                "INSERT INTO runs (tenant_id, forge, repo, target_kind, target_number, command,"
                " requested_by, trigger, trigger_key) VALUES ($1, 'github', 'o/r', 'issue', 1,"
                " 'plan', 'mallory', 'comment', $2)",
                a,
                _key(),
            )
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        async with db.tenant(b) as tc:
            await tc.conn.execute(
                "INSERT INTO deliveries (tenant_id, forge, delivery_id, event)"
                " VALUES ($1, 'github', $2, 'issues')",
                a,
                _key(),
            )
    async with db.admin() as conn:
        assert await conn.fetchval("SELECT count(*) FROM runs WHERE tenant_id = $1", a) == 0
        assert await conn.fetchval("SELECT count(*) FROM deliveries WHERE tenant_id = $1", a) == 0


async def test_moving_a_run_to_another_tenant_fails(db: Database) -> None:
    a = await new_tenant(db)
    b = await new_tenant(db)
    run_b = (await record(db, b, request())).run_id
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        async with db.tenant(b) as tc:
            await tc.conn.execute("UPDATE runs SET tenant_id = $1 WHERE id = $2", a, run_b)


async def test_tenant_role_cannot_change_tenants_or_escape(db: Database) -> None:
    a = await new_tenant(db)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        async with db.tenant(a) as tc:
            await tc.conn.execute("UPDATE tenants SET account = 'x' WHERE id = $1", a)


async def test_a_transaction_without_a_tenant_sees_nothing(db: Database) -> None:
    a = await new_tenant(db)
    await record(db, a, request())
    async with db.admin() as conn, conn.transaction():
        await conn.execute("SET LOCAL ROLE agentops_tenant")
        assert await conn.fetchval("SELECT count(*) FROM runs") == 0


# --- runs and steps ----------------------------------------------------------------------


async def test_run_lifecycle(db: Database) -> None:
    tenant = await new_tenant(db)
    run_id = (await record(db, tenant, request())).run_id
    async with db.tenant(tenant) as tc:
        claimed = await run_store.claim_run(tc, run_id)
        assert claimed is not None and claimed.status == "running" and claimed.attempts == 1
        assert await run_store.finish_run(tc, run_id, "succeeded", result={"pr": 3})
        assert not await run_store.finish_run(tc, run_id, "failed", "late")
        assert await run_store.claim_run(tc, run_id) is None
        run = await run_store.get_run(tc, run_id)
    assert run is not None and run.finished
    assert (run.status, run.error, run.result) == ("succeeded", None, {"pr": 3})


async def test_cancelling_a_queued_run_finishes_it(db: Database) -> None:
    tenant = await new_tenant(db)
    run_id = (await record(db, tenant, request())).run_id
    async with db.tenant(tenant) as tc:
        cancelled = await run_store.request_cancel(tc, run_id)
        assert cancelled is not None and cancelled.status == "cancelled"
        assert await run_store.request_cancel(tc, run_id) is None


async def test_the_sweep_reads_every_queued_run_a_page_at_a_time(db: Database) -> None:
    tenant = await new_tenant(db)
    ours = [(await record(db, tenant, request())).run_id for _ in range(5)]
    cancelled, started = ours[1], ours[3]
    async with db.tenant(tenant) as tc:
        await run_store.request_cancel(tc, cancelled)
        await run_store.claim_run(tc, started)
    seen: list[int] = []
    pages = 0
    after: run_store.QueuedPage | None = None
    async with db.admin() as conn:
        while True:
            page, after = await run_store.queued_runs_all_tenants(conn, 0, after, 2)
            assert len(page) <= 2
            seen += page
            pages += 1
            if after is None:
                break
        young, _ = await run_store.queued_runs_all_tenants(conn, 3600, None, 500)
    assert [r for r in seen if r in ours] == [ours[0], ours[2], ours[4]]  # oldest first
    assert len(seen) == len(set(seen)) and pages >= 2
    assert not set(young) & set(ours)  # none is an hour old yet


async def test_a_succeeded_step_stays_succeeded_when_restarted(db: Database) -> None:
    tenant = await new_tenant(db)
    run_id = (await record(db, tenant, request())).run_id
    async with db.tenant(tenant) as tc:
        await step_store.start_step(tc, run_id, "clone", 1)
        await step_store.finish_step(tc, run_id, "clone", "succeeded", Cloned(files=3))
        await step_store.start_step(tc, run_id, "plan", 2)
        await step_store.finish_step(tc, run_id, "plan", "failed", error="model down")
        again = await step_store.start_step(tc, run_id, "clone", 1)
        retried = await step_store.start_step(tc, run_id, "plan", 2)
        steps = await step_store.list_steps(tc, run_id)
    assert again.status == "succeeded" and again.record == Cloned(files=3)
    assert retried.status == "running" and retried.error is None
    assert [(s.name, s.status) for s in steps] == [("clone", "succeeded"), ("plan", "running")]


async def test_a_step_record_reads_back_typed_from_the_json_stored_before_types(
    db: Database,
) -> None:
    """Rows written by earlier versions (plain JSON objects, extra keys, a failure note
    merged in by an earlier try) read back as the step's record type."""
    tenant = await new_tenant(db)
    run_id = (await record(db, tenant, request())).run_id
    stored = {
        "deliver": {"branch": "agentops/3-x", "commit": "abc", "pr_url": "u", "pr_number": 9},
        "install": {"installed": "npm", "cache": "hit", "from": ["registry.test:8080"]},
        "plan": {"plan": "do it", "cost_usd": 0.25, "model": "m", "failure": "earlier try"},
        "telemetry": {"whatever": [1, 2]},  # a step this version does not know
    }
    async with db.tenant(tenant) as tc:
        for position, (name, detail) in enumerate(stored.items()):
            await step_store.start_step(tc, run_id, name, position)
            await tc.conn.execute(
                "UPDATE run_steps SET status = 'succeeded', detail = $3::jsonb, finished_at = now()"
                " WHERE run_id = $1 AND name = $2",
                run_id,
                name,
                json.dumps(detail),
            )
        steps = {s.name: s for s in await step_store.list_steps(tc, run_id)}
    assert steps["deliver"].record == Delivered(
        branch="agentops/3-x", commit="abc", pr_url="u", pr_number=9
    )
    install = steps["install"].record
    assert isinstance(install, Installed) and install.hosts == ["registry.test:8080"]
    assert steps["install"].as_json()["detail"]["from"] == ["registry.test:8080"]
    plan = steps["plan"].record
    assert isinstance(plan, Planned) and (plan.plan, plan.cost_usd) == ("do it", 0.25)
    assert isinstance(steps["telemetry"].record, UnknownRecord)
    assert steps["telemetry"].as_json()["detail"] == {"whatever": [1, 2]}


async def test_a_failed_step_keeps_the_note_people_were_told(db: Database) -> None:
    tenant = await new_tenant(db)
    run_id = (await record(db, tenant, request())).run_id
    async with db.tenant(tenant) as tc:
        await step_store.start_step(tc, run_id, "plan", 1)
        await step_store.finish_step(
            tc, run_id, "plan", "failed", failure="The model failed.", error="401 sk-…"
        )
        (step,) = await step_store.list_steps(tc, run_id)
    assert (step.record, step.failure, step.error) == (None, "The model failed.", "401 sk-…")
    assert step.as_json()["detail"] == {"failure": "The model failed."}


async def test_a_step_started_again_says_so(db: Database) -> None:
    tenant = await new_tenant(db)
    run_id = (await record(db, tenant, request())).run_id
    async with db.tenant(tenant) as tc:
        first = await step_store.start_step(tc, run_id, "reply:done", 1)
        again = await step_store.start_step(tc, run_id, "reply:done", 1)  # its worker died
    assert (first.again, again.again) == (False, True)
    assert again.status == "running"


async def test_the_intake_statement_stores_nothing_under_another_tenants_id(db: Database) -> None:
    mine, theirs = await new_tenant(db), await new_tenant(db)
    async with db.tenant_statement(mine) as ts:
        forged = dataclasses.replace(ts, tenant_id=theirs)  # my proof, their id
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await run_store.accept_run(forged, request(), _key(), "issue_comment")
    async with db.admin() as conn:
        for table in ("runs", "deliveries"):
            stored = await conn.fetchval(
                f"SELECT count(*) FROM {table} WHERE tenant_id = $1",  # noqa: S608 - fixed names
                theirs,
            )
            assert stored == 0


async def test_a_released_tenant_connection_keeps_no_tenant_scope(db: Database) -> None:
    """The tenant pool skips RESET ALL on release: the scope must end with its transaction."""
    tenant = await new_tenant(db)
    run_id = (await record(db, tenant, request())).run_id
    async with db.tenant(tenant) as tc:
        assert await run_store.get_run(tc, run_id) is not None
    held = [await db.tenant_pool.acquire() for _ in range(db.tenant_pool.get_max_size())]
    try:
        for conn in held:
            scope = await conn.fetchrow(
                "SELECT current_setting('app.tenant_id', true) AS tenant,"
                " current_setting('app.tenant_proof', true) AS proof,"
                " (SELECT count(*) FROM runs) AS visible"
            )
            assert (scope["tenant"] or "", scope["proof"] or "", scope["visible"]) == ("", "", 0)
    finally:
        for conn in held:
            await db.tenant_pool.release(conn)
