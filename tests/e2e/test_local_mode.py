"""`agentops run PATH --task-file F`: the implement workflow on a local checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e import implement_script as script
from tests.e2e.harness import ROOT
from tests.sim.llm_sim import LLMSimulator, text, tool_call
from tests.sim.serve import serve_app

pytestmark = pytest.mark.e2e


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.strip()


def _checkout(path: Path, extra: dict[str, str] | None = None) -> Path:
    path.mkdir()
    for name, content in {**script.FILES, **(extra or {})}.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(content)
    _git(path, "init", "-q", "-b", "main")
    _git(path, "add", "-A")
    _git(
        path,
        "-c",
        "user.name=Dev",
        "-c",
        "user.email=dev@example.invalid",
        "commit",
        "-qm",
        "start",
    )
    return path


def _run_locally(
    checkout: Path, task: Path, llm: LLMSimulator, workdir: Path
) -> subprocess.CompletedProcess[str]:
    """`agentops run CHECKOUT --task-file TASK` against the model simulator `llm`."""
    with serve_app(llm.app) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTOPS_")}
        env |= script.llm_env(url) | {"AGENTOPS_WORKDIR": str(workdir)}
        return subprocess.run(
            [sys.executable, "-m", "app", "run", str(checkout), "--task-file", str(task)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )


def test_run_leaves_a_branch_and_prints_plan_diff_and_evidence(tmp_path: Path) -> None:
    checkout = _checkout(tmp_path / "calc")
    task = tmp_path / "task.md"
    task.write_text(f"{script.ISSUE_TITLE}\n\n{script.ISSUE_BODY}\n")
    head_before = _git(checkout, "rev-parse", "HEAD")
    llm = LLMSimulator()
    script.script_resolution(llm)
    done = _run_locally(checkout, task, llm, tmp_path / "work")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "# Plan" in done.stdout and "`calc.py`, `divide`" in done.stdout
    assert '+        raise ValueError("cannot divide by zero")' in done.stdout
    assert "test_divide_by_zero_raises" in done.stdout.split("# Test evidence")[1]
    assert "indexing" in done.stderr and "committed" in done.stderr  # progress on the terminal

    branch = "agentops/local-divide-should-refuse-a-zero-divisor"
    assert "ValueError" in _git(checkout, "show", f"{branch}:calc.py")
    assert _git(checkout, "rev-list", "--count", f"main..{branch}") == "1"
    assert _git(checkout, "rev-parse", "HEAD") == head_before  # the person's tree untouched
    assert _git(checkout, "status", "--porcelain") == ""
    assert _git(checkout, "worktree", "list").count("\n") == 0

    # the model calls were recorded, and replay answers them all with the simulator gone
    recorded = Path(done.stdout.split("Its model calls are in ")[1].split(":")[0])
    assert recorded.parent == tmp_path / "work" / "local-runs"
    assert recorded.stat().st_mode & 0o077 == 0  # repository code: its owner's only
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTOPS_")}
    replayed = subprocess.run(
        [sys.executable, "-m", "app", "replay", str(recorded), "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert replayed.returncode == 0, replayed.stderr
    report = json.loads(replayed.stdout)
    assert report["calls"] == len(llm.requests) and report["missing"] == 0
    assert report["transcript"][0]["role"] == "planner"


def test_run_outside_a_checkout_says_so_in_one_line(tmp_path: Path) -> None:
    task = tmp_path / "task.md"
    task.write_text("Do something\n")
    done = subprocess.run(
        [sys.executable, "-m", "app", "run", str(tmp_path), "--task-file", str(task)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == f"agentops run: {tmp_path} is not a git checkout"


CUSTOM_RUNNER = """import sys

import pytest

sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "tests"]))
"""


def test_a_runner_that_cannot_select_tests_runs_them_all_instead_of_crashing(
    tmp_path: Path,
) -> None:
    """`test: python run_tests.py` cannot run single tests: when the model asks for some,
    the whole suite runs and the model reads its output (it used to crash the run)."""
    checkout = _checkout(
        tmp_path / "calc",
        {
            "run_tests.py": CUSTOM_RUNNER,
            ".agentops.yml": "test: python run_tests.py\nlimits:\n  max_turns: 4\n",
        },
    )
    task = tmp_path / "task.md"
    task.write_text(f"{script.ISSUE_TITLE}\n\n{script.ISSUE_BODY}\n")
    llm = LLMSimulator()
    llm.script(script.PLANNER, text("**Change**\n1. `calc.py`: refuse b == 0.\n"))
    llm.script(
        script.CODER,
        tool_call("apply_edits", {"edits": script.CHANGE + "\n" + script.REAL_TEST}),
        tool_call("run_tests", {"test_ids": ["tests/test_divide.py::test_divide_works"]}),
    )
    done = _run_locally(checkout, task, llm, tmp_path / "work")
    asked = llm.requests_for(script.CODER)
    assert len(asked) >= 3, done.stderr[-3000:]
    answer = str(asked[2].body["messages"][-1])
    assert "PASSED" in answer and "3 passed" in answer, answer  # the whole suite ran
    # the scripted model then stops: the run ends with that reason, not a crash
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert done.returncode != 0
    assert "the model stopped without calling finish" in done.stderr.strip().splitlines()[-1]
