"""What people read about a run, rendered from its typed steps: the check run, the pull
request's description, the replies, `/agentops status`, and the admin API's steps."""

from __future__ import annotations

from app.forges.base import Issue, Target
from app.forges.github.spec import WORDING as GITHUB
from app.forges.gitlab.spec import WORDING as GITLAB
from app.step_records import (
    Changed,
    Delivered,
    Head,
    Installed,
    LimitsCapped,
    Located,
    LocatedFile,
    Planned,
    Replied,
    Reviewed,
    ReviewPosted,
)
from app.workflow import progress
from app.workflow.deliver import pull_request_body
from app.workflow.implement import delivered_reply
from app.workflow.pr_tests import delivered_tests_reply
from app.workflow.proving import not_delivered
from app.workflow.review import reply_text
from tests.unit.workflow.made_runs import failed, made_run, running, snapshot, succeeded

HEAD = Head(head_sha="a" * 40, ref="patch-1", base="main", head_repo="bob/calc")
DIFF = (
    "diff --git a/calc.py b/calc.py\n--- a/calc.py\n+++ b/calc.py\n"
    "@@ -1,2 +1,2 @@\n-x = 1\n+x = 2\n y = 3\n"
)
CHANGED = Changed(
    diff=DIFF,
    summary="Fix the sum.",
    tests=["tests/test_calc.py::test_sum"],
    verification="red before, green after",
    turns=5,
    cost_usd=0.0125,
    models=["anthropic:sim"],
    test_command="pytest -q",
)
STEPS = [
    succeeded("limits", LimitsCapped(capped=["limits.max_turns=80 capped at 40"]), 0),
    succeeded("install", Installed(installed="npm", cache="hit", seconds=1.5), 1),
    succeeded(
        "locate",
        Located(
            files=[LocatedFile(path="calc.py", reasons=["named"])],
            tests=[LocatedFile(path="test_calc.py", reasons=["imports calc.py", "uses add"])],
        ),
        2,
    ),
    succeeded("plan", Planned(plan="1. change the sum", cost_usd=0.25), 3),
    succeeded("reply:plan", Replied(comment_id=5), 4),
    succeeded("implement", CHANGED, 5, seconds=12.0),
]


def test_the_check_run_shows_each_step_and_what_the_finished_ones_found() -> None:
    update = progress.in_progress(
        snapshot(made_run(), [*STEPS, running("deliver")]), "Implementing"
    )
    lines = update.text.split("\n\n")[0].splitlines()
    assert lines == [
        "- [x] limits (1.0 s)",
        "- [x] install (1.0 s)",
        "- [x] locate (1.0 s)",
        "- [x] plan (1.0 s)",
        "- [x] implement (12.0 s)",
        "- [ ] ⏳ deliver",
    ]  # a reply is not a step for people
    sections = [part.split("\n")[0] for part in update.text.split("\n\n")[1:]]
    assert sections == [
        "### Files chosen",
        "### Existing tests that exercise them",
        "### Plan",
        "### Dependencies",
        "### Limits capped",
        "### Tests",
        "### Cost",
    ]
    assert "- `calc.py`: named" in update.text
    assert "- `test_calc.py`: imports calc.py; uses add" in update.text
    assert "- npm: from the cache in 1.5 s" in update.text
    assert "### Cost\n$0.2625" in update.text  # plan + implement
    assert update.actions == (progress.CANCEL,) and update.external_id == "7"


def test_a_failed_run_closes_its_check_with_the_reason_and_a_retry_button() -> None:
    steps = [*STEPS[:4], failed("implement", "The model provider is unavailable.", "401 key")]
    update = progress.finished(
        snapshot(made_run(), steps), "failure", "Failed", "Write `retry` later."
    )
    assert "- [ ] ❌ implement (2.0 s): The model provider is unavailable." in update.text
    assert "401" not in update.text and "### Tests" not in update.text
    assert update.summary.endswith("\n\nWrite `retry` later.")
    assert (update.conclusion, update.actions) == ("failure", (progress.RETRY,))
    done = progress.finished(snapshot(made_run(), STEPS), "success", "Done")
    assert done.actions == () and done.summary.startswith("`/agentops implement` requested by")


