"""`/agentops test` and `/agentops fix` on pull requests, end to end: the real web and
worker processes, a scripted model, the real sandbox and real git in the simulators.

- `test` on a branch of the repository: one new commit with a passing test on the pull
  request's branch (a failing test was sent back to the model first); the same on a
  GitLab merge request;
- `test` on a fork of someone without write access: the fork's branch is left alone, the
  tests alone go to a draft pull request on `main` (the fork's commits are not copied),
  and `.agentops.yml` comes from the base branch (the head's copy would turn `test` off);
  tests that only apply to the fork's own files come back as a patch in the reply;
- `test` on a fork of someone with write access: the stacked draft pull request starts
  from the fork's head;
- a `deliver` step run again (the pull request was rate limited) pushes the same commit
  and opens one pull request;
- `fix make it faster`: one new commit with the change, the request fenced as data;
- `fix` on a fork's pull request: refused with a reply, no model called, nothing pushed.
"""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import github_events as events
from tests.e2e import implement_script as script
from tests.e2e.conftest import GITHUB_SECRET, gitlab_token
from tests.e2e.harness import Service, wait_for
from tests.sim.github import GitHubSim
from tests.sim.gitlab import GitLabSim
from tests.sim.llm_sim import LLMSimulator, tool_call

pytestmark = pytest.mark.e2e

CALC = "def add(a, b):\n    return a + b\n"
MULTIPLY = CALC + "\n\ndef multiply(a, b):\n    return a * b\n"
SLOW_TOTAL = CALC + (
    "\n\ndef total(values):\n    result = 0\n    for value in list(values):\n"
    "        result = result + value\n    return result\n"
)
FAST_TOTAL = CALC + "\n\ndef total(values):\n    return sum(values)\n"
TOTAL_TEST = "from calc import total\n\n\ndef test_total():\n    assert total([1, 2, 3]) == 6\n"

WRONG_TEST = """tests/test_multiply.py
<<<<<<< NEW FILE
from calc import multiply


def test_multiply():
    assert multiply(2, 3) == 5
>>>>>>> NEW FILE
"""
RIGHT_TEST = """tests/test_multiply.py
<<<<<<< SEARCH
    assert multiply(2, 3) == 5
=======
    assert multiply(2, 3) == 6
    assert multiply(-2, 3) == -6
>>>>>>> REPLACE
"""
NEW_TEST = """tests/test_multiply.py
<<<<<<< NEW FILE
from calc import multiply


def test_multiply_by_zero():
    assert multiply(7, 0) == 0
>>>>>>> NEW FILE
"""
FASTER = """calc.py
<<<<<<< SEARCH
def total(values):
    result = 0
    for value in list(values):
        result = result + value
    return result
=======
def total(values):
    return sum(values)
>>>>>>> REPLACE
"""


EXTEND_FORK_TEST = """tests/test_calc.py
<<<<<<< SEARCH
def test_multiply():
    assert multiply(2, 3) == 6
=======
def test_multiply():
    assert multiply(2, 3) == 6


def test_multiply_by_one():
    assert multiply(9, 1) == 9
>>>>>>> REPLACE
"""


@pytest.fixture(scope="module")
def extra_env(llm: tuple[LLMSimulator, str]) -> dict[str, str]:
    return script.llm_env(llm[1])


def _git(bare: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=bare, capture_output=True, text=True, check=True
    ).stdout


def _pull_request(
    gh: GitHubSim,
    repo: str,
    branch: str,
    files: dict[str, str],
    *,
    author: str = "alice",
    head_repo: str | None = None,
) -> tuple[int, str]:
    gh.add_repo(repo, script.FILES | {"calc.py": CALC})
    gh.set_permission(repo, "alice", "write")
    head = gh.push_branch(repo, branch, files, message="the change")
    number = gh.add_pull(repo, branch, title="A change to calc", user=author, head_repo=head_repo)
    return number, head


