"""Local mode: `implement` on a git checkout with no forge and no database.

The work happens in a separate worktree of the checkout, so the person's own working tree
is never touched; what remains is a branch `agentops/local-<slug>` with one commit, which
holds exactly the files the edit tool wrote. The tests run on copies of that worktree
(app/sandbox/workcopy.py), and git runs with program-running config neutralised
(app/git_env.py), so e.g. a local LFS filter is not run either.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app import git
from app.config import Settings
from app.llm import build_router
from app.llm.call_file import FileCallLog
from app.llm.prompt_safety import fence_untrusted
from app.llm.routing import RepoLLMConfig
from app.repo_config import parse_repo_config, read_repo_config
from app.workflow import workspace
from app.workflow.analysis import analyse, files_markdown, tests_markdown
from app.workflow.context import RunRefused
from app.workflow.deliver import branch_name
from app.workflow.dependencies import install_locally
from app.workflow.implement import change_and_prove, implement_bench, make_plan
from app.workflow.proving import not_delivered

LOCAL_AUTHOR = git.Person("AgentOps", "agentops@localhost")


@dataclass(frozen=True)
class LocalResult:
    branch: str
    commit: str
    plan: str
    diff: str
    summary: str
    verification: str
    cost_usd: float
    calls_file: Path


def calls_file(settings: Settings, task_text: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    slug = branch_name(0, task_title(task_text)).removeprefix("agentops/0-")[:40]
    return Path(settings.workdir) / "local-runs" / f"{stamp}-{slug}.jsonl"


def task_title(task_text: str) -> str:
    first = next((line for line in task_text.splitlines() if line.strip()), "change")
    return first.strip().lstrip("#").strip()


async def run_local(
    settings: Settings, checkout: Path, task_text: str, say: Callable[[str], None]
) -> LocalResult:
    started = time.monotonic()

    def step(message: str) -> None:
        say(f"[{time.monotonic() - started:6.1f} s] {message}")

    top = (await git.run_git(["rev-parse", "--show-toplevel"], cwd=checkout)).strip()
    repo = Path(top)
    base_sha = await git.head_sha(repo)
    folder = Path(tempfile.mkdtemp(prefix="agentops-local-"))
    work = folder / "repo"
    try:
        await git.run_git(["worktree", "add", "--quiet", "--detach", str(work), base_sha], cwd=repo)
        return await _run(settings, repo, work, folder, base_sha, task_text, step)
    finally:
        # The work tree and the copy of the original code (for the red runs) go; the
        # branch stays.
        await asyncio.to_thread(shutil.rmtree, folder, True)
        await git.run_git(["worktree", "prune"], cwd=repo)


async def _run(
    settings: Settings,
    repo: Path,
    work: Path,
    folder: Path,
    base_sha: str,
    task_text: str,
    step: Callable[[str], None],
) -> LocalResult:
    config = parse_repo_config(read_repo_config(work))
    step(f"indexing {repo}")
    cache = Path(settings.workdir) / "codemap-cache"
    found = await asyncio.to_thread(analyse, work, task_text, cache)
    files = found.located_files()
    step(f"indexed {found.files_indexed} files; most relevant:\n{files_markdown(files[:5])}")
    calls = FileCallLog(calls_file(settings, task_text))
    step(f"recording the model calls in {calls.path} (`agentops replay` reads it)")
    router, providers = build_router(
        settings,
        calls,
        RepoLLMConfig.model_validate({"models": config.models, "budgets": config.budgets}),
    )
    try:
        issue_block = fence_untrusted("task", task_text)
        step("planning")
        planned = await make_plan(
            router,
            repo.name,
            issue_block,
            files_markdown(files),
            tests_markdown(found.located_tests()),
            found.context.text,
        )
        step(f"plan ({planned.model}):\n{planned.plan}")
        step("implementing (model, edits and tests in the sandbox)")
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
            repo.name,
            issue_block,
            planned.plan,
            found.context.text,
            bench,
            found.find_symbols,
        )
    finally:
        await providers.close()
    if implemented.unproven:
        if settings.unproven_delivery == "none":
            raise not_delivered(implemented)
        step(f"unproven: {implemented.unproven}")
    title = ("Unproven: " if implemented.unproven else "") + task_title(task_text)
    branch = branch_name(0, task_title(task_text)).replace("agentops/0-", "agentops/local-")
    await git.run_git(["checkout", "--quiet", "-B", branch], cwd=work)
    if not implemented.diff.strip():
        raise RunRefused("the model finished without changing anything")
    sha = await git.commit(
        work,
        f"{title[:72]}\n\n{implemented.summary}",
        author=LOCAL_AUTHOR,
        paths=await workspace.diff_paths(work, implemented.diff),
    )
    step(f"committed {sha[:12]} on branch {branch}")
    cost = planned.cost_usd + implemented.cost_usd
    return LocalResult(
        branch,
        sha,
        planned.plan,
        implemented.diff,
        implemented.summary,
        implemented.verification,
        cost,
        calls.path,
    )
