"""`/agentops review` end to end: the real web and worker, a scripted reviewer model, and
one review whose comments sit on the diff's lines (a comment on a line outside the diff
is listed in the review's summary): a GitHub pull request review, and on GitLab diff
discussions on a merge request plus a summary note."""

from __future__ import annotations

import pytest

from tests.e2e import implement_script as script
from tests.e2e.conftest import gitlab_token
from tests.e2e.harness import Service, wait_for
from tests.sim.github import GitHubSim
from tests.sim.gitlab import GitLabSim
from tests.sim.llm_sim import LLMSimulator, structured

pytestmark = pytest.mark.e2e
REPO = "acme/review"
REVIEWER = "sim-reviewer"

OTHERS = "".join(f"\n\ndef f{n}(x):\n    return x + {n}\n" for n in range(1, 8))
BASE = {
    "calc.py": "def add(a, b):\n    return a + b\n\n\ndef divide(a, b):\n"
    "    return a / b\n" + OTHERS,
    "README.md": "# calc\n",
}
HEAD = {
    "calc.py": BASE["calc.py"].replace(
        "    return a / b\n",
        "    if b == 0:\n        raise ValueError('zero divisor')\n    return a / b\n",
    ),
    "tests/test_divide.py": "import pytest\n\nfrom calc import divide\n\n\n"
    "def test_zero():\n    with pytest.raises(ValueError):\n"
    "        divide(1, 0)\n",
}
# calc.py on the head: lines 6-7 are new, 3-5 and 8-10 context; line 30 is far from the hunk.
ANSWER = {
    "summary": "The zero check is right; the error message could say which argument.",
    "comments": [
        {
            "path": "calc.py",
            "line": 7,
            "severity": "minor",
            "body": "Say which argument was zero in the message.",
        },
        {
            "path": "tests/test_divide.py",
            "line": 8,
            "severity": "nit",
            "body": "Match the message with `match=`.",
        },
        {"path": "calc.py", "line": 30, "severity": "major", "body": "f7 has no test either."},
        {
            "path": "README.md",
            "line": 1,
            "severity": "nit",
            "body": "Mention divide() in the README.",
        },
    ],
}


@pytest.fixture(scope="module")
def extra_env(llm: tuple[LLMSimulator, str]) -> dict[str, str]:
    return script.reviewer_env(llm[1], REVIEWER)


def test_a_review_lands_on_the_changed_lines(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gh, _ = github
    sim, _ = llm
    gh.add_repo(REPO, BASE)
    gh.set_permission(REPO, "alice", "write")
    head_sha = gh.push_branch(REPO, "divide-by-zero", HEAD, message="refuse a zero divisor")
    number = gh.add_pull(
        REPO,
        "divide-by-zero",
        title="Refuse a zero divisor",
        body="Fixes the ZeroDivisionError.",
        user="alice",
    )
    sim.script(REVIEWER, structured(ANSWER))
    run_id = script.comment_command(
        service, gh, REPO, number, "/agentops review", pull_request=True
    )

    run = wait_for(lambda: service.finished(run_id), 90, what="the review run")
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])

    [review] = gh.reviews(REPO, number)
    assert review["state"] == "COMMENTED" and review["commit_id"] == head_sha
    assert [(c["path"], c["line"], c["side"], c["body"]) for c in review["comments"]] == [
        ("calc.py", 7, "RIGHT", "**minor**: Say which argument was zero in the message."),
        ("tests/test_divide.py", 8, "RIGHT", "**nit**: Match the message with `match=`."),
    ]
    body = review["body"]
    assert ANSWER["summary"] in body
    assert "- calc.py:30: **major**: f7 has no test either." in body
    assert "- README.md:1: **nit**: Mention divide() in the README." in body
    assert "Say which argument" not in body

    check = wait_for(
        lambda: next(
            (c for c in gh.check_runs(REPO) if c["external_id"] == str(run_id) and c["conclusion"]),
            None,
        ),
        10,
        what="the check run to close",
    )  # closed just after the run ends
    assert check["conclusion"] == "success" and check["head_sha"] == head_sha
    for step in ("config", "diff", "review", "post"):
        assert f"[x] {step}" in check["output"]["text"]

    replies = [c["body"] for c in gh.comments(REPO, number) if c["user"]["login"] == gh.bot_login]
    assert len(replies) == 1
    assert f"#pullrequestreview-{review['id']}" in replies[0]
    assert "2 comments on the changed lines, 2 more in the summary" in replies[0]

    [asked] = sim.requests_for(REVIEWER)
    prompt = str(asked.body["messages"][0]["content"])
    assert "<untrusted-data" in prompt and "Fixes the ZeroDivisionError." in prompt
    assert "    6 +    if b == 0:" in prompt  # the model reads numbered new-side lines
    assert asked.body["output_config"]["format"]["type"] == "json_schema"
    assert run["result"]["review"].endswith(f"#pullrequestreview-{review['id']}")


