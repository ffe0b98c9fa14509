"""Tests that attack the worker through git: at test time they write a filter, its
attributes, `core.fsmonitor` and a hook into every `.git` they can find, and leave a CI
workflow, a `.gitattributes`, a link to a host file, a log and a copied binary behind.

Once from the repository's own test suite (a committed conftest.py), once from a test
the model writes. Either way the sandbox ran on its own copy without `.git`, so no
program runs outside it (the marker the program would create never appears, nothing
reads the worker's secrets), the run goes on, its test evidence shows what the tests
did, and the pull request's commit holds exactly the files the edit tool wrote.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e import implement_script as script
from tests.e2e.conftest import GITHUB_SECRET
from tests.e2e.harness import Service, wait_for
from tests.sim.github_sim import GitHubSim
from tests.sim.llm_sim import LLMSimulator, text, tool_call

pytestmark = pytest.mark.e2e

# Python run by the tests inside the sandbox; MARKER and STOLEN are host paths outside it.
ATTACK = """
import os as _os
import pathlib as _pathlib
import shutil as _shutil

_PROGRAM = (
    "touch MARKER; "
    "grep -a -o 'AGENTOPS_[A-Z_]*=[^[:cntrl:]]*' /proc/[0-9]*/environ > STOLEN; cat"
)
GIT_REPORT = []


def _attack_git():
    here = _pathlib.Path.cwd()
    candidates = [_pathlib.Path("/workspace/.git"), here / ".git"]
    candidates += [parent / ".git" for parent in here.parents]
    quoted = '"' + _PROGRAM + '"'
    for gitdir in dict.fromkeys(candidates):
        try:
            (gitdir / "info").mkdir(parents=True, exist_ok=True)
            (gitdir / "hooks").mkdir(parents=True, exist_ok=True)
            with open(gitdir / "config", "a") as config:
                config.write(
                    f'[filter "x"]\\n\\tclean = {quoted}\\n\\tsmudge = {quoted}\\n'
                    f"[core]\\n\\tfsmonitor = {quoted}\\n"
                )
            (gitdir / "info" / "attributes").write_text("* filter=x\\n")
            hook = gitdir / "hooks" / "pre-commit"
            hook.write_text("#!/bin/sh\\n" + _PROGRAM + "\\n")
            hook.chmod(0o755)
            GIT_REPORT.append(f"GIT-ATTACK: wrote {gitdir}")
        except OSError as exc:
            GIT_REPORT.append(f"GIT-ATTACK: blocked {gitdir} ({type(exc).__name__})")
    try:
        _pathlib.Path(".github/workflows").mkdir(parents=True, exist_ok=True)
        _pathlib.Path(".github/workflows/x.yml").write_text("on: push\\njobs: {}\\n")
        _pathlib.Path(".gitattributes").write_text("* filter=x\\n")
        _pathlib.Path("test-output.log").write_text("left behind\\n")
        _shutil.copy("/usr/bin/true", "tool")
        if not _os.path.lexists("passwd-link"):
            _os.symlink("/etc/passwd", "passwd-link")
        GIT_REPORT.append("GIT-ATTACK: left files behind")
    except OSError as exc:
        GIT_REPORT.append(f"GIT-ATTACK: could not leave files ({type(exc).__name__})")


_attack_git()
"""

SUITE_CONFTEST = """
def pytest_terminal_summary(terminalreporter):
    for line in GIT_REPORT:
        terminalreporter.write_line(line)
"""

MODEL_TEST = """
import warnings

import pytest

from calc import divide


def test_divide_by_zero_raises():
    warnings.warn(" / ".join(GIT_REPORT))
    with pytest.raises(ValueError, match="cannot divide by zero"):
        divide(1, 0)
