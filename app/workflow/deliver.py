"""Deliver a change: a reproducible commit on `agentops/<number>-<slug>`, a push, and a
draft pull request (GitLab: merge request) that closes the issue.

Re-running it after a crash makes the same commit (same parent, tree, message and date),
so the push adds nothing and the forge returns the pull request already open.
"""

from __future__ import annotations

import re
from pathlib import Path

from app import git
from app.edits import diff_stats
from app.forges.base import Issue
from app.forges.closing import disarm_closing_keywords
from app.forges.registry import spec_for, wording_for
from app.llm.types import LLMRequest, Message
from app.step_records import COMMIT_MESSAGE, Changed, CommitMessage, Delivered, Head
from app.workflow import workspace
from app.workflow.context import RunContext
from app.workflow.prompts import render_prompt


def branch_name(number: int, title: str) -> str:
    words = re.findall(r"[a-z0-9]+", title.lower())
    slug = "-".join(words)[:40].rstrip("-") or "change"
    return f"agentops/{number}-{slug}"


def bot_identity(ctx: RunContext) -> git.Person:
    return git.Person(*spec_for(ctx.run.forge).bot_identity(ctx.deps.settings))


def requester_identity(ctx: RunContext) -> git.Person:
    login = ctx.run.requested_by
    return git.Person(login, wording_for(ctx.run.forge).noreply_email(login))


async def commit_for_run(ctx: RunContext, root: Path, message: str, diff: str) -> str:
    """Commit the paths of `diff` (already applied to the checkout, and made of the edit
    tool's files only) as the bot, the requester as co-author, dated when the run was
    made: a resumed run that commits the same change makes the same commit (sha)."""
    return await git.commit(
        root,
        message,
        paths=await workspace.diff_paths(root, diff),
        author=bot_identity(ctx),
        co_authors=[requester_identity(ctx)],
        date=f"@{int(ctx.run.created_at.timestamp())} +0000",
    )


def fallback_message(number: int, title: str) -> str:
    # the issue's title is anyone's words: its `Fixes #3` must not close #3
    subject = disarm_closing_keywords(re.sub(r"\s+", " ", title).strip()[:60])
    subject = subject or "resolve the issue"
    return f"fix: {subject}\n\nResolves #{number}."


async def commit_message(ctx: RunContext, issue: Issue, diff: str) -> str:
    request = LLMRequest(
        role="cheap",
        system="You write commit messages.",
        messages=(
            Message.user(
                render_prompt(
                    "commit_message",
                    number=str(issue.target.number),
                    title=issue.title,
                    diff=diff[:12_000],
                )
            ),
        ),
        max_tokens=300,
    )
    completion = await (await ctx.llm()).complete(request)
    text = completion.text.strip().strip("`").strip()
    if not text or len(text.splitlines()[0]) > 100:
        return fallback_message(issue.target.number, issue.title)
    return disarm_closing_keywords(text)  # the model's `Fixes #3` must not close #3


def pull_request_body(
    issue: Issue, plan: str, implemented: Changed, run_id: int, page_url: str | None = None
) -> str:
    stats = diff_stats(implemented.diff)
    files = "\n".join(f"- `{s.path}` (+{s.added} −{s.removed})" for s in stats)
    unproven = implemented.unproven
    warning = (
        [
            "> [!WARNING]\n> **Unproven.** The new tests cannot pass in AgentOps' sandbox for "
            f"a reason outside the change: {unproven}. Run them where they can before merging."
        ]
        if unproven
        else []
    )
    closes = f"Closes #{issue.target.number}"  # the one closing line: the bot's own
    parts = [
        *warning,
        closes,
        f"**Summary**\n\n{implemented.summary}",
        f"**Plan**\n\n{plan}",
        f"**Files changed**\n\n{files}",
        f"**Test evidence** (`{implemented.test_command}`)\n\n"
        f"{implemented.verification or 'no verification recorded'}",
        f"Made by AgentOps run {run_id} in {implemented.turns} model turns, "
        f"cost ${implemented.cost_usd:.4f} ({', '.join(implemented.models) or 'no model'})."
        + (f" [How it was made, step by step]({page_url})" if page_url else ""),
    ]
    return "\n\n".join(part if part is closes else disarm_closing_keywords(part) for part in parts)


async def deliver(
    ctx: RunContext,
    root: Path,
    head: Head,
    issue: Issue,
    plan: str,
    implemented: Changed,
) -> Delivered:
    run = ctx.run
    message = await ctx.step(COMMIT_MESSAGE, lambda: _message_detail(ctx, issue, implemented.diff))
    branch = branch_name(run.target_number, issue.title)
    await git.run_git(["checkout", "--quiet", "-B", branch], cwd=root)
    sha = await commit_for_run(ctx, root, message.message, implemented.diff)
    remote = await ctx.forge.git_remote(run.repo)
    await git.push(root, remote, branch)
    pull = await ctx.forge.open_pull_request(
        run.repo,
        head=branch,
        base=head.base,
        title=("Unproven: " if implemented.unproven else "") + message.message.splitlines()[0],
        body=pull_request_body(issue, plan, implemented, run.id, ctx.page_url),
        draft=True,
    )
    return Delivered(
        branch=branch,
        commit=sha,
        pr_number=pull.target.number,
        pr_url=pull.url or wording_for(run.forge).change_ref(pull.target.number),
    )


async def _message_detail(ctx: RunContext, issue: Issue, diff: str) -> CommitMessage:
    return CommitMessage(message=await commit_message(ctx, issue, diff))
