"""Repositories that commit symbolic links to the worker's own files, end to end.

A committed `notes.txt -> /etc/shadow` (here: a host file the test writes outside every
checkout, holding a canary) and a directory link to a host folder must never make the
worker read the host file and send it to the model, post it on the forge or log it; a
committed `.agentops.yml -> host file` is refused with a clear message, and the host
file's first line appears nowhere (a YAML or settings error used to quote it).
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest

from handlers.github import label_event_key
from tests.e2e import github_events as events
from tests.e2e import implement_script as script
from tests.e2e.conftest import GITHUB_SECRET
from tests.e2e.harness import ADMIN_TOKEN, Service, wait_for
from tests.sim.github import GitHubSim
from tests.sim.llm_sim import LLMSimulator, text, tool_call

pytestmark = pytest.mark.e2e

CANARY_FILE = f"hostsecret-file-{uuid.uuid4().hex}"
CANARY_DIR = f"hostsecret-dir-{uuid.uuid4().hex}"
CANARY_CONFIG = f"hostsecret-config-{uuid.uuid4().hex}"
CANARIES = (CANARY_FILE, CANARY_DIR, CANARY_CONFIG)


@pytest.fixture(scope="module")
def extra_env(llm: tuple[LLMSimulator, str]) -> dict[str, str]:
    return script.llm_env(llm[1])


@pytest.fixture(scope="module")
def host(workdir: Path) -> Path:
    """The worker's machine: files no repository may read, outside every checkout."""
    folder = workdir / "host-secrets"
    (folder / "keys").mkdir(parents=True)
    (folder / "shadow").write_text(f"root:{CANARY_FILE}:19000:0:99999:7:::\n")
    (folder / "keys" / "id_rsa").write_text(f"-----BEGIN KEY-----\n{CANARY_DIR}\n")
    # A host file that reads as settings: its first line is a key, as in many config files.
    (folder / "service.yml").write_text(f"{CANARY_CONFIG}: 1\nlabels:\n  bot-please: implement\n")
    return folder


