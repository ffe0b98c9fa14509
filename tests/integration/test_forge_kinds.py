"""Which forges exist is the registry's to say, not the schema's: a new forge needs no
migration (the database checks a kind's shape), and the intake refuses a kind the
registry does not know before anything is stored."""

from __future__ import annotations

import dataclasses
import uuid

import asyncpg
import pytest

from app.events import RunRequest, TenantKey
from app.forges.registry import FORGES
from app.queue import RunQueue
from app.store import Database
from app.store import tenants as tenant_store
from tests.intake_once import accept_once
from tests.integration.test_store import request


def _request(forge: str) -> RunRequest:
    return dataclasses.replace(
        request(f"{forge}:comment:{uuid.uuid4().hex}"),
        tenant=TenantKey(forge, uuid.uuid4().hex[:12], "octo"),
    )


async def test_every_registered_forge_and_a_new_one_are_stored_without_a_migration(
    db: Database,
) -> None:
    async with db.admin() as conn:
        for kind in [*(spec.kind for spec in FORGES), "gitea", "bitbucket-server"]:
            tenant_id = await tenant_store.upsert_tenant(conn, kind, uuid.uuid4().hex)
            stored = await conn.fetchval("SELECT forge FROM tenants WHERE id = $1", tenant_id)
            assert stored == kind


@pytest.mark.parametrize("kind", ["", "GitHub", "git hub", "-gitea", "a" * 33, "gitea;"])
async def test_the_database_refuses_a_malformed_forge_kind(db: Database, kind: str) -> None:
    async with db.admin() as conn:
        with pytest.raises(asyncpg.CheckViolationError):
            await tenant_store.upsert_tenant(conn, kind, uuid.uuid4().hex)


async def test_the_intake_stores_nothing_for_a_forge_the_registry_does_not_know(
    db: Database, redis_url: str, queue_name: str
) -> None:
    queue = RunQueue(redis_url, queue_name)
    delivery = uuid.uuid4().hex
    try:
        unknown = _request("gitea")
        result = await accept_once(db, queue, unknown, delivery, "issue_comment")
        assert (result.status_code, result.run_id) == (500, None)
        assert "unknown forge" in result.text
        known = await accept_once(db, queue, _request(FORGES[0].kind), delivery, "issue_comment")
        assert known.status_code == 202 and known.run_id is not None
    finally:
        await queue.close()
    async with db.admin() as conn:
        key = unknown.tenant.external_key
        assert await conn.fetchval("SELECT count(*) FROM tenants WHERE external_key = $1", key) == 0
        forges = await conn.fetch("SELECT forge FROM deliveries WHERE delivery_id = $1", delivery)
    assert [row["forge"] for row in forges] == [FORGES[0].kind]
