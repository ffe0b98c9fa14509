"""Where the workflow's answers go, and what is said there, checked against a recording
forge: the check run on the head commit (GitLab: a status and a note on the issue or
merge request), replies posted once on the run's own target, a failure or refusal said
where it was asked, a review's comments on their lines or in its summary."""

from __future__ import annotations

from app.forges.base import CheckUpdate, Comment, ReviewComment, Target
from app.forges.markers import marker
from app.step_records import Head, PullDiff, Reviewed
from app.workflow.checks import check_ref_to_json
from app.workflow.context import post_once
from app.workflow.failures import RunRefused, public_failure
from app.workflow.review import post_review
from app.workflow.runner import tell_failure
from app.workflow.work import close_check_with, open_check_once
from tests.unit.recording_forge import RecordingForge
from tests.unit.workflow.made_runs import failed, made_run, snapshot

ISSUE = Target("acme/calc", "issue", 3)
PULL = Target("acme/calc", "pull_request", 8)
HEAD = Head(head_sha="b" * 40, ref="main", base="main", head_repo="acme/calc")
UPDATE = CheckUpdate(status="in_progress", title="Implementing", summary="s", external_id="7")


async def test_a_run_opens_its_check_on_the_head_commit_with_its_note_on_the_issue() -> None:
    forge = RecordingForge()
    ref = await open_check_once(forge, made_run(), HEAD, ISSUE, UPDATE, again=False)
    assert [c.method for c in forge.calls] == ["start_check"]
    (started,) = forge.called("start_check")
    assert started == {
        "repo": "acme/calc",
        "head_sha": HEAD.head_sha,
        "update": UPDATE,
        "target": ISSUE,
    }
    assert ref.head_sha == HEAD.head_sha


async def test_a_resumed_run_updates_the_check_an_earlier_try_opened() -> None:
    forge = RecordingForge()
    first = await open_check_once(forge, made_run(), HEAD, ISSUE, UPDATE, again=False)
    forge.calls.clear()
    again = await open_check_once(forge, made_run(), HEAD, ISSUE, UPDATE, again=True)
    assert [c.method for c in forge.calls] == ["find_check", "update_check"]
    assert again == first
    # an earlier try that died before it opened one: opened now
    forge = RecordingForge()
    await open_check_once(forge, made_run(), HEAD, ISSUE, UPDATE, again=True)
    assert [c.method for c in forge.calls] == ["find_check", "start_check"]


async def test_a_run_closes_its_own_check_and_nothing_when_it_has_none() -> None:
    forge = RecordingForge()
    await close_check_with(forge, snapshot(made_run(), []), "failure", "no test command")
    assert forge.calls == []
    ref = await open_check_once(forge, made_run(), HEAD, ISSUE, UPDATE, again=False)
    run = made_run(check_ref=check_ref_to_json(ref))
    steps = [failed("config", "The repository's .agentops.yml is broken.")]
    await close_check_with(forge, snapshot(run, steps), "failure", "Fix .agentops.yml.")
    (closed,) = forge.called("update_check")
    assert closed["ref"] == ref and closed["ref"].target == ISSUE
    update = closed["update"]
    assert (update.status, update.conclusion, update.title) == ("completed", "failure", "Failed")
    assert update.summary.endswith("Fix .agentops.yml.")
    assert "config (2.0 s): The repository's .agentops.yml is broken." in update.text
    assert [a.identifier for a in update.actions] == ["retry"]


async def test_a_failure_is_said_where_the_run_was_asked_without_what_may_follow() -> None:
    forge = RecordingForge()
    error = "No test command: set `test:` in .agentops.yml.\n\n@someone wrote this output"
    await tell_failure(forge, ISSUE, made_run(), "stopped", error)
    (said,) = forge.called("create_comment")
    assert said["target"] == ISSUE and said["key"] == "run=7 key=failed"
    assert said["body"] == (
        "AgentOps run 7 (`/agentops implement`) stopped: No test command: set `test:` in "
        ".agentops.yml. The run's checklist has the details."
    )
    forge = RecordingForge()
    run = made_run(target_kind="pull_request", target_number=8, command="review")
    await tell_failure(forge, PULL, run, "failed", "The model provider is unavailable.")
    (said,) = forge.called("create_comment")
    assert said["target"] == PULL
    assert said["body"].endswith("failed: The model provider is unavailable.")


async def test_a_reply_is_posted_once_and_kept_or_corrected_when_tried_again() -> None:
    forge = RecordingForge()
    key = "run=7 key=reply:plan"
    first = await post_once(forge, ISSUE, key, "**Plan** one", again=False)
    assert forge.comments[ISSUE] == [first] and marker(key) in first.body
    same = await post_once(forge, ISSUE, key, "**Plan** one", again=True)
    assert same == first and not forge.called("update_comment")
    assert len(forge.called("create_comment")) == 1
    changed = await post_once(forge, ISSUE, key, "**Plan** two", again=True)
    assert changed.id == first.id and forge.called("update_comment")[0]["body"] == "**Plan** two"
    assert forge.comments[ISSUE] == [changed]


async def test_a_reply_tried_again_after_someone_else_commented_is_not_confused() -> None:
    forge = RecordingForge(comments={ISSUE: [Comment(1, "/agentops plan", "alice")]})
    await post_once(forge, ISSUE, "run=7 key=reply:plan", "the plan", again=True)
    assert [c.body.split("\n")[0] for c in forge.comments[ISSUE]] == ["/agentops plan", "the plan"]


REVIEWED_DIFF = PullDiff(
    title="t",
    body="",
    diff=(
        "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n"
        "@@ -1,2 +1,3 @@\n x = 1\n+y = 2\n z = 3\n"
    ),
)


async def test_review_comments_go_on_their_lines_and_the_others_into_the_summary() -> None:
    forge = RecordingForge()
    answer = Reviewed(
        answer={
            "summary": "Looks fine.",
            "comments": [
                {"path": "b/calc.py", "line": 2, "body": "Name it.", "severity": "nit"},
                {"path": "calc.py", "line": 40, "body": "Outside.", "severity": "high"},
                {"path": "calc.py", "line": 1, "body": "   "},  # empty: dropped
            ],
        }
    )
    posted = await post_review(forge, PULL, HEAD, REVIEWED_DIFF, answer, run_id=7)
    (review,) = forge.called("create_review")
    assert (review["target"], review["head_sha"]) == (PULL, HEAD.head_sha)
    assert review["comments"] == [ReviewComment("calc.py", 2, "**nit**: Name it.")]
    assert review["summary"].startswith("### AgentOps review\n\nLooks fine.")
    assert "- calc.py:40: **major**: Outside." in review["summary"]
    assert (posted.url, posted.inline, posted.folded) == (forge.review_url, 1, 1)


async def test_a_refusal_on_a_merge_request_is_said_there_with_what_to_do() -> None:
    forge = RecordingForge()
    refused = RunRefused(
        "`/agentops fix` is turned off here by `commands:` in .agentops.yml (the base branch "
        "`main`).",
        detail="the record only",
    )
    run = made_run(forge="gitlab", target_kind="pull_request", target_number=8, command="fix")
    told = public_failure(refused, run.forge, 7)
    await tell_failure(forge, PULL, run, "stopped", told.text)
    (said,) = forge.called("create_comment")
    assert said["target"] == PULL
    assert said["body"] == (
        "AgentOps run 7 (`/agentops fix`) stopped: `/agentops fix` is turned off here by "
        "`commands:` in .agentops.yml (the base branch `main`)."
    )
    assert "the record only" not in said["body"]