def commit_links(gh: GitHubSim, repo: str, links: dict[str, Path], branch: str = "main") -> None:
    """Commit symbolic links (path in the repository → absolute target) on `branch`, made
    from main."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Mallory",
        "GIT_AUTHOR_EMAIL": "mallory@example.invalid",
        "GIT_COMMITTER_NAME": "Mallory",
        "GIT_COMMITTER_EMAIL": "mallory@example.invalid",
    }
    with tempfile.TemporaryDirectory() as work:

        def git(*args: str) -> None:
            subprocess.run(["git", *args], cwd=work, env=env, check=True, capture_output=True)

        git("clone", "-q", str(gh.bare_path(repo)), ".")
        git("checkout", "-q", "-B", branch)
        for name, target in links.items():
            (Path(work) / name).symlink_to(target)
        git("add", "-A")
        git("commit", "-q", "-m", "add links")
        git("push", "-q", "origin", f"HEAD:refs/heads/{branch}")


def everything_on_the_forge(gh: GitHubSim, repo: str) -> str:
    """Every comment, check run, pull request and status the service wrote on `repo`."""
    issues = [gh.issue(repo, n) for n in range(1, 100) if _exists(gh, repo, n)]
    comments = [gh.comments(repo, i["number"]) for i in issues]
    return json.dumps([issues, comments, gh.check_runs(repo), gh.pulls(repo), gh.statuses(repo)])


def _exists(gh: GitHubSim, repo: str, number: int) -> bool:
    try:
        gh.issue(repo, number)
    except KeyError:  # a number the simulator never gave
        return False
    return True


def assert_no_canary(where: str, what: str) -> None:
    for canary in CANARIES:
        assert canary not in what, f"{canary} reached {where}"


PROBES = [
    tool_call("search_code", {"query": "hostsecret-"}, say="Looking for secrets."),
    tool_call("search_code", {"query": "hostsecret-", "path": "keys"}),
    tool_call("read_file", {"path": "notes.txt"}),
    tool_call("read_file", {"path": "keys/id_rsa"}),
    tool_call("read_file", {"path": "keys/../notes.txt"}),
    tool_call("list_dir", {"path": "keys"}),
    tool_call("list_dir", {}),
]


def test_committed_links_to_host_files_reach_no_one(
    service: Service,
    github: tuple[GitHubSim, str],
    llm: tuple[LLMSimulator, str],
    host: Path,
) -> None:
    gh, _ = github
    sim, _ = llm
    repo = "mallory/linked"
    gh.add_repo(repo, script.FILES)
    commit_links(
        gh,
        repo,
        {
            "notes.txt": host / "shadow",
            "keys": host / "keys",
            "helpers.py": host / "shadow",  # a source file for the code map, too
        },
    )
    gh.set_permission(repo, "alice", "write")
    sim.script(
        script.PLANNER,
        text("**Change**\n1. `calc.py`, `divide`: raise ValueError for b == 0.\n"),
    )
    sim.script(
        script.CODER,
        *PROBES,
        tool_call("apply_edits", {"edits": script.CHANGE}),
        tool_call("apply_edits", {"edits": script.REAL_TEST}),
        tool_call(
            "finish",
            {
                "summary": "divide() raises ValueError for a zero divisor.",
                "tests": ["tests/test_divide.py::test_divide_by_zero_raises"],
            },
        ),
    )
    sim.script(script.CHEAP, text(script.COMMIT_MESSAGE))
    requests_before = len(sim.requests)

    _, run_id = script.start_implement(service, gh, repo)
    run = wait_for(lambda: service.finished(run_id), 180, what="the run")
    assert run["status"] == "succeeded", (run["error"], service.logs()[-3000:])

    # The model read none of the links, and was told what each one is.
    sent = [json.dumps(r.body) for r in sim.requests[requests_before:]]
    assert_no_canary("the model", " ".join(sent))
    last_coder = json.dumps(sim.requests_for(script.CODER)[-1].body)
    assert "notes.txt (symbolic link: not followed)" in last_coder
    assert "`keys` on this path is a symbolic link" in last_coder
    assert "`notes.txt` is a symbolic link" in last_coder
    assert_no_canary("the forge", everything_on_the_forge(gh, repo))
    assert_no_canary("the run's record", json.dumps(service.run(run_id)))
    assert_no_canary("the logs", service.logs())
    [pull] = gh.pulls(repo)
    assert pull["draft"] is True


def test_a_linked_agentops_yml_is_refused_and_never_quoted(
    service: Service, github: tuple[GitHubSim, str], host: Path
) -> None:
    gh, _ = github
    repo = "mallory/linked-config"
    gh.add_repo(repo, script.FILES)
    commit_links(gh, repo, {".agentops.yml": host / "service.yml"})
    gh.set_permission(repo, "alice", "write")

    _, run_id = script.start_implement(service, gh, repo)
    run = wait_for(lambda: service.finished(run_id), 90, what="the run")
    assert run["status"] == "failed", run
    assert "`.agentops.yml` is a symbolic link" in run["error"]
    forge = everything_on_the_forge(gh, repo)
    [check] = [c for c in gh.check_runs(repo) if c["external_id"] == str(run_id)]
    assert check["conclusion"] == "failure"
    assert "symbolic link" in json.dumps(check["output"])  # the person is told why
    assert_no_canary("the forge", forge)
    assert_no_canary("the run's record", json.dumps(service.run(run_id)))
    assert_no_canary("the logs", service.logs())


def _run_for(service: Service, trigger_key: str) -> dict[str, Any] | None:
    runs = service.api("/api/runs?limit=500", ADMIN_TOKEN)["runs"]
    return next((r for r in runs if r["trigger_key"] == trigger_key), None)


def test_a_linked_agentops_yml_maps_no_label(
    service: Service, github: tuple[GitHubSim, str], host: Path
) -> None:
    """The label check reads `.agentops.yml` from a blobless clone: a link there is not
    settings (the host file maps `bot-please`), and the operator's `agentops` label then
    starts a run that says why the file is refused."""
    gh, _ = github
    repo = "mallory/linked-labels"
    gh.add_repo(repo, script.FILES)
    commit_links(gh, repo, {".agentops.yml": host / "service.yml"})
    gh.set_permission(repo, "alice", "write")
    number = gh.add_issue(repo, script.ISSUE_TITLE, script.ISSUE_BODY, user="alice")

    def label(name: str) -> str:
        delivery = str(uuid.uuid4())
        payload = events.issues_labeled(repo, gh.installation_id(repo), number, name, "alice")
        response = service.post_github("issues", payload, GITHUB_SECRET, delivery=delivery)
        assert response.status_code == 202, response.text
        return label_event_key(
            payload["repository"]["id"], number, name, payload["issue"]["updated_at"], delivery
        )

    ignored = label("bot-please")
    started = label("agentops")
    run = wait_for(lambda: _run_for(service, started), 30, what="the run")
    run = wait_for(lambda: service.finished(run["id"]), 90, what="the run to end")
    assert run["status"] == "failed" and "symbolic link" in run["error"], run
    assert _run_for(service, ignored) is None
    assert_no_canary("the forge", everything_on_the_forge(gh, repo))
    assert_no_canary("the logs", service.logs())


def test_a_pull_request_that_links_agentops_yml_is_told_why(
    service: Service,
    github: tuple[GitHubSim, str],
    llm: tuple[LLMSimulator, str],
    host: Path,
) -> None:
    """`/agentops review` reads `.agentops.yml` from the head commit of a writer's pull
    request: a link committed there is refused before any model is asked."""
    gh, _ = github
    repo = "mallory/linked-pull"
    gh.add_repo(repo, script.FILES)
    gh.set_permission(repo, "alice", "write")
    commit_links(gh, repo, {".agentops.yml": host / "service.yml"}, branch="settings")
    number = gh.add_pull(repo, "settings", title="Settings", user="alice")
    asked = len(llm[0].requests)
    run_id = script.comment_command(
        service, gh, repo, number, "/agentops review", pull_request=True
    )
    run = wait_for(lambda: service.finished(run_id), 90, what="the run")
    assert run["status"] == "failed" and "symbolic link" in run["error"], run
    assert len(llm[0].requests) == asked
    replies = [c["body"] for c in gh.comments(repo, number) if c["user"]["login"] == gh.bot_login]
    assert any("`.agentops.yml` is a symbolic link" in r for r in replies), replies
    assert_no_canary("the forge", everything_on_the_forge(gh, repo))
