"""`review` on a pull request: read its diff, ask the reviewer model once, post one review.

Steps, each checkpointed (`RunContext.step`), after `prepare` and `check`:
- `config`: `.agentops.yml` as `test` and `fix` read it (app/workflow/pr_checkout.py:
  from the head when its author may write, else from the base branch; a shallow clone),
  so that the repository's models and budgets apply and `commands:` may turn review off;
- `diff`: the pull request's diff, changed files, title and description;
- `review`: one structured answer (`ReviewAnswer`) from the `reviewer` role, over the
  diff with its new-side lines numbered (`app.edits.numbered_diff`) and the description,
  both fenced as untrusted data;
- `post`: each comment whose line is in one of the diff's hunks goes on that line (at
  most `MAX_INLINE_COMMENTS`, the most severe first); the others are listed in the
  summary as `path:line: text`. One review on the forge (GitHub: a COMMENT review;
  GitLab: diff discussions and a summary note).
Then one reply on the pull request links the review. Nothing in the repository changes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.agent_mcp.toolset import McpToolset
from app.edits import commentable_lines, numbered_diff
from app.edits.review_positions import DiffUnreadable
from app.forges.base import Forge, ReviewComment, Target, folded_review_body
from app.forges.registry import wording_for
from app.llm.prompt_safety import fence_untrusted
from app.llm.types import LLMRequest, Message
from app.repo_config import RepoConfig
from app.step_records import (
    CONFIG,
    DIFF,
    POST,
    REVIEW,
    ChangedFileName,
    Head,
    PullDiff,
    Reviewed,
    ReviewPosted,
)
from app.workflow.context import RunContext, RunRefused
from app.workflow.mcp_tools import Lookups, look_up_first, mcp_tools, servers_for_run
from app.workflow.pr_checkout import read_pull_config
from app.workflow.prompts import render_prompt

MAX_INLINE_COMMENTS = 25
MAX_DIFF_STORED_CHARS = 1_000_000  # what the `diff` step keeps for the later steps
MAX_DIFF_PROMPT_CHARS = 120_000  # what the model reads of the numbered diff
MAX_DESCRIPTION_CHARS = 20_000
MAX_COMMENT_CHARS = 4_000
SEVERITY_ORDER = {"blocker": 0, "major": 1, "minor": 2, "nit": 3}
# Words models use instead of ours; anything else unknown is read as `minor`.
SEVERITY_WORDS = {
    "critical": "blocker",
    "high": "major",
    "medium": "minor",
    "low": "nit",
    "info": "nit",
    "suggestion": "nit",
    "error": "major",
    "warning": "minor",
}

Severity = Literal["blocker", "major", "minor", "nit"]


# Schemas that say "no other keys" (strict structured-output modes want it); extra keys
# in an answer are still ignored rather than refused.
_CLOSED = ConfigDict(json_schema_extra={"additionalProperties": False})


class ReviewFinding(BaseModel):
    model_config = _CLOSED

    path: str = Field(description="the file's path as the diff names it")
    line: int = Field(description="the line number on the new side, as numbered in the diff")
    body: str = Field(description="Markdown: the problem and a concrete fix")
    severity: Severity = "minor"

    @field_validator("severity", mode="before")
    @classmethod
    def _known_severity(cls, value: object) -> str:
        word = str(value or "").strip().lower()
        return word if word in SEVERITY_ORDER else SEVERITY_WORDS.get(word, "minor")


class ReviewAnswer(BaseModel):
    """What the reviewer model answers (structured output)."""

    model_config = _CLOSED

    summary: str
    comments: list[ReviewFinding] = Field(default_factory=list)


async def run_review(ctx: RunContext, head: Head) -> None:
    """After `prepare` and `check`: the review of the pull request at `head.head_sha`."""
    run = ctx.run
    config = await ctx.step(CONFIG, lambda: read_pull_config(ctx, head))
    repo_config = RepoConfig.model_validate(config.config)
    servers = servers_for_run(ctx, repo_config)  # a wrong name costs no model call
    diff = await ctx.step(DIFF, lambda: _read_diff(ctx))
    await ctx.progress()

    async def review() -> Reviewed:
        async with mcp_tools(ctx, servers) as tools:
            return await _ask_reviewer(ctx, diff, repo_config, tools)

    answer = await ctx.step(REVIEW, review)
    await ctx.progress()

    async def post() -> ReviewPosted:
        return await post_review(ctx.forge, ctx.target, head, diff, answer, run.id)

    posted = await ctx.step(POST, post)
    await ctx.reply("reviewed", reply_text(posted, wording_for(run.forge).change_request))
    ctx.result.update({"review": posted.url})


async def post_review(
    forge: Forge, target: Target, head: Head, diff: PullDiff, answer: Reviewed, run_id: int
) -> ReviewPosted:
    """One review of the pull request at its head: the comments that sit on lines of the
    diff's hunks on their lines, the others listed in its summary."""
    found = ReviewAnswer.model_validate(answer.answer)
    placed, folded = place_comments(found.comments, _commentable(diff.diff))
    summary = folded_review_body(review_summary(found.summary, len(placed), run_id), folded)
    url = await forge.create_review(target, head.head_sha, summary, placed)
    return ReviewPosted(url=url, inline=len(placed), folded=len(folded))


