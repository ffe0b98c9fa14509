"""`implement` and `plan` on an issue: analyse, plan, edit in a tool loop, verify, deliver.

Every step is checkpointed (`RunContext.step`): a resumed run skips finished steps, and
the steps that need the checkout rebuild it from the recorded base commit and diff.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from app import repo_files
from app.config import Settings
from app.edits import EditPolicy
from app.forges.base import Issue
from app.forges.registry import wording_for
from app.llm.prompt_safety import fence_untrusted
from app.llm.router import LLMRouter
from app.llm.types import LLMRequest, Message
from app.prepare import Prepared
from app.repo_config import (
    REPO_CONFIG_FILE,
    RepoConfig,
    RepoConfigError,
    parse_repo_config,
    read_repo_config,
)
from app.sandbox import SandboxPolicy, resolve_test_command
from app.step_records import (
    CLONE,
    CONFIG,
    DELIVER,
    IMPLEMENT,
    ISSUE,
    LOCATE,
    PLAN,
    Changed,
    Cloned,
    ConfigRead,
    Delivered,
    Head,
    IssueText,
    Located,
    Planned,
)
from app.workflow import workspace
from app.workflow.analysis import (
    Analysis,
    analyse,
    files_markdown,
    resident_for,
    tests_markdown,
)
from app.workflow.context import RunContext, RunRefused
from app.workflow.deliver import deliver
from app.workflow.dependencies import install_dependencies
from app.workflow.mcp_tools import mcp_tools, servers_for_run, tools_note
from app.workflow.pr_test_bench import TestBench, ready_bench
from app.workflow.prompts import render_prompt, runner_prompt_values
from app.workflow.proving import ChangeProof, not_delivered
from app.workflow.sandbox_policy import policy_for_tests, release_scratch, within_caps
from app.workflow.toolloop import LoopLimits, LoopObserver, run_tool_loop
from app.workflow.tools import ExtraTools, SymbolFinder, Toolbox


async def run_issue_work(ctx: RunContext, head: Head) -> None:
    """After `prepare` and `check`: the code-changing part of `implement` and `plan`."""
    run = ctx.run
    folder = workspace.run_folder(ctx.deps.settings.workdir, run.id)

    async def checkout() -> Path:
        remote = await ctx.forge.git_remote(head.head_repo or run.repo)
        return await workspace.ensure_checkout(
            folder, remote, head.ref, head.head_sha, ctx.deps.settings.tree_limits
        )

    async def clone() -> Cloned:
        root = await checkout()
        files = sum(1 for _file in repo_files.walk_files(root))
        return Cloned(files=files, base_sha=head.head_sha)

    await ctx.step(CLONE, clone)
    await ctx.progress()

    async def read_issue() -> IssueText:
        found = await ctx.forge.get_issue(ctx.target)
        return IssueText(title=found.title, body=found.body, author=found.author, url=found.url)

    # Recorded, so that a resumed run (and `agentops replay`) works from the same text.
    read = await ctx.step(ISSUE, read_issue)
    issue = Issue(ctx.target, read.title, read.body, read.author, "open", url=read.url)
    issue_text = issue_prompt_text(issue.title, issue.body)
    config = await ctx.step(CONFIG, lambda: _read_config(checkout))
    repo_config = await within_caps(ctx, RepoConfig.model_validate(config.config))
    if run.command not in repo_config.commands:
        raise RunRefused(
            f"`/agentops {run.command}` is turned off for this repository "
            f"(`commands:` in {REPO_CONFIG_FILE})"
        )
    # `plan` uses no tools; a wrong name is refused before any model call
    mcp_servers = servers_for_run(ctx, repo_config) if run.command == "implement" else {}

    if run.command == "implement":  # dependencies before the first (paid) model call
        root = await checkout()
        bench = await implement_bench(
            ctx.deps.settings,
            folder,
            root,
            repo_config,
            lambda policy: install_dependencies(ctx, root, repo_config, policy),
        )

    analysed: list[Analysis] = []

    async def analysis() -> Analysis:
        """Index and rank once per process: the plan and implement steps reuse it."""
        if not analysed:
            root = await checkout()
            repository = head.head_repo or run.repo
            resident = resident_for(
                ctx.deps.settings, run.tenant_id, run.forge, repository, head.head_sha
            )
            analysed.append(
                await asyncio.to_thread(
                    analyse, root, issue_text, _cache_dir(ctx), resident=resident
                )
            )
        return analysed[0]

    async def locate() -> Located:
        found = await analysis()
        return Located(
            files=found.located_files(),
            tests=found.located_tests(),
            indexed=found.files_indexed,
            seconds=round(found.seconds, 2),
        )

    located = await ctx.step(LOCATE, locate)
    await ctx.progress()
    issue_block = fence_untrusted(f"issue #{run.target_number}", issue_text)

    async def plan() -> Planned:
        found = await analysis()
        return await make_plan(
            await ctx.llm(repo_config),
            run.repo,
            issue_block,
            files_markdown(located.files),
            tests_markdown(located.tests),
            found.context.text,
        )

    planned = await ctx.step(PLAN, plan)
    await ctx.progress()
    if run.command == "plan":
        await ctx.reply(
            "plan",
            f"**Plan for #{run.target_number}** (run {run.id})\n\n"
            f"{planned.plan}\n\n**Files**\n{files_markdown(located.files)}"
            f"\n\n**Tests that exercise them**\n{tests_markdown(located.tests)}",
        )
        return

    async def implement() -> Changed:
        root = await checkout()
        await workspace.reset_to(root, head.head_sha)  # a resumed step starts clean
        found = await analysis()
        async with mcp_tools(ctx, mcp_servers) as extra:
            return await change_and_prove(
                await ctx.llm(repo_config),
                folder,
                root,
                head.head_sha,
                repo_config,
                run.repo,
                issue_block,
                planned.plan,
                found.context.text,
                bench,
                found.find_symbols,
                observer=ctx.events,
                extra=extra,
            )

    implemented = await ctx.step(IMPLEMENT, implement)
    await ctx.progress()
    if implemented.unproven:
        await unproven_or_refused(ctx, implemented)

    async def deliver_step() -> Delivered:
        root = await checkout()
        await workspace.reset_to(root, head.head_sha)
        await workspace.apply_diff(root, implemented.diff)
        return await deliver(ctx, root, head, issue, planned.plan, implemented)

    delivered = await ctx.step(DELIVER, deliver_step)
    change = wording_for(run.forge).change_request
    await ctx.reply("delivered", delivered_reply(run.target_number, delivered, implemented, change))
    ctx.result.update({"pull_request": delivered.pr_url, "branch": delivered.branch})


def delivered_reply(number: int, delivered: Delivered, implemented: Changed, change: str) -> str:
    """The issue's reply; `change`: what the forge calls the draft ("pull request", …)."""
    unproven = (
        f"\n\n**Unproven**: its tests cannot pass in the sandbox ({implemented.unproven})."
        if implemented.unproven
        else ""
    )
    return (
        f"Opened draft {change} {delivered.pr_url} for #{number}: {implemented.summary}{unproven}"
    )


