"""`/agentops test` on a pull request: tests for the changed code, shown to pass on the
head, pushed as one commit to the pull request's branch.

When the branch lives in a fork the bot cannot push there. The tests then go to the bot's
branch `agentops/tests-for-<number>` in the base repository, opened as a draft pull
request that stacks on the original. GitHub cannot base a pull request on a branch of
another repository, so the stacked one targets the original's base branch and says in
its body that it stacks on #N. What the branch starts from depends on who wrote #N:

- an author with write access here: #N's head commit, so the stacked pull request shows
  #N's commits plus the tests until #N is merged;
- anyone else: the base branch, with the tests only. Copying a stranger's commits into
  this repository would let them run code in its CI with its secrets (a push here is
  trusted; a fork's pull request is not). The tests need #N's code, so they fail there
  until #N is merged. Tests that only apply to #N's own files are not delivered then:
  the reply carries them as a patch instead.

That branch belongs to the bot: a later `/agentops test` replaces it (force push), and
the pull request already open for it is kept.
"""

from __future__ import annotations

from collections.abc import Sequence

from app import git
from app.forges.closing import disarm_closing_keywords
from app.forges.registry import wording_for
from app.forges.spec import ForgeWording
from app.sandbox import files_of_test_ids, is_test_path
from app.step_records import DELIVER, WRITE_TESTS, Changed, Delivered, Head
from app.workflow import workspace
from app.workflow.context import RunContext, refuse
from app.workflow.pr_checkout import fetch_branch_tip
from app.workflow.pr_push import commit_change, push_commit
from app.workflow.pr_test_bench import open_test_bench
from app.workflow.pr_work import PullWork, clip, edit_in_loop, start_pull_work
from app.workflow.prompts import render_prompt, runner_prompt_values

MAX_PATCH_IN_REPLY = 20_000


def stacked_branch(number: int) -> str:
    return f"agentops/tests-for-{number}"


def message_for_tests(ref: str, summary: str, tests: list[str]) -> str:
    """The commit message; `ref`: the change request as the forge links it (`#7`, `!7`)."""
    listed = "\n".join(f"- {t}" for t in tests)
    body = summary.strip() or "Tests for the changed code."
    message = (
        f"test: cover the changes of {ref}\n\n{body}\n\nTests (passing on the head):\n{listed}"
    )
    return disarm_closing_keywords(message)  # the model's `Fixes #3` must not close #3


def stacked_pull_body(
    number: int, head: Head, written: Changed, run_id: int, on_head: bool, words: ForgeWording
) -> str:
    """The stacked pull request's description (pure); `on_head`: it starts from #N's head."""
    fork = f"`{head.head_repo or 'a deleted fork'}`, branch `{head.ref}`"
    ref, change = words.change_ref(number), words.change_request
    if on_head:
        where = (
            f"{ref} comes from a fork ({fork}) where AgentOps cannot push, so its "
            f"tests are here: this branch starts from {ref}'s head commit "
            f"`{head.head_sha[:12]}`. A {change} cannot target a branch of "
            f"another repository, so this one targets `{head.base}` and shows "
            f"{ref}'s commits too until {ref} is merged. Merge {ref} first."
        )
    else:
        where = (
            f"{ref} comes from a fork ({fork}) where AgentOps cannot push, and its "
            "author cannot write to this repository, so AgentOps does not copy its "
            "commits here (they would run in this repository's CI with its secrets). "
            f"This {change} holds only the tests, on `{head.base}`: they test "
            f"{ref}'s code, so they fail until {ref} is merged. Merge {ref} "
            "first, then update this branch."
        )
    return disarm_closing_keywords(  # nothing here is meant to close an issue
        "\n\n".join(
            [
                f"Tests for {ref}, stacked on it.",
                where,
                f"**Summary**\n\n{written.summary}",
                f"**Test evidence** (`{written.test_command}`, on {ref}'s head "
                f"`{head.head_sha[:12]}`)\n\n{written.verification}",
                f"Made by AgentOps run {run_id} in {written.turns} model turns, "
                f"cost ${written.cost_usd:.4f}.",
            ]
        )
    )


def new_tests_problem(test_ids: Sequence[str], changed: Sequence[str]) -> str | None:
    """Why `finish` of `/agentops test` cannot be accepted yet, or None (pure).

    `changed`: the paths the model changed. Only test files may change, and every named
    test that names its file (`path::name`) must be in one of them.
    """
    if not test_ids:
        return "No test was named: name the tests you added in `finish`."
    not_tests = [path for path in changed if not is_test_path(path)]
    if not_tests:
        return (
            "`/agentops test` only adds tests, and these changed files are not tests: "
            + ", ".join(f"`{p}`" for p in not_tests)
            + ". Put their original content back and finish again."
        )
    elsewhere = [f for f in files_of_test_ids(test_ids) if f not in changed]
    if elsewhere:
        return (
            "Name only the tests you wrote: these files were not added or changed: "
            + ", ".join(f"`{p}`" for p in elsewhere)
            + "."
        )
    return None


