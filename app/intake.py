"""From a parsed webhook to a durable run: stored before the answer, enqueued after it.
No forge or LLM call. A command costs one round trip to PostgreSQL (the tenant's id is
remembered; the delivery and run are one statement, stored together with those arriving
meanwhile) and nothing of Redis's time."""

from __future__ import annotations

import dataclasses
import logging
from collections import OrderedDict
from dataclasses import dataclass

from app import tracing
from app.enqueuer import Enqueuer
from app.events import Ignored, LabelCheck, Outcome, RunRequest, TenantChange, TenantKey
from app.forges.registry import KINDS
from app.queue import RunQueue
from app.store import Database
from app.store import label_checks as label_check_store
from app.store import runs as run_store
from app.store import tenants as tenant_store
from app.store.accept_batch import AcceptBatcher
from app.store.runs import Run

log = logging.getLogger(__name__)

KNOWN_TENANTS = 10_000  # tenant ids remembered (a tenant's id never changes)


@dataclass(frozen=True)
class IntakeResult:
    status_code: int
    text: str
    run_id: int | None = None


class Intake:
    def __init__(self, db: Database, queue: RunQueue) -> None:
        self.db = db
        self.enqueuer = Enqueuer(queue)
        self.batcher = AcceptBatcher(db)
        self._tenant_ids: OrderedDict[tuple[str, str, str], int] = OrderedDict()

    async def settled(self) -> None:
        """The jobs of everything accepted so far are enqueued (or left to the sweep)."""
        await self.enqueuer.settled()

    async def close(self, grace_seconds: float = 2.0) -> None:
        await self.enqueuer.close(grace_seconds)

    async def accept(self, outcome: Outcome, delivery_id: str, event: str) -> IntakeResult:
        """Raises the database's errors: the web layer answers 503 for them."""
        if isinstance(outcome, Ignored):
            return IntakeResult(200, f"ignored: {outcome.reason}")
        if outcome.tenant.forge not in KINDS:  # a handler's fault, not the sender's
            log.error("delivery %s names unknown forge %r", delivery_id, outcome.tenant.forge)
            return IntakeResult(
                500, "internal error: an unknown forge; the delivery was not stored"
            )
        if isinstance(outcome, TenantChange):
            return await self._tenant_change(outcome)
        if isinstance(outcome, LabelCheck):
            return await self._label_check(outcome, delivery_id, event)
        return await self._run(outcome, delivery_id, event)

    async def _tenant_id(self, tenant: TenantKey) -> int:
        """Created on first sight; a known tenant costs nothing (a new account name, as
        after a rename, is written once)."""
        key = (tenant.forge, tenant.external_key, tenant.account)
        known = self._tenant_ids.get(key)
        if known is not None:
            self._tenant_ids.move_to_end(key)
            return known
        async with self.db.admin() as conn:
            tenant_id = await tenant_store.upsert_tenant(conn, *key)
        self._tenant_ids[key] = tenant_id
        if len(self._tenant_ids) > KNOWN_TENANTS:
            self._tenant_ids.popitem(last=False)
        return tenant_id

    async def _tenant_change(self, change: TenantChange) -> IntakeResult:
        tenant_id = await self._tenant_id(change.tenant)
        async with self.db.admin() as conn:
            await tenant_store.set_tenant_state(conn, tenant_id, change.action)
        return IntakeResult(200, f"recorded: installation {change.action}")

    async def _label_check(self, check: LabelCheck, delivery_id: str, event: str) -> IntakeResult:
        """Stored and queued like a run; the worker decides whether it becomes one."""
        tenant_id = await self._tenant_id(check.tenant)
        async with self.db.tenant(tenant_id) as tc:
            accepted = await label_check_store.record_delivery_and_label_check(
                tc, check, delivery_id, event
            )
        if not accepted.created:
            return IntakeResult(200, f"duplicate: {accepted.reason}", accepted.run_id or None)
        self.enqueuer.add_label_check(accepted.run_id)
        return IntakeResult(202, f"accepted: label check {accepted.run_id}")

    async def _run(self, request: RunRequest, delivery_id: str, event: str) -> IntakeResult:
        tenant_id = await self._tenant_id(request.tenant)
        tracing.tenant_known(tenant_id)
        if request.refers_to_run is not None:
            async with self.db.tenant(tenant_id) as tc:
                referred = await run_store.get_run(tc, request.refers_to_run)
            if referred is None or not _same_repository(referred, request):
                return IntakeResult(200, "ignored: the check run names no run of ours")
            request = dataclasses.replace(
                request,
                target_kind=referred.target_kind,  # type: ignore[arg-type]
                target_number=referred.target_number,
                context={**request.context, "refers_to_run": referred.id},
            )
        accepted = await self.batcher.accept(
            tenant_id, request, delivery_id, event, tracing.trace_parent()
        )
        tracing.run_accepted(accepted.run_id or None, request.command.name)
        if not accepted.created:
            return IntakeResult(200, f"duplicate: {accepted.reason}", accepted.run_id)
        self.enqueuer.add_run(accepted.run_id)
        # at INFO the enqueuer says "runs … queued", one line per batch
        log.debug(
            "delivery %s: run %s accepted (%s)", delivery_id, accepted.run_id, request.command.name
        )
        return IntakeResult(202, f"accepted: run {accepted.run_id}", accepted.run_id)


def _same_repository(run: Run, request: RunRequest) -> bool:
    """By the forge's id where both know it (a renamed repository's check run names the
    new name), else by name."""
    asked = run_store.repository_id(request.context)
    if run.repo_id is not None and asked is not None:
        return run.repo_id == asked
    return run.repo == request.repo
