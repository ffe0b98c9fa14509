"""A pull request (GitLab: merge request) being worked on by `/agentops test` or
`/agentops fix` (`PullWork`), and the steps both commands take with it:

- `clone`, `config`, `diff`: the head checked out and `.agentops.yml` read under the
  write-access rule (app/workflow/pr_checkout.py); the change (title, description,
  files, diff) for the model, fenced as data;
- a tool loop that edits the checkout until its `finish` is verified, the named tests
  passing in the sandbox (app/workflow/pr_test_bench.py).

The change is then committed and pushed back by app/workflow/pr_push.py. Every step goes
through `RunContext.step`, so a resumed run repeats none that finished.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app import repo_files
from app.edits import EditPolicy
from app.forges.registry import wording_for
from app.llm.prompt_safety import fence_untrusted
from app.llm.types import LLMRequest, Message
from app.repo_config import RepoConfig
from app.step_records import CLONE, CONFIG, DIFF, Changed, ChangedFileName, Cloned, Head, PullDiff
from app.workflow import workspace
from app.workflow.context import RunContext, refuse
from app.workflow.mcp_tools import mcp_tools, servers_for_run, tools_note
from app.workflow.pr_checkout import checkout_head, is_fork, read_pull_config
from app.workflow.pr_test_bench import TestBench
from app.workflow.sandbox_policy import within_caps
from app.workflow.toolloop import LoopLimits, Verifier, run_tool_loop
from app.workflow.tools import ExtraTools, Toolbox

MAX_DIFF_CHARS = 60_000
MAX_DESCRIPTION_CHARS = 4_000
# The tool loop's own words when it sends a result back speak of red -> green proof;
# on a pull request the named tests only have to pass.
PASSING_IS_ENOUGH = (
    "(Here no test has to fail first: the tests you name must pass on the "
    "code of the {change} with your edits.)"
)


# --- pure helpers ----------------------------------------------------------------------


def clip(text: str, limit: int) -> str:
    """`text`, cut at a line end before `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    kept = text[: cut if cut > 0 else limit]
    return f"{kept}\n… ({len(text) - len(kept)} more characters not shown)"


def changed_files_markdown(files: Sequence[ChangedFileName]) -> str:
    lines = [f"- `{f.path}` ({f.status})" for f in files]
    return "\n".join(lines) or "(no files)"


# --- the change ------------------------------------------------------------------------


async def read_change(ctx: RunContext) -> PullDiff:
    """The `diff` step: what the pull request changes, as the model will see it."""
    pull = await ctx.forge.get_pull_request(ctx.target)
    files = await ctx.forge.list_changed_files(ctx.target)
    diff = await ctx.forge.get_diff(ctx.target)
    return PullDiff(
        title=pull.title,
        body=clip(pull.body, MAX_DESCRIPTION_CHARS),
        url=pull.url,
        files=[ChangedFileName(path=f.path, status=f.status) for f in files],
        diff=clip(diff, MAX_DIFF_CHARS),
    )


@dataclass
class PullWork:
    """A pull request being worked on, after the `clone`, `config` and `diff` steps."""

    ctx: RunContext
    head: Head  # the `prepare` step: head_sha, ref, base, head_repo
    config: RepoConfig
    author_can_write: bool  # the pull request's author has write access here
    change: PullDiff  # the `diff` step

    @property
    def from_fork(self) -> bool:
        return is_fork(self.ctx.run.repo, self.head)

    async def clean_checkout(self) -> Path:
        """The checkout at the head commit with no change in its working tree."""
        root = await checkout_head(self.ctx, self.head)
        await workspace.reset_to(root, self.head.head_sha)
        return root

    def prompt_values(self) -> dict[str, str]:
        """The pull request for a prompt template: `$number`, `$pull`, `$files`, `$diff`."""
        words = wording_for(self.ctx.run.forge)
        number = self.ctx.run.target_number
        named = f"{words.change_request} {words.change_ref(number)}"
        described = f"{self.change.title}\n\n{self.change.body}".strip()
        return {
            "repo": self.ctx.run.repo,
            "number": str(number),
            "pull": fence_untrusted(named, described),
            "files": changed_files_markdown(self.change.files),
            "diff": fence_untrusted(f"diff of {named}", self.change.diff),
        }


async def start_pull_work(ctx: RunContext, head: Head) -> PullWork:
    """The steps `clone`, `config` and `diff`."""

    words = wording_for(ctx.run.forge)

    async def clone() -> Cloned:
        pull = await ctx.forge.get_pull_request(ctx.target)
        if pull.state != "open":
            await refuse(
                ctx,
                "not-open",
                f"This {words.change_request} is {pull.state}: AgentOps works "
                f"on open {words.change_request}s only. Nothing was changed.",
            )
        root = await checkout_head(ctx, head)
        files = sum(1 for _file in repo_files.walk_files(root))
        return Cloned(files=files, head_sha=head.head_sha, from_fork=is_fork(ctx.run.repo, head))

    await ctx.step(CLONE, clone)
    await ctx.progress()
    config = await ctx.step(CONFIG, lambda: read_pull_config(ctx, head))
    change = await ctx.step(DIFF, lambda: read_change(ctx))
    await ctx.progress()
    return PullWork(
        ctx,
        head,
        await within_caps(ctx, RepoConfig.model_validate(config.config)),
        config.author_can_write,
        change,
    )


# --- the tool loop ---------------------------------------------------------------------


async def edit_in_loop(
    work: PullWork,
    root: Path,
    bench: TestBench,
    system: str,
    task: str,
    verify: Verifier,
    edited: list[str] | None = None,
    with_mcp: bool = False,
) -> Changed:
    """Let the coder work on `root` until `verify` accepts its `finish`; the change as a
    diff of the files the edit tool wrote (listed in `edited` as it goes); `with_mcp`:
    with the tools of the operator's MCP servers.

    What did not finish is refused with a reply saying why.
    """
    ctx, config = work.ctx, work.config
    servers = servers_for_run(ctx, config) if with_mcp else {}
    async with mcp_tools(ctx, servers) as extra:
        return await _edit_in_loop(work, root, bench, system, task, verify, edited, extra)


async def _edit_in_loop(
    work: PullWork,
    root: Path,
    bench: TestBench,
    system: str,
    task: str,
    verify: Verifier,
    edited: list[str] | None,
    extra: ExtraTools | None,
) -> Changed:
    ctx, config = work.ctx, work.config
    toolbox = Toolbox(
        root,
        EditPolicy(
            forbidden=tuple(config.forbidden_paths), allow_workflows=config.allow_workflow_edits
        ),
        bench.run,
        edited=[] if edited is None else edited,
        max_test_runs=config.limits.max_test_runs,
        extra=extra,
    )
    request = LLMRequest(
        role="coder",
        system=system + tools_note(toolbox.specs),
        messages=(Message.user(task),),
        tools=toolbox.specs,
        max_tokens=8192,
    )
    limits = LoopLimits(max_turns=config.limits.max_turns, max_tokens=config.limits.max_tokens)

    change = wording_for(work.ctx.run.forge).change_request
    passing_is_enough = PASSING_IS_ENOUGH.format(change=change)

    async def verify_passing(test_ids: list[str]) -> tuple[bool, str]:
        passed, report = await verify(test_ids)
        return passed, report if passed else f"{passing_is_enough}\n\n{report}"

    outcome = await run_tool_loop(
        await ctx.llm(config), request, toolbox, limits, verify_passing, observer=ctx.events
    )
    if not outcome.finished:
        await refuse(
            ctx,
            "unfinished",
            f"AgentOps could not finish: {outcome.reason}. "
            "Nothing was pushed." + (f"\n\n{outcome.verification}" if outcome.verification else ""),
        )
    diff = await workspace.working_diff(root, work.head.head_sha, toolbox.edited)
    return outcome.change(diff, bench.command.display())