def _command(service: Service, gh: GitHubSim, repo: str, number: int, body: str) -> int:
    comment_id = gh.add_comment(repo, number, body, user="alice")
    payload = events.issue_comment(
        repo,
        gh.installation_id(repo),
        number,
        body,
        "alice",
        pull_request=True,
        comment_id=comment_id,
    )
    response = service.post_github("issue_comment", payload, GITHUB_SECRET)
    assert response.status_code == 202, response.text
    return int(response.text.split()[-1])


def _wait(service: Service, run_id: int) -> dict[str, Any]:
    run = wait_for(lambda: service.finished(run_id), 120, what=f"run {run_id}")
    assert run is not None
    return run


def _bot_comments(gh: GitHubSim, repo: str, number: int) -> list[str]:
    return [c["body"] for c in gh.comments(repo, number) if c["user"]["login"] == gh.bot_login]


def test_tests_for_a_pull_request_are_one_new_commit_on_its_branch(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gh, _ = github
    sim, _ = llm
    repo, branch = "acme/calc-tests", "feature/multiply"
    number, head = _pull_request(gh, repo, branch, {"calc.py": MULTIPLY})
    sim.script(
        script.CODER,
        tool_call("read_file", {"path": "calc.py"}),
        tool_call("apply_edits", {"edits": WRONG_TEST}),
        tool_call(
            "finish",
            {
                "summary": "Tests for multiply().",
                "tests": ["tests/test_multiply.py::test_multiply"],
            },
        ),
        tool_call("apply_edits", {"edits": RIGHT_TEST}),
        tool_call(
            "finish",
            {
                "summary": "Tests for multiply(), negative numbers included.",
                "tests": ["tests/test_multiply.py::test_multiply"],
            },
        ),
    )
    run_id = _command(service, gh, repo, number, "/agentops test")
    run = _wait(service, run_id)
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])

    bare = gh.bare_path(repo)
    tip = gh.branch_sha(repo, branch)
    assert tip is not None and tip != head
    assert _git(bare, "rev-list", "--count", f"{head}..{tip}").strip() == "1"
    assert _git(bare, "log", "-1", "--format=%P", tip).strip() == head
    assert "multiply(-2, 3) == -6" in _git(bare, "show", f"{tip}:tests/test_multiply.py")
    assert _git(bare, "diff", "--name-only", head, tip).split() == ["tests/test_multiply.py"]
    log = _git(bare, "log", "-1", "--format=%an%n%B", tip)
    assert log.startswith(f"agentops[bot]\ntest: cover the changes of #{number}")
    assert "Co-authored-by: alice <alice@users.noreply.github.com>" in log
    assert len(gh.pulls(repo)) == 1  # no other pull request

    check = next(c for c in gh.check_runs(repo) if c["external_id"] == str(run_id))
    assert check["conclusion"] == "success"
    assert check["head_sha"] == head
    for step in ("clone", "config", "diff", "write-tests", "deliver"):
        assert f"[x] {step}" in check["output"]["text"]
    bot = _bot_comments(gh, repo, number)
    assert len(bot) == 1 and f"Pushed commit {tip}" in bot[0] and branch in bot[0]

    coder = sim.requests_for(script.CODER)[-5:]
    assert "<untrusted-data" in str(coder[0].body["messages"][0])  # the diff is data
    sent_back = str(coder[3].body["messages"][-1])
    assert "tests FAIL on the checked-out head" in sent_back  # the failing test went back
    steps = {s["name"]: s["detail"] for s in run["steps"]}
    assert steps["config"]["source"] == "head"  # alice has write access
    assert "pass on the checked-out head" in steps["write-tests"]["verification"]