async def unproven_or_refused(ctx: RunContext, implemented: Changed) -> None:
    """A change whose tests cannot be proven here: delivered as a draft marked unproven
    (the check run ends neutral), or not at all, as the operator's setting says (and the
    issue is told why)."""
    if ctx.deps.settings.unproven_delivery == "none":
        refused = not_delivered(implemented)
        await ctx.reply("not-delivered", str(refused))
        raise refused
    ctx.result["conclusion"] = "neutral"


async def _read_config(checkout: Callable[[], Awaitable[Path]]) -> ConfigRead:
    root = await checkout()
    try:
        return ConfigRead(config=parse_repo_config(read_repo_config(root)).model_dump())
    except RepoConfigError as exc:
        raise RunRefused(f"{exc}. Fix {REPO_CONFIG_FILE} on the default branch.") from None


def issue_prompt_text(title: str, body: str) -> str:
    return f"{title}\n\n{body}"


def _cache_dir(ctx: RunContext) -> Path:
    return ctx.deps.settings.workdir / "codemap-cache"


async def make_plan(
    router: LLMRouter, repo: str, issue_block: str, files: str, tests: str, context: str
) -> Planned:
    """The planner's plan for an issue, given the code map's files to change, the tests
    that exercise them, and context."""
    request = LLMRequest(
        role="planner",
        system=render_prompt("plan_system", repo=repo),
        context=fence_untrusted("repository code", context),
        messages=(
            Message.user(render_prompt("plan_task", issue=issue_block, files=files, tests=tests)),
        ),
        max_tokens=2048,
    )
    completion = await router.complete(request)
    return Planned(
        plan=completion.text.strip(), cost_usd=completion.cost_usd, model=completion.model_id
    )


