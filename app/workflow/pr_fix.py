"""`/agentops fix <what>` on a pull request: the requested change as one new commit on
its branch, with the tests that cover it passing.

The request (the command's arguments) is the requester's text: it reaches the model
fenced as data, like everything else a person wrote. A pull request from a fork is
refused before any work: the bot cannot push to another repository's branch.
"""

from __future__ import annotations

import re

from app.forges.closing import disarm_closing_keywords
from app.forges.registry import wording_for
from app.llm.prompt_safety import fence_untrusted
from app.step_records import CHANGE, DELIVER, Changed, Delivered, Head
from app.workflow import workspace
from app.workflow.context import RunContext, refuse
from app.workflow.pr_checkout import is_fork
from app.workflow.pr_push import commit_change, push_commit
from app.workflow.pr_test_bench import open_test_bench
from app.workflow.pr_work import PullWork, edit_in_loop, start_pull_work
from app.workflow.prompts import render_prompt, runner_prompt_values
from app.workflow.proving import ChangeProof


def fix_commit_message(ref: str, instructions: str, summary: str) -> str:
    """Subject from the model's summary, body quoting the request (pure); `ref`: the
    change request as the forge links it (`#7`, `!7`)."""
    first = next((line.strip() for line in summary.splitlines() if line.strip()), "")
    subject = re.sub(r"\s+", " ", first)[:72].rstrip() or "Apply the requested change"
    rest = "\n".join(summary.strip().splitlines()[1:]).strip()
    request = re.sub(r"\s+", " ", instructions).strip()[:300]
    parts = [subject, *([rest] if rest else []), f"Requested in {ref}: {request}"]
    return disarm_closing_keywords("\n\n".join(parts))  # closes nothing when merged


async def run_pull_fix(ctx: RunContext, head: Head) -> None:
    """After `prepare` and `check`: make the requested change and push it to the branch."""
    run = ctx.run
    words = wording_for(run.forge)
    if is_fork(run.repo, head):
        await refuse(
            ctx,
            "fork",
            (
                f"This {words.change_request}'s branch lives in a fork "
                f"(`{head.head_repo or 'deleted'}`), "
                "where AgentOps cannot push, so it cannot add a commit to it. Nothing was "
                "changed. Make the change there, or push the branch to this repository."
            ),
        )
    if not run.args.strip():
        await refuse(ctx, "no-request", "Say what to change: `/agentops fix <what to change>`.")
    work = await start_pull_work(ctx, head)
    changed = await ctx.step(CHANGE, lambda: _change(work))
    await ctx.progress()
    message = fix_commit_message(words.change_ref(run.target_number), run.args, changed.summary)

    async def deliver() -> Delivered:
        root, sha = await commit_change(work, changed.diff, message)
        await push_commit(ctx, root, sha, head.ref)
        return Delivered(commit=sha, branch=head.ref)

    delivered = await ctx.step(DELIVER, deliver)
    tests = ", ".join(f"`{t}`" for t in changed.tests)
    await ctx.reply(
        "delivered",
        (
            f"Pushed commit {delivered.commit} to `{delivered.branch}`: "
            f"{changed.summary}\n\nTests passing with it: {tests}."
        ),
    )
    ctx.result.update({"commit": delivered.commit, "branch": delivered.branch})


async def _change(work: PullWork) -> Changed:
    ctx = work.ctx
    root = await work.clean_checkout()
    bench = await open_test_bench(ctx, root, work.config)
    instructions = fence_untrusted(f"request by @{ctx.run.requested_by}", ctx.run.args)
    system = render_prompt(
        "fix_system",
        repo=ctx.run.repo,
        edit_format=render_prompt("edit_format"),
        **runner_prompt_values(bench.command),
    )
    task = render_prompt("fix_task", instructions=instructions, **work.prompt_values())
    folder = workspace.run_folder(ctx.deps.settings.workdir, ctx.run.id)
    proving = ChangeProof(folder, root, work.head.head_sha, bench, work.config)
    return await edit_in_loop(
        work,
        root,
        bench,
        system,
        task,
        proving.passing_without_regressions,
        proving.edited,
        with_mcp=True,
    )
