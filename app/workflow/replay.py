"""Re-running a finished `implement` run against its recorded model answers, offline.

The run's recorded base commit is checked out from a local clone, the code map, the plan
and the tool loop run again exactly as the worker ran them, and every model call is
answered from the records. The result says whether the plan and the diff came out the
same: a debugging aid, and a regression test for the workflow itself.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from app import git
from app.config import Settings
from app.llm.prompt_safety import fence_untrusted
from app.llm.replay import load_recorded_run, replay_router
from app.repo_config import parse_repo_config, read_repo_config
from app.step_records import CLONE, IMPLEMENT, ISSUE, PLAN, StepKind, StepRecord
from app.store import Database
from app.store import runs as run_store
from app.store import steps as step_store
from app.workflow.analysis import analyse, files_markdown, tests_markdown
from app.workflow.dependencies import install_locally
from app.workflow.implement import change_and_prove, implement_bench, issue_prompt_text, make_plan

R = TypeVar("R", bound=StepRecord)


class CannotReplay(Exception):
    """The run lacks what a replay needs; the message says what."""


@dataclass(frozen=True)
class ReplayReport:
    run_id: int
    plan_same: bool
    diff_same: bool
    answers: int
    unused: int
    divergent: int
    diff: str


async def replay_run(
    settings: Settings, db: Database, run_id: int, checkout: Path, say: Callable[[str], None]
) -> ReplayReport:
    recorded = await load_recorded_run(db, run_id)
    async with db.tenant(recorded.tenant_id) as tc:
        run = await run_store.get_run(tc, run_id)
        steps = {
            s.name: s.record
            for s in await step_store.list_steps(tc, run_id)
            if s.record is not None
        }
    if run is None or run.command != "implement":
        raise CannotReplay(f"run {run_id} is not an implement run")
    missing = [name for name in ("clone", "issue", "plan", "implement") if name not in steps]
    if missing:
        raise CannotReplay(f"run {run_id} has no finished {', '.join(missing)} step")
    clone, issue, plan, change = (
        _recorded(steps, CLONE, run_id),
        _recorded(steps, ISSUE, run_id),
        _recorded(steps, PLAN, run_id),
        _recorded(steps, IMPLEMENT, run_id),
    )
    if clone.base_sha is None:
        raise CannotReplay(f"run {run_id} did not record the commit it started from")
    base_sha = clone.base_sha
    folder = Path(tempfile.mkdtemp(prefix="agentops-replay-"))
    work = folder / "repo"
    try:
        await git.run_git(
            ["worktree", "add", "--quiet", "--detach", str(work), base_sha], cwd=checkout
        )
    except git.GitError:
        shutil.rmtree(folder, ignore_errors=True)
        raise CannotReplay(
            f"{checkout} does not have commit {base_sha[:12]}: fetch it first"
        ) from None
    try:
        say(
            f"replaying run {run_id} of {run.repo} at {base_sha[:12]} "
            f"({len(recorded.calls)} recorded answers)"
        )
        text = issue_prompt_text(issue.title, issue.body)
        config = parse_repo_config(read_repo_config(work))
        found = await asyncio.to_thread(analyse, work, text, settings.workdir / "codemap-cache")
        router, provider = replay_router(recorded.calls, strict=False)
        issue_block = fence_untrusted(f"issue #{run.target_number}", text)
        planned = await make_plan(
            router,
            run.repo,
            issue_block,
            files_markdown(found.located_files()),
            tests_markdown(found.located_tests()),
            found.context.text,
        )
        say("plan replayed" + (" (same)" if planned.plan == plan.plan else " (DIFFERENT)"))
        bench = await implement_bench(
            settings,
            folder,
            work,
            config,
            lambda policy: install_locally(settings, work, config, policy, folder),
        )
        implemented = await change_and_prove(
            router,
            folder,
            work,
            base_sha,
            config,
            run.repo,
            issue_block,
            planned.plan,
            found.context.text,
            bench,
            found.find_symbols,
        )
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)
        await git.run_git(["worktree", "prune"], cwd=checkout)
    return ReplayReport(
        run_id,
        planned.plan == plan.plan,
        implemented.diff == change.diff,
        len(recorded.calls),
        provider.unused,
        provider.divergent,
        implemented.diff,
    )


def _recorded(steps: dict[str, StepRecord], kind: StepKind[R], run_id: int) -> R:
    found = steps.get(kind.name)
    if not isinstance(found, kind.record):
        raise CannotReplay(f"the {kind.name} step of run {run_id} cannot be read back")
    return found