def test_status_lists_the_steps_of_each_run() -> None:
    report = progress.status_report([snapshot(made_run(status="succeeded"), STEPS)])
    assert "**Run 7**: `/agentops implement` by @alice, succeeded" in report
    assert "  - implement: succeeded 12.0 s" in report and "reply:plan" not in report


def test_the_admin_api_shows_the_run_and_each_step_record_as_its_detail() -> None:
    shown = snapshot(made_run(), [STEPS[3]]).as_json()
    assert (shown["id"], shown["created_at"]) == (7, "2026-12-03T08:00:00+00:00")
    assert [s["name"] for s in shown["steps"]] == ["plan"]
    step = STEPS[3].as_json()
    assert step["detail"] == {"plan": "1. change the sum", "cost_usd": 0.25, "model": ""}
    assert failed("plan", "It failed.").as_json()["detail"] == {"failure": "It failed."}
    assert running("plan").as_json()["detail"] == {}


def test_the_pull_request_description_comes_from_the_implement_record() -> None:
    issue = Issue(Target("acme/calc", "issue", 3), "Sum is wrong", "", "alice", "open")
    body = pull_request_body(issue, "1. change the sum", CHANGED, run_id=7)
    assert body.startswith("Closes #3\n\n**Summary**\n\nFix the sum.")
    assert "- `calc.py` (+1 −1)" in body
    assert "**Test evidence** (`pytest -q`)\n\nred before, green after" in body
    assert body.endswith("in 5 model turns, cost $0.0125 (anthropic:sim).")
    unproven = CHANGED.model_copy(update={"unproven": "the tests need the network"})
    assert pull_request_body(issue, "p", unproven, 7).startswith("> [!WARNING]\n> **Unproven.**")


def test_the_replies_say_where_the_change_went() -> None:
    opened = Delivered(branch="agentops/3-sum", commit="c0ffee", pr_number=9, pr_url="URL")
    assert delivered_reply(3, opened, CHANGED, "pull request") == (
        "Opened draft pull request URL for #3: Fix the sum."
    )
    assert delivered_reply(3, opened, CHANGED, "merge request").startswith(
        "Opened draft merge request URL for #3"
    )
    pushed = Delivered(branch="patch-1", commit="c0ffee")
    assert delivered_tests_reply(HEAD, CHANGED, pushed, GITHUB).startswith(
        "Pushed commit c0ffee to `patch-1` with tests `tests/test_calc.py::test_sum`"
    )
    stacked = Delivered(branch="agentops/tests-for-3", commit="c", pr_url="URL", on_head=False)
    assert "on `main`, so they fail there" in delivered_tests_reply(HEAD, CHANGED, stacked, GITHUB)
    on_gitlab = delivered_tests_reply(HEAD, CHANGED, stacked, GITLAB)
    assert on_gitlab.startswith("This merge request comes from a fork")
    assert "in the draft merge request URL" in on_gitlab and "pull request" not in on_gitlab
    posted = ReviewPosted(url="URL", inline=1, folded=2)
    assert reply_text(posted, "merge request") == (
        "Reviewed this merge request: URL (1 comment on the changed lines, 2 more in the summary)."
    )


def test_an_unproven_change_not_delivered_says_why_and_what_the_operator_can_set() -> None:
    refused = not_delivered(CHANGED.model_copy(update={"unproven": "no display"}))
    assert "not delivered: its new tests cannot be proven in the sandbox (no display)" in str(
        refused
    )
    assert "AGENTOPS_UNPROVEN_DELIVERY=draft" in str(refused)
    assert str(refused).endswith("red before, green after")


def test_a_review_record_counts_as_cost() -> None:
    steps = [succeeded("review", Reviewed(answer={}, cost_usd=0.5))]
    assert progress.details(steps) == "### Cost\n$0.5000"
