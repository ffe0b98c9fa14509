"""What a running workflow holds: its run, its forge, and checkpointed steps."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from app.config import Settings
from app.forges.base import Forge, Target
from app.queue import RunQueue
from app.store import Database
from app.store import runs as run_store
from app.store import steps as step_store
from app.store.runs import Run

ForgeFactory = Callable[[Run], Awaitable[Forge]]


@dataclass
class WorkflowDeps:
    """The I/O a workflow needs, handed in so tests can pass real services or simulators."""

    settings: Settings
    db: Database
    queue: RunQueue
    forge_for: ForgeFactory


class RunCancelled(Exception):
    """Someone asked to cancel this run; raised between steps."""


class RunRefused(Exception):
    """The run cannot go on for a reason the person must hear (already told)."""


@dataclass
class RunContext:
    deps: WorkflowDeps
    run: Run
    forge: Forge
    positions: dict[str, int] = field(default_factory=dict)

    @property
    def target(self) -> Target:
        return Target(self.run.repo, self.run.target_kind, self.run.target_number)  # type: ignore[arg-type]

    async def step(self, name: str, action: Callable[[], Awaitable[dict[str, Any] | None]]
                   ) -> dict[str, Any]:
        """Run `action` once per run: a step that already succeeded returns its detail.

        Cancellation is checked before each step starts.
        """
        position = self.positions.setdefault(name, len(self.positions))
        async with self.deps.db.tenant(self.run.tenant_id) as tc:
            if await run_store.is_cancel_requested(tc, self.run.id):
                raise RunCancelled
            started = await step_store.start_step(tc, self.run.id, name, position)
        if started.status == "succeeded":
            return started.detail
        try:
            detail = await action() or {}
        except RunCancelled:
            await self._finish_step(name, "cancelled", {}, None)
            raise
        except BaseException as exc:
            await self._finish_step(name, "failed", {}, f"{type(exc).__name__}: {exc}"[:500])
            raise
        await self._finish_step(name, "succeeded", detail, None)
        return detail

    async def _finish_step(self, name: str, status: str, detail: dict[str, Any],
                           error: str | None) -> None:
        async with self.deps.db.tenant(self.run.tenant_id) as tc:
            await step_store.finish_step(tc, self.run.id, name, status, detail, error)

    async def reply(self, name: str, body: str) -> None:
        """Post one comment, exactly once per run and `name` (resumable)."""

        async def post() -> dict[str, Any]:
            comment = await self.forge.create_comment(self.target, body)
            return {"comment_id": comment.id}

        await self.step(f"reply:{name}", post)