async def _read_diff(ctx: RunContext) -> PullDiff:
    pull = await ctx.forge.get_pull_request(ctx.target)
    files = await ctx.forge.list_changed_files(ctx.target)
    diff = await ctx.forge.get_diff(ctx.target)
    if not diff.strip() and not files:
        raise RunRefused("this pull request changes nothing, so there is nothing to review")
    return PullDiff(
        diff=diff[:MAX_DIFF_STORED_CHARS],
        cut=len(diff) > MAX_DIFF_STORED_CHARS,
        files=[ChangedFileName(path=f.path, status=f.status) for f in files],
        title=pull.title,
        body=pull.body[:MAX_DESCRIPTION_CHARS],
    )


async def _ask_reviewer(
    ctx: RunContext, diff: PullDiff, config: RepoConfig, tools: McpToolset | None
) -> Reviewed:
    """The reviewer's answer; with `tools` (the operator's MCP servers) it may first look
    things up (`look_up_first`)."""
    number = ctx.run.target_number
    words = wording_for(ctx.run.forge)
    named = f"{words.change_request} {words.change_ref(number)}"
    request = LLMRequest(
        role="reviewer",
        system=render_prompt(
            "review_system", repo=ctx.run.repo, max_comments=str(MAX_INLINE_COMMENTS)
        ),
        messages=(
            Message.user(
                render_prompt(
                    "review_task",
                    number=str(number),
                    pull=fence_untrusted(
                        f"{named} title and description",
                        f"{diff.title}\n\n{diff.body}",
                    ),
                    files=files_list(diff.files),
                    diff=fence_untrusted(f"{named} diff", prompt_diff(diff.diff, diff.cut)),
                )
            ),
        ),
        max_tokens=4096,
    )
    router = await ctx.llm(config)
    found = Lookups()
    if tools is not None:
        found = await look_up_first(router, request, tools, ctx.events)
    if found.text:
        request = request.with_messages(Message.user(found.text + "\n\nNow give your review."))
    structured = await router.complete_structured(request, ReviewAnswer)
    return Reviewed(
        answer=structured.value.model_dump(),
        cost_usd=structured.cost_usd + found.cost_usd,
        model=structured.completion.model_id,
        comments=len(structured.value.comments),
    )


def prompt_diff(diff: str, cut: bool = False) -> str:
    """The diff as the model reads it: numbered new-side lines, cut to a size it can read."""
    try:
        text = numbered_diff(diff) or diff  # nothing unidiff recognised: the raw text
    except DiffUnreadable:
        text = diff
    if len(text) > MAX_DIFF_PROMPT_CHARS or cut:
        text = text[:MAX_DIFF_PROMPT_CHARS] + (
            "\n… (the diff is longer; the rest was left out: review what is shown)"
        )
    return text


def files_list(files: list[ChangedFileName]) -> str:
    return "\n".join(f"- `{f.path}` ({f.status})" for f in files) or "(none listed)"


def _commentable(diff: str) -> dict[str, set[int]]:
    try:
        return commentable_lines(diff)
    except DiffUnreadable:
        return {}  # every comment goes into the summary


def place_comments(
    findings: list[ReviewFinding], lines: dict[str, set[int]]
) -> tuple[list[ReviewComment], list[ReviewComment]]:
    """(comments on lines of the diff's hunks, comments to list in the summary), each in
    the model's order.

    When more than `MAX_INLINE_COMMENTS` could be placed, the most severe are; the rest
    are listed. A path written `./x`, `a/x` or `b/x` is read as `x` when only that is in
    the diff. Comments with an empty body are dropped."""
    comments = [
        (f, ReviewComment(diff_path(f.path, lines), f.line, comment_body(f)))
        for f in findings
        if f.body.strip()
    ]
    placeable = [n for n, (_, c) in enumerate(comments) if c.line in lines.get(c.path, ())]
    ranked = sorted(placeable, key=lambda n: SEVERITY_ORDER.get(comments[n][0].severity, 2))
    chosen = set(ranked[:MAX_INLINE_COMMENTS])
    placed = [c for n, (_, c) in enumerate(comments) if n in chosen]
    folded = [c for n, (_, c) in enumerate(comments) if n not in chosen]
    return placed, folded


def diff_path(path: str, lines: dict[str, set[int]]) -> str:
    cleaned = path.strip().strip("`")
    if cleaned in lines:
        return cleaned
    for prefix in ("./", "a/", "b/", "/"):
        if cleaned.startswith(prefix) and cleaned[len(prefix) :] in lines:
            return cleaned[len(prefix) :]
    return cleaned


def comment_body(finding: ReviewFinding) -> str:
    body = finding.body.strip()
    if len(body) > MAX_COMMENT_CHARS:
        body = body[:MAX_COMMENT_CHARS] + " …"
    return f"**{finding.severity}**: {body}"


def review_summary(summary: str, inline: int, run_id: int) -> str:
    where = f"{inline} comment{'s' if inline != 1 else ''} on the changed lines"
    return (
        f"### AgentOps review\n\n{summary.strip() or 'No summary was given.'}\n\n"
        f"_{where} (run {run_id})._"
    )


def reply_text(posted: ReviewPosted, noun: str = "pull request") -> str:
    inline, folded = posted.inline, posted.folded
    counts = f"{inline} comment{'s' if inline != 1 else ''} on the changed lines"
    if folded:
        counts += f", {folded} more in the summary"
    return f"Reviewed this {noun}: {posted.url} ({counts})."