def test_tests_for_a_strangers_fork_are_a_draft_pull_request_of_tests_only(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gh, _ = github
    sim, _ = llm
    repo, branch = "acme/calc-fork", "patch-1"
    # The fork's own .agentops.yml would turn `test` off: its author cannot write here, so
    # the base branch's (none: defaults) is the one that counts.
    number, head = _pull_request(
        gh,
        repo,
        branch,
        {"calc.py": MULTIPLY, ".agentops.yml": "commands: [review]\n"},
        author="mallory",
        head_repo="mallory/calc-fork",
    )
    main = gh.branch_sha(repo, "main")
    _script_new_test(sim)
    run_id = _command(service, gh, repo, number, "/agentops test")
    run = _wait(service, run_id)
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])

    assert gh.branch_sha(repo, branch) == head  # the fork's branch is untouched
    stacked = f"agentops/tests-for-{number}"
    tip = gh.branch_sha(repo, stacked)
    assert tip is not None
    bare = gh.bare_path(repo)
    # none of the stranger's commits were copied here: the tests alone, on main
    assert _git(bare, "log", "-1", "--format=%P", tip).strip() == main
    assert _git(bare, "diff", "--name-only", "main", tip).split() == ["tests/test_multiply.py"]
    assert "test_multiply_by_zero" in _git(bare, "show", f"{tip}:tests/test_multiply.py")

    pull = _stacked_pull(gh, repo, number)
    assert "only the tests, on `main`" in pull["body"]
    assert "the named tests pass on the checked-out head" in pull["body"]  # evidence
    steps = {s["name"]: s["detail"] for s in run["steps"]}
    assert steps["config"]["source"] == "base"
    bot = _bot_comments(gh, repo, number)
    assert len(bot) == 1 and "draft pull request" in bot[0] and "fail there until" in bot[0]
    assert f"/pull/{pull['number']}" in bot[0]


def test_tests_that_only_apply_to_a_strangers_fork_come_back_as_a_patch(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gh, _ = github
    sim, _ = llm
    repo, branch = "acme/calc-patch", "patch-1"
    fork_tests = (
        "from calc import add, multiply\n\n\ndef test_add():\n"
        "    assert add(2, 3) == 5\n\n\ndef test_multiply():\n"
        "    assert multiply(2, 3) == 6\n"
    )
    number, head = _pull_request(
        gh,
        repo,
        branch,
        {"calc.py": MULTIPLY, "tests/test_calc.py": fork_tests},
        author="mallory",
        head_repo="mallory/calc",
    )
    sim.script(
        script.CODER,
        tool_call("apply_edits", {"edits": EXTEND_FORK_TEST}),
        tool_call(
            "finish",
            {
                "summary": "multiply() by one.",
                "tests": ["tests/test_calc.py::test_multiply_by_one"],
            },
        ),
    )
    run_id = _command(service, gh, repo, number, "/agentops test")
    run = _wait(service, run_id)
    assert run["status"] == "failed"
    assert "do not apply to `main`" in (run["error"] or "")

    assert gh.branch_sha(repo, branch) == head
    assert gh.branch_sha(repo, f"agentops/tests-for-{number}") is None
    assert len(gh.pulls(repo)) == 1
    bot = _bot_comments(gh, repo, number)
    assert len(bot) == 1
    assert "as a patch" in bot[0] and "+def test_multiply_by_one():" in bot[0]


def test_tests_for_a_fork_of_a_writer_stack_on_its_head(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gh, _ = github
    sim, _ = llm
    repo, branch = "acme/calc-own-fork", "patch-1"
    number, head = _pull_request(
        gh, repo, branch, {"calc.py": MULTIPLY}, author="alice", head_repo="alice/calc"
    )
    _script_new_test(sim)
    run_id = _command(service, gh, repo, number, "/agentops test")
    run = _wait(service, run_id)
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])

    assert gh.branch_sha(repo, branch) == head
    tip = gh.branch_sha(repo, f"agentops/tests-for-{number}")
    assert tip is not None
    assert _git(gh.bare_path(repo), "log", "-1", "--format=%P", tip).strip() == head
    pull = _stacked_pull(gh, repo, number)
    assert f"starts from #{number}'s head commit" in pull["body"]
    assert {s["name"]: s["detail"] for s in run["steps"]}["config"]["source"] == "head"
    bot = _bot_comments(gh, repo, number)
    assert len(bot) == 1 and "stacked draft pull request" in bot[0]


def _script_new_test(sim: LLMSimulator) -> None:
    sim.script(
        script.CODER,
        tool_call("apply_edits", {"edits": NEW_TEST}),
        tool_call(
            "finish",
            {
                "summary": "multiply() by zero is zero.",
                "tests": ["tests/test_multiply.py::test_multiply_by_zero"],
            },
        ),
    )


