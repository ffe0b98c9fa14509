"""What the web process's routes share, made at start: settings, pools, queue, intake."""

from __future__ import annotations

from collections.abc import Callable

from app.budget_watch import BudgetWatch
from app.config import Settings
from app.forges.registry import FORGES
from app.forges.spec import WebhookReceiver
from app.intake import Intake
from app.llm.factory import shared_cooldowns
from app.metrics import llm as llm_metrics
from app.queue import RunQueue
from app.store import Database


class Receiving:
    """Bytes of webhook bodies being received at once, across requests: beyond `limit`,
    a new body is refused with a 503 instead of held in memory."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0


class Service:
    """Everything the routes share, created at startup."""

    def __init__(
        self, settings: Settings, worker_consuming: Callable[[], bool] | None = None
    ) -> None:
        self.settings = settings
        self.worker_consuming = worker_consuming
        llm_metrics.know_models(settings)  # the models a cooldown may name as a label
        self.db: Database | None = None
        self.queue = RunQueue(settings.redis_url, settings.queue_name)
        self._intake: Intake | None = None
        self.cooldowns = shared_cooldowns(settings)
        self.pending = 0  # webhook deliveries being handled now
        self.budget_watch = BudgetWatch()  # their deadlines
        self.receiving = Receiving(settings.intake_max_receiving_mb * 1024 * 1024)
        # webhook path -> (forge kind, its receiver), one for every forge of the registry
        self.webhook_receivers: dict[str, tuple[str, WebhookReceiver]] = {
            spec.webhook_path: (spec.kind, spec.receiver(settings)) for spec in FORGES
        }

    @property
    def intake(self) -> Intake:
        assert self.db is not None
        if self._intake is None:
            self._intake = Intake(self.db, self.queue)
        return self._intake

    async def close(self) -> None:
        if self._intake is not None:  # its last jobs, or the sweep enqueues them
            await self._intake.close()
        await self.queue.close()
        await self.cooldowns.close()
        if self.db is not None:
            await self.db.close()
