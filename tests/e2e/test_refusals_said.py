"""A run that stops without delivering says why, where it was asked, with what to do
next: one `implement` per refusal kind, on GitHub and on GitLab, read as the person reads
it (the bot's comment or note), not from the stored run."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from tests.e2e import github_events as events
from tests.e2e import implement_script as script
from tests.e2e.conftest import GITHUB_SECRET, gitlab_token
from tests.e2e.harness import Service, wait_for
from tests.sim.github import GitHubSim
from tests.sim.gitlab import GitLabSim
from tests.sim.llm_sim import LLMSimulator, text

pytestmark = pytest.mark.e2e

NO_TESTS = {"README.md": "# notes\n", "notes.txt": "nothing to test here\n"}
# Each kind: the repository's files, and what the person must read (why, what to do).
KINDS: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "turned-off": (
        {**script.FILES, ".agentops.yml": "commands: [help, status]\n"},
        ("`/agentops implement` is turned off for this repository", "`commands:` in"),
    ),
    "broken-config": (
        {**script.FILES, ".agentops.yml": "commands: [help\n"},
        (".agentops.yml", "Fix .agentops.yml on the default branch"),
    ),
    "no-test-command": (
        NO_TESTS,
        ("no test command", "set `test:` in .agentops.yml"),
    ),
    "not-completed": (
        {**script.FILES, ".agentops.yml": "limits:\n  max_turns: 1\n"},
        ("the change was not completed", "`/agentops retry`", "`limits:` in .agentops.yml"),
    ),
}


@pytest.fixture(scope="module")
def extra_env(llm: tuple[LLMSimulator, str]) -> dict[str, str]:
    return script.llm_env(llm[1])


def _script_a_coder_that_never_finishes(llm: LLMSimulator) -> None:
    llm.script(script.PLANNER, text("**Change**\n1. `calc.py`: refuse a zero divisor."))
    llm.script(script.CODER, text("Let me think about it some more."))


def _said(comments: Callable[[], list[str]], expected: tuple[str, ...]) -> str:
    stopped = wait_for(
        lambda: [c for c in comments() if "stopped:" in c],
        90,
        what="the comment saying why the run stopped",
    )
    assert len(stopped) == 1, stopped
    assert "<details>" not in stopped[0]  # test output stays in the checklist
    for words in expected:
        assert words in stopped[0], stopped[0]
    return stopped[0]


@pytest.mark.parametrize("kind", list(KINDS))
def test_github_says_why_a_run_stopped(
    kind: str,
    service: Service,
    github: tuple[GitHubSim, str],
    llm: tuple[LLMSimulator, str],
) -> None:
    gh, _ = github
    files, expected = KINDS[kind]
    repo = f"acme/refused-{kind}"
    gh.add_repo(repo, files)
    gh.set_permission(repo, "alice", "write")
    if kind == "not-completed":
        _script_a_coder_that_never_finishes(llm[0])
    number, payload = events.command_on_new_issue(
        gh, repo, script.ISSUE_TITLE, "/agentops implement"
    )
    response = service.post_github("issue_comment", payload, GITHUB_SECRET)
    assert response.status_code == 202, response.text

    def bot_comments() -> list[str]:
        return [c["body"] for c in gh.comments(repo, number) if c["user"]["login"] == gh.bot_login]

    said = _said(bot_comments, expected)
    assert said.startswith(f"AgentOps run {response.text.split()[-1]} (`/agentops implement`)")


@pytest.mark.parametrize("kind", list(KINDS))
def test_gitlab_says_why_a_run_stopped(
    kind: str,
    service: Service,
    gitlab: tuple[GitLabSim, str],
    llm: tuple[LLMSimulator, str],
) -> None:
    gl, _ = gitlab
    files, expected = KINDS[kind]
    project = f"platform/refused-{kind}"
    if "dana" not in gl.users:
        gl.add_user("dana")
    gl.add_project(project, files)
    gl.set_access(project, "dana", 30)
    if kind == "not-completed":
        _script_a_coder_that_never_finishes(llm[0])
    iid = gl.add_issue(project, script.ISSUE_TITLE, script.ISSUE_BODY, author="dana")["iid"]
    payload = gl.webhook_note_event(project, "issue", iid, "/agentops implement", "dana")
    headers = gl.webhook_headers("Note Hook", gitlab_token(project), uuid=str(uuid.uuid4()))
    headers["Idempotency-Key"] = str(uuid.uuid4())
    response = service.post_gitlab(payload, headers)
    assert response.status_code == 202, response.text

    def bot_notes() -> list[str]:
        return [
            n["body"]
            for n in gl.notes(project, "issue", iid)
            if n["author"]["username"] == "agentops-bot"
        ]

    _said(bot_notes, expected)