async def run_pull_tests(ctx: RunContext, head: Head) -> None:
    """After `prepare` and `check`: write passing tests for the change and deliver them."""
    work = await start_pull_work(ctx, head)
    written = await ctx.step(WRITE_TESTS, lambda: _write_tests(work))
    await ctx.progress()
    delivered = await ctx.step(DELIVER, lambda: _deliver(work, written))
    words = wording_for(ctx.run.forge)
    await ctx.reply("delivered", delivered_tests_reply(head, written, delivered, words))
    if delivered.pr_url is not None:
        ctx.result["pull_request"] = delivered.pr_url
    ctx.result.update({"commit": delivered.commit, "branch": delivered.branch})


def delivered_tests_reply(
    head: Head, written: Changed, delivered: Delivered, words: ForgeWording
) -> str:
    """Where the tests went: the pull request's branch, or a stacked pull request (pure)."""
    tests = ", ".join(f"`{t}`" for t in written.tests)
    change = words.change_request
    if delivered.pr_url is None:
        return (
            f"Pushed commit {delivered.commit} to `{delivered.branch}` with tests "
            f"{tests}, passing on the head: {written.summary}"
        )
    if delivered.on_head:
        return (
            f"This {change} comes from a fork, where AgentOps cannot push, so its tests "
            f"are in the stacked draft {change} {delivered.pr_url} (commit "
            f"{delivered.commit}): {tests}, passing on this head."
        )
    return (
        f"This {change} comes from a fork, where AgentOps cannot push, so its tests "
        f"are in the draft {change} {delivered.pr_url} (commit "
        f"{delivered.commit}): {tests}, passing on this head. That one holds only "
        f"the tests, on `{head.base}`, so they fail there until this is merged."
    )


async def _write_tests(work: PullWork) -> Changed:
    ctx = work.ctx
    root = await work.clean_checkout()
    bench = await open_test_bench(ctx, root, work.config)
    edited: list[str] = []  # what the edit tool wrote, as the tool loop goes

    async def verify(test_ids: list[str]) -> tuple[bool, str]:
        changed = await workspace.changed_paths(root, work.head.head_sha, edited)
        problem = new_tests_problem(test_ids, changed)
        if problem is not None:
            return False, problem
        return await bench.check_passing(test_ids)

    values = work.prompt_values()
    system = render_prompt(
        "test_system",
        repo=ctx.run.repo,
        edit_format=render_prompt("edit_format"),
        **runner_prompt_values(bench.command),
    )
    return await edit_in_loop(
        work, root, bench, system, render_prompt("test_task", **values), verify, edited
    )


async def _deliver(work: PullWork, written: Changed) -> Delivered:
    """The `deliver` step: a commit pushed to the branch, or to a stacked pull request."""
    ctx, head, number = work.ctx, work.head, work.ctx.run.target_number
    words = wording_for(ctx.run.forge)
    message = message_for_tests(words.change_ref(number), written.summary, written.tests)
    if not work.from_fork:
        root, sha = await commit_change(work, written.diff, message)
        await push_commit(ctx, root, sha, head.ref)
        return Delivered(commit=sha, branch=head.ref)
    on_head = work.author_can_write
    if on_head:
        root, sha = await commit_change(work, written.diff, message)
    else:
        base = await fetch_branch_tip(ctx, await work.clean_checkout(), head.base)
        try:
            root, sha = await commit_change(work, written.diff, message, parent=base)
        except git.GitError:
            await refuse(
                ctx,
                "tests-do-not-apply",
                (
                    f"The tests pass on this {words.change_request}'s head, but they change "
                    f"files of this {words.change_request}, so they do not apply to "
                    f"`{head.base}`; AgentOps does not copy the commits of a fork whose "
                    "author cannot write here. Here they are as a patch to apply to this "
                    "branch:\n\n"
                    f"````diff\n{clip(written.diff, MAX_PATCH_IN_REPLY)}\n````"
                ),
            )
    branch = stacked_branch(number)
    await push_commit(ctx, root, sha, branch, force=True)
    pull = await ctx.forge.open_pull_request(
        ctx.run.repo,
        head=branch,
        base=head.base,
        title=disarm_closing_keywords(
            f"Tests for {words.change_ref(number)}: {work.change.title}"[:120]
        ),
        body=stacked_pull_body(number, head, written, ctx.run.id, on_head, words)
        + (f"\n\n[How it was made, step by step]({ctx.page_url})" if ctx.page_url else ""),
        draft=True,
    )
    return Delivered(
        commit=sha,
        branch=branch,
        on_head=on_head,
        pr_number=pull.target.number,
        pr_url=pull.url or words.change_ref(pull.target.number),
    )