def test_a_repository_may_turn_review_off(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gh, _ = github
    repo = "acme/no-review"
    gh.add_repo(repo, {**BASE, ".agentops.yml": "commands: [implement, plan]\n"})
    gh.set_permission(repo, "alice", "write")
    gh.push_branch(repo, "divide-by-zero", HEAD, message="refuse a zero divisor")
    number = gh.add_pull(repo, "divide-by-zero", title="Refuse a zero divisor", user="alice")
    asked = len(llm[0].requests)
    run_id = script.comment_command(
        service, gh, repo, number, "/agentops review", pull_request=True
    )
    run = wait_for(lambda: service.finished(run_id), 90, what="the refused review run")
    assert run["status"] == "failed"
    assert gh.reviews(repo, number) == [] and len(llm[0].requests) == asked
    replies = [c["body"] for c in gh.comments(repo, number) if c["user"]["login"] == gh.bot_login]
    assert len(replies) == 1 and "turned off" in replies[0]


def test_a_review_on_gitlab_is_diff_discussions_and_a_summary_note(
    service: Service, gitlab: tuple[GitLabSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gl, _ = gitlab
    sim, _ = llm
    project = "shop/review"
    gl.add_user("dana")
    gl.add_project(project, BASE)
    gl.set_access(project, "dana", 30)
    head_sha = gl.push_files(project, "divide-by-zero", HEAD, message="refuse a zero divisor")
    iid = gl.add_merge_request(
        project, "divide-by-zero", title="Refuse a zero divisor", author="dana"
    )["iid"]
    context_line = {
        "path": "calc.py",
        "line": 8,
        "severity": "minor",
        "body": "An unchanged line in the hunk.",
    }
    sim.script(REVIEWER, structured({**ANSWER, "comments": [*ANSWER["comments"], context_line]}))
    payload = gl.webhook_note_event(project, "merge_request", iid, "/agentops review", "dana")
    response = service.post_gitlab(payload, gl.webhook_headers("Note Hook", gitlab_token(project)))
    assert response.status_code == 202, response.text
    run_id = int(response.text.split()[-1])

    run = wait_for(lambda: service.finished(run_id), 90, what="the review run")
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])

    placed = [
        (
            d["notes"][0]["position"]["new_path"],
            d["notes"][0]["position"]["new_line"],
            d["notes"][0]["position"]["old_line"],
            d["notes"][0]["body"],
        )
        for d in gl.discussions(project, iid)
    ]
    assert placed == [
        ("calc.py", 7, None, "**minor**: Say which argument was zero in the message."),
        ("tests/test_divide.py", 8, None, "**nit**: Match the message with `match=`."),
        ("calc.py", 8, 6, "**minor**: An unchanged line in the hunk."),
    ]
    bot = [
        n["body"]
        for n in gl.notes(project, "merge_request", iid)
        if n["author"]["username"] == "agentops-bot" and not n.get("position")
    ]
    [summary] = [n for n in bot if n.startswith("### AgentOps review")]
    assert "- calc.py:30: **major**: f7 has no test either." in summary
    assert "- README.md:1: **nit**: Mention divide() in the README." in summary
    replies = [n for n in bot if n.startswith("Reviewed this merge request")]
    assert len(replies) == 1 and "3 comments on the changed lines, 2 more" in replies[0]
    assert run["result"]["review"] in replies[0]
    wait_for(
        lambda: [s["status"] for s in gl.statuses(project, head_sha)][-1] == "success",
        10,
        what="the commit status to close",
    )