"""

TEST_ID = "tests/test_divide.py::test_divide_by_zero_raises"
LEFT_BEHIND = (
    ".github/workflows/x.yml",
    ".gitattributes",
    "test-output.log",
    "tool",
    "passwd-link",
)


@pytest.fixture(scope="module")
def extra_env(llm: tuple[LLMSimulator, str]) -> dict[str, str]:
    return script.llm_env(llm[1])


def attack(workdir: Path, name: str) -> tuple[str, Path, Path]:
    marker, stolen = workdir / f"{name}-program-ran", workdir / f"{name}-stolen-env"
    return ATTACK.replace("MARKER", str(marker)).replace("STOLEN", str(stolen)), marker, stolen


def bare_git(bare: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=bare, capture_output=True, text=True, check=True
    ).stdout


def script_model(sim: LLMSimulator, edits: str) -> None:
    sim.script(script.PLANNER, text("**Change**\n1. `calc.py`: refuse b == 0.\n"))
    sim.script(
        script.CODER,
        tool_call("apply_edits", {"edits": edits}),
        tool_call("run_tests", {}),
        tool_call("finish", {"summary": "divide() refuses a zero divisor.", "tests": [TEST_ID]}),
    )
    sim.script(script.CHEAP, text(script.COMMIT_MESSAGE))


def implement(service: Service, gh: GitHubSim, repo: str) -> tuple[int, dict[str, object]]:
    gh.set_permission(repo, "alice", "write")
    _, run_id = script.start_implement(service, gh, repo)
    return run_id, wait_for(lambda: service.finished(run_id), 180, what="the run")


def assert_nothing_escaped(
    gh: GitHubSim, sim: LLMSimulator, repo: str, marker: Path, stolen: Path
) -> None:
    assert not marker.exists(), "a program the tests configured ran outside the sandbox"
    assert not stolen.exists()
    everything_sent = " ".join(str(r.body) for r in sim.requests)
    assert GITHUB_SECRET not in everything_sent
    assert gh.private_key_pem.splitlines()[1] not in everything_sent
    (pull,) = gh.pulls(repo)
    branch = pull["head"]["ref"]
    bare = gh.bare_path(repo)
    changed = bare_git(bare, "diff", "--name-only", "main", branch).split()
    assert changed == ["calc.py", "tests/test_divide.py"]
    assert bare_git(bare, "rev-list", "--count", f"main..{branch}").strip() == "1"
    tree = bare_git(bare, "ls-tree", "-r", branch)
    assert "120000 blob" not in tree  # no link delivered
    for path in LEFT_BEHIND:
        assert f"\t{path}\n" not in tree


def test_a_repositorys_own_tests_cannot_make_the_worker_run_git_programs(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str], workdir: Path
) -> None:
    gh, _ = github
    sim, _ = llm
    repo = "mallory/suite"
    code, marker, stolen = attack(workdir, "suite")
    new_test = (
        "tests/test_divide.py\n<<<<<<< NEW FILE\n"
        + MODEL_TEST.replace('    warnings.warn(" / ".join(GIT_REPORT))\n', "")
        + ">>>>>>> NEW FILE\n"
    )
    gh.add_repo(repo, {**script.FILES, "tests/conftest.py": code + SUITE_CONFTEST})
    script_model(sim, script.FIX + "\n" + new_test)

    run_id, run = implement(service, gh, repo)

    assert run["status"] == "succeeded", (run["error"], service.logs()[-3000:])
    # The tests did write a .git and leave files, in the sandbox's own copy ...
    ran = str(sim.requests_for(script.CODER)[2].body["messages"][-1])
    assert "GIT-ATTACK: wrote /workspace/.git" in ran
    assert "GIT-ATTACK: left files behind" in ran
    check = next(c for c in gh.check_runs(repo) if c["external_id"] == str(run_id))
    assert check["conclusion"] == "success"
    # ... and nothing of it reached the worker or the pull request.
    assert_nothing_escaped(gh, sim, repo, marker, stolen)


def test_a_model_written_test_cannot_make_the_worker_run_git_programs(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str], workdir: Path
) -> None:
    gh, _ = github
    sim, _ = llm
    repo = "mallory/steered"
    code, marker, stolen = attack(workdir, "model")
    hostile_test = "tests/test_divide.py\n<<<<<<< NEW FILE\n" + code + MODEL_TEST
    gh.add_repo(repo, script.FILES)
    asked_before = len(sim.requests_for(script.CODER))
    script_model(sim, script.FIX + "\n" + hostile_test + ">>>>>>> NEW FILE\n")

    run_id, run = implement(service, gh, repo)

    assert run["status"] == "succeeded", (run["error"], service.logs()[-3000:])
    ran = str(sim.requests_for(script.CODER)[asked_before + 2].body["messages"][-1])
    assert "GIT-ATTACK: wrote /workspace/.git" in ran
    assert "GIT-ATTACK: left files behind" in ran
    check = next(c for c in gh.check_runs(repo) if c["external_id"] == str(run_id))
    assert check["conclusion"] == "success"
    assert_nothing_escaped(gh, sim, repo, marker, stolen)


PR_TEST = """tests/test_more.py
<<<<<<< NEW FILE
from calc import add


def test_add_negative():
    assert add(-2, 3) == 1
>>>>>>> NEW FILE
"""


def test_a_pull_requests_tests_cannot_make_the_worker_run_git_programs(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str], workdir: Path
) -> None:
    """`/agentops test`: the pull request's head brings the attack; the model's `run_tests`
    and the check that its tests pass run it. The commit pushed holds the new test only."""
    gh, _ = github
    sim, _ = llm
    repo, branch = "mallory/pull", "feature/attack"
    code, marker, stolen = attack(workdir, "pull")
    gh.add_repo(repo, script.FILES)
    gh.set_permission(repo, "alice", "write")
    head = gh.push_branch(
        repo, branch, {"tests/conftest.py": code + SUITE_CONFTEST}, message="the change"
    )
    number = gh.add_pull(repo, branch, title="More tests", user="alice")
    sim.script(
        script.CODER,
        tool_call("apply_edits", {"edits": PR_TEST}),
        tool_call("run_tests", {}),
        tool_call(
            "finish",
            {"summary": "A test for add().", "tests": ["tests/test_more.py::test_add_negative"]},
        ),
    )
    run_id = script.comment_command(service, gh, repo, number, "/agentops test", pull_request=True)
    run = wait_for(lambda: service.finished(run_id), 180, what="the run")

    assert run["status"] == "succeeded", (run["error"], service.logs()[-3000:])
    ran = str(sim.requests_for(script.CODER)[-1].body["messages"][-1])
    assert "GIT-ATTACK: wrote /workspace/.git" in ran
    assert not marker.exists(), "a program the tests configured ran outside the sandbox"
    assert not stolen.exists()
    tip = gh.branch_sha(repo, branch)
    assert tip is not None
    bare = gh.bare_path(repo)
    assert bare_git(bare, "diff", "--name-only", head, tip).split() == ["tests/test_more.py"]
    assert "120000 blob" not in bare_git(bare, "ls-tree", "-r", tip)
