"""From a parsed webhook to a durable run: store first, then enqueue. No forge or LLM call."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from app.events import Ignored, LabelCheck, Outcome, RunRequest, TenantChange
from app.queue import RunQueue
from app.store import Database
from app.store import label_checks as label_check_store
from app.store import runs as run_store
from app.store import tenants as tenant_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntakeResult:
    status_code: int
    text: str
    run_id: int | None = None


class Intake:
    def __init__(self, db: Database, queue: RunQueue) -> None:
        self.db = db
        self.queue = queue

    async def accept(self, outcome: Outcome, delivery_id: str, event: str) -> IntakeResult:
        """Raises the database's errors: the web layer answers 503 for them."""
        if isinstance(outcome, Ignored):
            return IntakeResult(200, f"ignored: {outcome.reason}")
        if isinstance(outcome, TenantChange):
            return await self._tenant_change(outcome)
        if isinstance(outcome, LabelCheck):
            return await self._label_check(outcome, delivery_id, event)
        return await self._run(outcome, delivery_id, event)

    async def _tenant_change(self, change: TenantChange) -> IntakeResult:
        async with self.db.admin() as conn:
            tenant_id = await tenant_store.upsert_tenant(
                conn, change.tenant.forge, change.tenant.external_key, change.tenant.account
            )
            await tenant_store.set_tenant_state(conn, tenant_id, change.action)
        return IntakeResult(200, f"recorded: installation {change.action}")

    async def _label_check(self, check: LabelCheck, delivery_id: str, event: str) -> IntakeResult:
        """Stored and queued like a run; the worker decides whether it becomes one."""
        async with self.db.admin() as conn:
            tenant_id = await tenant_store.upsert_tenant(
                conn, check.tenant.forge, check.tenant.external_key, check.tenant.account
            )
        async with self.db.tenant(tenant_id) as tc:
            accepted = await label_check_store.record_delivery_and_label_check(
                tc, check, delivery_id, event
            )
        if not accepted.created:
            return IntakeResult(200, f"duplicate: {accepted.reason}", accepted.run_id or None)
        if await self.queue.enqueue_label_check(accepted.run_id):
            async with self.db.admin() as conn:
                await label_check_store.mark_enqueued_all_tenants(conn, accepted.run_id)
        return IntakeResult(202, f"accepted: label check {accepted.run_id}")

    async def _run(self, request: RunRequest, delivery_id: str, event: str) -> IntakeResult:
        async with self.db.admin() as conn:
            tenant_id = await tenant_store.upsert_tenant(
                conn, request.tenant.forge, request.tenant.external_key, request.tenant.account
            )
        async with self.db.tenant(tenant_id) as tc:
            if request.refers_to_run is not None:
                referred = await run_store.get_run(tc, request.refers_to_run)
                if referred is None or referred.repo != request.repo:
                    return IntakeResult(200, "ignored: the check run names no run of ours")
                request = dataclasses.replace(
                    request,
                    target_kind=referred.target_kind,  # type: ignore[arg-type]
                    target_number=referred.target_number,
                    context={**request.context, "refers_to_run": referred.id},
                )
            accepted = await run_store.record_delivery_and_run(tc, request, delivery_id, event)
        if not accepted.created:
            return IntakeResult(200, f"duplicate: {accepted.reason}", accepted.run_id)
        if await self.queue.enqueue_run(accepted.run_id):
            async with self.db.admin() as conn:
                await run_store.mark_enqueued_all_tenants(conn, accepted.run_id)
        log.info(
            "delivery %s: run %s queued (%s)", delivery_id, accepted.run_id, request.command.name
        )
        return IntakeResult(202, f"accepted: run {accepted.run_id}", accepted.run_id)
