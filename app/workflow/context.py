"""What a running workflow holds: its run, its forge, and checkpointed steps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

from app import tracing
from app.config import Settings
from app.forges.base import Comment, Forge, Target
from app.forges.markers import run_key, unmarked
from app.llm.call_log import PostgresCallLog
from app.llm.cooldowns import RedisCooldowns
from app.llm.factory import build_router, shared_cooldowns
from app.llm.providers.registry import ProviderRegistry
from app.llm.router import LLMRouter
from app.llm.routing import RepoLLMConfig
from app.metrics.runs import timed_step
from app.queue import RunQueue
from app.repo_config import RepoConfig
from app.step_records import Replied, StepKind, StepRecord, reply_kind
from app.store import Database
from app.store import runs as run_store
from app.store import steps as step_store
from app.store.runs import Run
from app.workflow import progress as progress_view
from app.workflow.checks import check_ref_from_json
from app.workflow.failures import RunRefused as RunRefused  # its home before failures.py
from app.workflow.failures import failure_record, public_failure
from app.workflow.recorder import RunRecorder

ForgeFactory = Callable[[Run], Awaitable[Forge]]
R = TypeVar("R", bound=StepRecord)


@dataclass
class WorkflowDeps:
    """The I/O a workflow needs, handed in so tests can pass real services or simulators."""

    settings: Settings
    db: Database
    queue: RunQueue
    forge_for: ForgeFactory
    # set when the worker stops (jobs/graceful.py): runs stop before their next step
    stopping: asyncio.Event = field(default_factory=asyncio.Event)


class RunCancelled(Exception):
    """Someone asked to cancel this run; raised between steps."""


class RunHandedOver(Exception):
    """The worker is stopping: the run stops between steps, for another worker to go on
    from the next one."""


class StepUnreadable(Exception):
    """A finished step's stored record does not read back as its kind's type."""


@dataclass
class RunContext:
    deps: WorkflowDeps
    run: Run
    forge: Forge
    positions: dict[str, int] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)  # merged into the run's result
    _router: LLMRouter | None = None
    _providers: ProviderRegistry | None = None
    _cooldowns: RedisCooldowns | None = None
    # called when the run ends, however it ends (a cache entry's lease, app/prepare)
    on_close: list[Callable[[], None]] = field(default_factory=list)
    _open_steps: int = 0  # steps under way (a step may hold others: deliver, its message)
    events: RunRecorder = field(init=False)  # the run's live log (the run page)

    def __post_init__(self) -> None:
        self.events = RunRecorder(self.deps.db, self.run.tenant_id, self.run.id)

    @property
    def page_url(self) -> str | None:
        """This run's page, when the public URL is set (the check run's Details link)."""
        return progress_view.run_page_url(self.deps.settings, self.run.id)

    @property
    def target(self) -> Target:
        return Target(self.run.repo, self.run.target_kind, self.run.target_number)  # type: ignore[arg-type]

    async def step(self, kind: StepKind[R], action: Callable[[], Awaitable[R]]) -> R:
        """Run `action` once per run: a step that already succeeded returns its record.

        Cancellation, and the worker stopping, are checked before each step starts.
        """
        return await self.resumable_step(kind, lambda again: action())

    async def resumable_step(self, kind: StepKind[R], action: Callable[[bool], Awaitable[R]]) -> R:
        """`step`, telling `action` whether an earlier try of the step started and did not
        finish (a crashed worker, a failed try): then what it creates may exist already."""
        with tracing.step_span(kind.name):
            return await self._step(kind, action)

    async def _step(self, kind: StepKind[R], action: Callable[[bool], Awaitable[R]]) -> R:
        name = kind.name
        position = self.positions.setdefault(name, len(self.positions))
        async with self.deps.db.tenant(self.run.tenant_id) as tc:
            if await run_store.is_cancel_requested(tc, self.run.id):
                raise RunCancelled  # before a hand-over: the next worker could not claim it
            if self.deps.stopping.is_set() and not self._open_steps:
                raise RunHandedOver
            started = await step_store.start_step(tc, self.run.id, name, position)
        if started.status == "succeeded":
            if not isinstance(started.record, kind.record):
                raise StepUnreadable(f"the record of step {name!r} does not read back")
            return started.record
        self._open_steps += 1
        outer = self.events.step
        began = time.monotonic()
        await self.events.step_started(name, position, started.again)
        try:
            with timed_step(name, cancelled=RunCancelled):
                record = await action(started.again)
        except RunCancelled:
            await self._finish_step(name, "cancelled")
            await self.events.step_ended(name, "cancelled", time.monotonic() - began)
            self.events.step = outer
            raise
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError) and self.deps.stopping.is_set():
                raise  # cut as the worker stops: left running, so its next try knows
            # the checklist shows people what failed; the step's error keeps the detail
            note = public_failure(exc, self.run.forge, self.run.id).what_failed
            await self._finish_step(name, "failed", failure=note, error=failure_record(exc))
            await self.events.step_ended(name, "failed", time.monotonic() - began, failure=note)
            self.events.step = outer
            raise
        finally:
            self._open_steps -= 1
        await self._finish_step(name, "succeeded", record)
        await self.events.step_ended(name, "succeeded", time.monotonic() - began, record)
        self.events.step = outer
        return record

    async def _finish_step(
        self,
        name: str,
        status: str,
        record: StepRecord | None = None,
        *,
        failure: str | None = None,
        error: str | None = None,
    ) -> None:
        async with self.deps.db.tenant(self.run.tenant_id) as tc:
            await step_store.finish_step(
                tc, self.run.id, name, status, record, failure=failure, error=error
            )

    async def reply(self, name: str, body: str) -> None:
        """Post one comment, exactly once per run and `name` (resumable).

        The comment carries the marker `run=<id> key=reply:<name>`: a step tried again
        finds the comment an earlier try posted, and edits it if the text changed.
        """
        key = run_key(self.run.id, f"reply:{name}")

        async def post(again: bool) -> Replied:
            comment = await post_once(self.forge, self.target, key, body, again)
            return Replied(comment_id=comment.id)

        await self.resumable_step(reply_kind(name), post)

    async def llm(self, config: RepoConfig | None = None) -> LLMRouter:
        """This run's model router (built on first use; every call is recorded)."""
        if self._router is None:
            repo = (
                RepoLLMConfig.model_validate({"models": config.models, "budgets": config.budgets})
                if config
                else None
            )
            call_log = PostgresCallLog(
                self.deps.db,
                self.run.tenant_id,
                self.run.id,
                self.deps.settings.job_timeout_seconds,
                on_record=self.events.llm_call,
            )
            self._cooldowns = shared_cooldowns(self.deps.settings)
            self._router, self._providers = build_router(
                self.deps.settings, call_log, repo, cooldowns=self._cooldowns
            )
        return self._router

    async def progress(self, title: str | None = None) -> None:
        """Show the checklist as it is now on the run's check run (GitLab: status + note)."""
        async with self.deps.db.tenant(self.run.tenant_id) as tc:
            run = await run_store.get_run(tc, self.run.id)
            if run is None or not run.check_ref:
                return
            now = await step_store.run_snapshot(tc, run)
        update = progress_view.in_progress(
            now, title or progress_view.title_for(run), self.page_url
        )
        await self.forge.update_check(check_ref_from_json(run.check_ref), update)

    async def aclose(self) -> None:
        while self.on_close:
            self.on_close.pop()()
        if self._providers is not None:
            await self._providers.close()
        if self._cooldowns is not None:
            await self._cooldowns.close()


async def post_once(forge: Forge, target: Target, key: str, body: str, again: bool) -> Comment:
    """Post `body` on `target` with the marker `key`; `again` (an earlier try may have
    posted it): the comment found with that marker is kept, or edited if its text
    differs."""
    earlier = await forge.find_comment(target, key) if again else None
    if earlier is None:
        return await forge.create_comment(target, body, key)
    if unmarked(earlier.body) != unmarked(body):
        return await forge.update_comment(target, earlier.id, body, key)
    return earlier


async def refuse(ctx: RunContext, name: str, message: str, detail: str = "") -> NoReturn:
    """Tell the person why the run stops (once per run), then stop it; `detail` goes to
    the run's record only."""
    await ctx.reply(name, message)
    raise RunRefused(message, detail, told=True)
