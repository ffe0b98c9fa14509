"""What the web process's routes share, made at start: settings, pools, queue, intake."""

from __future__ import annotations

from collections.abc import Callable

from app.config import Settings
from app.intake import Intake
from app.llm.factory import shared_cooldowns
from app.metrics import Metrics
from app.queue import RunQueue
from app.store import Database
from app.webhooks import github_mac
from handlers import github as github_handlers
from handlers import gitlab as gitlab_handlers


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
        self.metrics = Metrics()
        self.db: Database | None = None
        self.queue = RunQueue(settings.redis_url, settings.queue_name)
        self._intake: Intake | None = None
        self.cooldowns = shared_cooldowns(settings)
        self.pending = 0  # webhook deliveries being handled now
        self.receiving = Receiving(settings.intake_max_receiving_mb * 1024 * 1024)
        # keyed once: each delivery's HMAC is a copy of this one
        secret = settings.github_webhook_secret
        self.github_mac = github_mac(secret.get_secret_value().encode()) if secret else None
        self.github = github_handlers.GitHubContext(
            settings.github_app_id,
            settings.github_bot_login,
            settings.labels,
            settings.repository_labels,
        )
        self.gitlab = gitlab_handlers.GitLabContext(
            settings.gitlab_url or "",
            settings.gitlab_bot_username,
            settings.labels,
            settings.repository_labels,
        )

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