def _stacked_pull(gh: GitHubSim, repo: str, number: int) -> dict[str, Any]:
    pulls = [p for p in gh.pulls(repo) if p["number"] != number]
    assert len(pulls) == 1
    pull = pulls[0]
    assert pull["draft"] is True
    assert pull["head"]["ref"] == f"agentops/tests-for-{number}"
    assert pull["base"]["ref"] == "main"
    assert pull["body"].startswith(f"Tests for #{number}, stacked on it.")
    assert pull["title"].startswith(f"Tests for #{number}")
    return pull


def test_fix_pushes_the_requested_change_as_one_commit(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gh, _ = github
    sim, _ = llm
    repo, branch = "acme/calc-fix", "feature/total"
    number, head = _pull_request(
        gh, repo, branch, {"calc.py": SLOW_TOTAL, "tests/test_total.py": TOTAL_TEST}
    )
    sim.script(
        script.CODER,
        tool_call("read_file", {"path": "calc.py"}),
        tool_call("apply_edits", {"edits": FASTER}),
        tool_call(
            "finish",
            {
                "summary": "perf(calc): total() uses sum()\n\nNo copy, no loop.",
                "tests": ["tests/test_total.py::test_total"],
            },
        ),
    )
    run_id = _command(service, gh, repo, number, "/agentops fix make it faster")
    run = _wait(service, run_id)
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])

    bare = gh.bare_path(repo)
    tip = gh.branch_sha(repo, branch)
    assert tip is not None
    assert _git(bare, "rev-list", "--count", f"{head}..{tip}").strip() == "1"
    assert _git(bare, "log", "-1", "--format=%P", tip).strip() == head
    assert _git(bare, "show", f"{tip}:calc.py") == FAST_TOTAL
    message = _git(bare, "log", "-1", "--format=%B", tip)
    assert message.startswith("perf(calc): total() uses sum()\n\nNo copy, no loop.")
    assert f"Requested in #{number}: make it faster" in message

    bot = _bot_comments(gh, repo, number)
    assert len(bot) == 1 and f"Pushed commit {tip}" in bot[0]
    check = next(c for c in gh.check_runs(repo) if c["external_id"] == str(run_id))
    assert check["conclusion"] == "success"
    task = str(sim.requests_for(script.CODER)[-3].body["messages"][0])
    assert "make it faster" in task.split("<untrusted-data")[1]  # the request is data


BREAK_ADD = """calc.py
<<<<<<< SEARCH
def add(a, b):
    return a + b
=======
def add(a, b):
    return a - b
>>>>>>> REPLACE
"""
MEND_ADD = """calc.py
<<<<<<< SEARCH
    return a - b
=======
    return a + b
>>>>>>> REPLACE
"""


def test_a_fix_that_breaks_a_passing_test_goes_back_to_the_model(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gh, _ = github
    sim, _ = llm
    repo, branch = "acme/calc-fix-regression", "feature/total"
    number, head = _pull_request(
        gh, repo, branch, {"calc.py": SLOW_TOTAL, "tests/test_total.py": TOTAL_TEST}
    )
    finish = tool_call(
        "finish", {"summary": "perf(calc): total() uses sum()", "tests": ["tests/test_total.py"]}
    )
    sim.script(
        script.CODER,
        tool_call("apply_edits", {"edits": FASTER + "\n" + BREAK_ADD}),
        finish,
        tool_call("apply_edits", {"edits": MEND_ADD}),
        finish,
    )
    asked = len(sim.requests_for(script.CODER))
    run_id = _command(service, gh, repo, number, "/agentops fix make it faster")
    run = _wait(service, run_id)
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])

    told = str(sim.requests_for(script.CODER)[asked:][2].body["messages"][-1])
    assert "breaks tests that passed before it" in told
    assert "tests/test_calc.py::test_add" in told  # found by the whole suite's comparison
    tip = gh.branch_sha(repo, branch)
    assert tip is not None and tip != head
    assert _git(gh.bare_path(repo), "show", f"{tip}:calc.py") == FAST_TOTAL