async def implement_bench(
    settings: Settings,
    folder: Path,
    root: Path,
    config: RepoConfig,
    install: Callable[[SandboxPolicy], Awaitable[Prepared]],
) -> TestBench:
    """The repository's tests in the sandbox, its dependencies installed by `install`:
    before the first model call, so a repository that cannot be tested costs nothing."""
    command = resolve_test_command(root, config.test, config.test_select)
    if command is None:
        raise RunRefused(
            "no test command: set `test:` in .agentops.yml (for example "
            "`test: pytest -q`) so AgentOps can prove its change"
        )
    policy = await policy_for_tests(settings, config, folder / "scratch")
    prepared = await install(policy)
    return await ready_bench(root, command, prepared.apply(policy), settings)


async def change_and_prove(
    router: LLMRouter,
    folder: Path,
    root: Path,
    base_sha: str,
    config: RepoConfig,
    repo: str,
    issue_block: str,
    plan: str,
    context: str,
    bench: TestBench,
    find_symbols: SymbolFinder | None = None,
    observer: LoopObserver | None = None,
    extra: ExtraTools | None = None,
) -> Changed:
    """The tool loop on `root` until the model's new tests are proven red → green; the
    model's `run_tests` tool is `bench` (as on pull requests: a runner that cannot select
    single tests runs them all; a malformed id is an answer, not a crash); `extra`: more
    tools (the operator's MCP servers)."""
    command = bench.command
    proving = ChangeProof(folder, root, base_sha, bench, config)
    toolbox = Toolbox(
        root,
        EditPolicy(
            forbidden=tuple(config.forbidden_paths), allow_workflows=config.allow_workflow_edits
        ),
        bench.run,
        max_test_runs=config.limits.max_test_runs,
        find_symbols=find_symbols,
        extra=extra,
    )
    request = LLMRequest(
        role="coder",
        system=render_prompt(
            "implement_system",
            repo=repo,
            edit_format=render_prompt("edit_format"),
            **runner_prompt_values(command),
        )
        + tools_note(toolbox.specs),
        context=fence_untrusted("repository code", context),
        messages=(
            Message.user(render_prompt("implement_task", repo=repo, issue=issue_block, plan=plan)),
        ),
        tools=toolbox.specs,
        max_tokens=8192,
    )
    limits = LoopLimits(max_turns=config.limits.max_turns, max_tokens=config.limits.max_tokens)
    try:
        outcome = await run_tool_loop(
            router, request, toolbox, limits, proving.verify, observer=observer
        )
    finally:  # the sized scratch area (a tmpfs when root) goes with the loop
        await release_scratch(folder)  # the tests' and the prepare phase's areas
    # The change is what the edit tool wrote, nothing else: the tests ran on copies.
    diff = await workspace.working_diff(root, base_sha, toolbox.edited)
    if not outcome.finished:
        raise RunRefused(
            f"the change was not completed ({outcome.reason}), so nothing was delivered. "
            "Add detail to the issue and write `/agentops retry`, or give the run more room "
            f"(`limits:` in {REPO_CONFIG_FILE})."
            + (f"\n\n{outcome.verification}" if outcome.verification else "")
        )
    return outcome.change(diff, command.display(), unproven=proving.unproven or None)
