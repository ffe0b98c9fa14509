"""`/agentops test` on a pull request: tests for the changed code, shown to pass on the
head, pushed as one commit to the pull request's branch.

When the branch lives in a fork the bot cannot push there. The commit then goes to
`agentops/tests-for-<number>` in the base repository and a draft pull request stacks it
on the fork's: GitHub cannot base a pull request on a branch of another repository, so
the stacked one targets the same base branch as the original and says in its body that
it stacks on it (until the original is merged it shows the original's commits too).
That branch belongs to the bot: a later `/agentops test` replaces it (force push).
"""

from __future__ import annotations

from typing import Any

from app.workflow.context import RunContext
from app.workflow.prompts import render_prompt
from app.workflow.pull_request import (
    PullWork,
    changed_paths,
    commit_change,
    edit_in_loop,
    new_tests_problem,
    open_test_bench,
    push_commit,
    start_pull_work,
)


def stacked_branch(number: int) -> str:
    return f"agentops/tests-for-{number}"


def message_for_tests(number: int, summary: str, tests: list[str]) -> str:
    listed = "\n".join(f"- {t}" for t in tests)
    body = summary.strip() or "Tests for the changed code."
    return (f"test: cover the changes of #{number}\n\n{body}\n\n"
            f"Tests (passing on the head):\n{listed}")


def stacked_pull_body(number: int, head: dict[str, Any], written: dict[str, Any],
                      run_id: int) -> str:
    return "\n\n".join([
        f"Tests for #{number}, stacked on it.",
        f"#{number} comes from a fork (`{head['head_repo']}`, branch `{head['ref']}`) where "
        f"AgentOps cannot push, so its tests are here: this branch starts from #{number}'s "
        f"head commit `{head['head_sha'][:12]}`. A pull request cannot target a branch of "
        f"another repository, so this one targets `{head['base']}` and shows #{number}'s "
        f"commits too until #{number} is merged. Merge #{number} first.",
        f"**Summary**\n\n{written['summary']}",
        f"**Test evidence** (`{written['test_command']}`, on #{number}'s head)\n\n"
        f"{written['verification']}",
        f"Made by AgentOps run {run_id} in {written['turns']} model turns, "
        f"cost ${written['cost_usd']:.4f}.",
    ])


async def run_pull_tests(ctx: RunContext, head: dict[str, Any]) -> None:
    """After `prepare` and `check`: write passing tests for the change and deliver them."""
    run = ctx.run
    work = await start_pull_work(ctx, head)
    written = await ctx.step("write-tests", lambda: _write_tests(work))
    await ctx.progress()
    message = message_for_tests(run.target_number, written["summary"], written["tests"])

    async def deliver() -> dict[str, Any]:
        root, sha = await commit_change(work, written["diff"], message)
        if not work.from_fork:
            await push_commit(ctx, root, sha, head["ref"])
            return {"commit": sha, "branch": head["ref"]}
        branch = stacked_branch(run.target_number)
        await push_commit(ctx, root, sha, branch, force=True)
        pull = await ctx.forge.open_pull_request(
            run.repo, head=branch, base=head["base"],
            title=f"Tests for #{run.target_number}: {work.change['title']}"[:120],
            body=stacked_pull_body(run.target_number, head, written, run.id), draft=True)
        return {"commit": sha, "branch": branch, "pr_number": pull.target.number,
                "pr_url": pull.url or f"#{pull.target.number}"}

    delivered = await ctx.step("deliver", deliver)
    tests = ", ".join(f"`{t}`" for t in written["tests"])
    if "pr_url" in delivered:
        await ctx.reply("delivered", (
            f"This pull request comes from a fork, where AgentOps cannot push, so its tests "
            f"are in the stacked draft pull request {delivered['pr_url']} (commit "
            f"{delivered['commit']}): {tests}, passing on this head."))
        ctx.result.update({"pull_request": delivered["pr_url"]})
    else:
        await ctx.reply("delivered", (
            f"Pushed commit {delivered['commit']} to `{delivered['branch']}` with tests "
            f"{tests}, passing on the head: {written['summary']}"))
    ctx.result.update({"commit": delivered["commit"], "branch": delivered["branch"]})


async def _write_tests(work: PullWork) -> dict[str, Any]:
    ctx = work.ctx
    root = await work.clean_checkout()
    bench = await open_test_bench(ctx, root, work.config)

    async def verify(test_ids: list[str]) -> tuple[bool, str]:
        problem = new_tests_problem(test_ids, await changed_paths(root, work.head["head_sha"]))
        if problem is not None:
            return False, problem
        return await bench.check_passing(test_ids)

    values = work.prompt_values()
    system = render_prompt("test_system", repo=ctx.run.repo,
                           edit_format=render_prompt("edit_format"))
    return await edit_in_loop(work, root, bench, system, render_prompt("test_task", **values),
                              verify)