def test_fix_on_a_fork_says_it_cannot_push_there(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gh, _ = github
    sim, _ = llm
    repo, branch = "acme/calc-fix-fork", "patch-2"
    number, head = _pull_request(
        gh, repo, branch, {"calc.py": SLOW_TOTAL}, author="mallory", head_repo="mallory/calc"
    )
    calls = len(sim.requests)
    run_id = _command(service, gh, repo, number, "/agentops fix make it faster")
    run = _wait(service, run_id)
    assert run["status"] == "failed"
    assert "fork" in (run["error"] or "")

    assert gh.branch_sha(repo, branch) == head
    assert len(gh.pulls(repo)) == 1
    assert len(sim.requests) == calls  # no model was asked
    bot = _bot_comments(gh, repo, number)
    assert len(bot) == 1 and "cannot push" in bot[0] and "mallory/calc" in bot[0]
    check = next(c for c in gh.check_runs(repo) if c["external_id"] == str(run_id))
    assert check["conclusion"] == "failure"


def test_a_delivery_that_is_tried_again_pushes_nothing_new_and_opens_one_pull_request(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    """The forge refuses the stacked pull request once (rate limit) after the push: the
    run is deferred, and the `deliver` step, run again, makes the same commit."""
    gh, _ = github
    sim, _ = llm
    repo, branch = "acme/calc-resume", "patch-3"
    number, head = _pull_request(
        gh, repo, branch, {"calc.py": MULTIPLY}, author="mallory", head_repo="mallory/calc"
    )
    _script_new_test(sim)
    gh.fail_next(rf"^POST /repos/{repo}/pulls$", "429", retry_after=1)
    asked = len(sim.requests_for(script.CODER))
    run_id = _command(service, gh, repo, number, "/agentops test")
    run = _wait(service, run_id)
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])

    posts = [
        r.status
        for r in gh.requests
        if r.method == "POST" and r.path.endswith(f"/repos/{repo}/pulls")
    ]
    assert posts == [429, 201]  # the deliver step ran twice
    stacked = f"agentops/tests-for-{number}"
    tip = gh.branch_sha(repo, stacked)
    assert tip is not None
    assert _git(gh.bare_path(repo), "rev-list", "--count", f"main..{tip}").strip() == "1"
    assert gh.branch_sha(repo, branch) == head
    assert len([p for p in gh.pulls(repo) if p["head"]["ref"] == stacked]) == 1
    assert len(_bot_comments(gh, repo, number)) == 1
    assert len(sim.requests_for(script.CODER)) - asked == 2  # the model was not asked again


def test_tests_for_a_gitlab_merge_request_are_one_new_commit_on_its_branch(
    service: Service, gitlab: tuple[GitLabSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gl, _ = gitlab
    sim, _ = llm
    project, branch = "shop/calc-tests", "feature/multiply"
    if "dana" not in gl.users:
        gl.add_user("dana")
    gl.add_project(project, script.FILES | {"calc.py": CALC})
    gl.set_access(project, "dana", 30)
    head = gl.push_files(project, branch, {"calc.py": MULTIPLY})
    iid = gl.add_merge_request(project, branch, title="Add multiply", author="dana")["iid"]
    _script_new_test(sim)
    payload = gl.webhook_note_event(project, "merge_request", iid, "/agentops test", "dana")
    headers = gl.webhook_headers("Note Hook", gitlab_token(project))
    headers["Idempotency-Key"] = str(uuid.uuid4())
    response = service.post_gitlab(payload, headers)
    assert response.status_code == 202, response.text
    run = _wait(service, int(response.text.split()[-1]))
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])

    tip = gl.head_sha(project, branch)
    assert tip is not None and tip != head
    bare = gl.project(project).bare
    assert _git(bare, "log", "-1", "--format=%P", tip).strip() == head
    assert _git(bare, "diff", "--name-only", head, tip).split() == ["tests/test_multiply.py"]
    assert len(gl.merge_requests(project)) == 1
    assert [s["status"] for s in gl.statuses(project, head)][-1] == "success"
    notes = [
        n["body"]
        for n in gl.notes(project, "merge_request", iid)
        if n["author"]["username"] == "agentops-bot"
    ]
    assert any(f"Pushed commit {tip}" in n for n in notes)
