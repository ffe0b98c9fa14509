"""SWE-bench Lite gold patches through `agentops run`: does the harness prove them?

    .venv/bin/python bench/swebench_gold.py MIRROR [--repo django/django] [--limit N]
        [--tasks ID,ID] [--python-from-version]

A perfect scripted model: for each task of ../shared/bench/swebench-lite-dev.json, the
task's tree at its base commit becomes a local git checkout, and `agentops run` works on
it with a model simulator on loopback that plans in one line, sends the task's test patch
and gold patch through the real `apply_edits` tool (as a unified diff, which the edit
parser takes), and finishes naming the task's FAIL_TO_PASS tests; told that some of them
prove nothing (they pass without the change here too), it finishes again with the proven
ones only. Everything else is the product: the prepare phase (the repository's
dependencies from PyPI through the egress proxy), the test command detection (Django's
`tests/runtests.py`, pytest), red → green in the sandbox, the regression check, the
commit. A task is *proven* when `agentops run` commits; otherwise the script prints why,
in the product's own words.

MIRROR is a bare git repository of the task's source (`sources` in the JSON; the `fetch`
tool brings one). `--python-from-version` writes a `.python-version` for the Python
SWE-bench's harness uses for that release (Django 3.x: 3.6, 4.0: 3.8, 4.1–4.2: 3.9, 5.0:
3.11; requests: 3.9; Flask 2.0: 3.9, 2.3: 3.11), as a repository would pin it; without it
the worker's default Python runs them all.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.implement_script import CODER, PLANNER, llm_env  # noqa: E402
from tests.sim.llm_sim import LLMSimulator, Reply, text, tool_call  # noqa: E402
from tests.sim.serve import serve_app  # noqa: E402

DATA = ROOT.parent / "shared" / "bench" / "swebench-lite-dev.json"
# the Python SWE-bench's harness gives each release (its `MAP_REPO_VERSION_TO_SPECS`)
PYTHONS = {
    "django/django": {"3.0": "3.6", "3.1": "3.6", "3.2": "3.6", "4.0": "3.8", "4.1": "3.9",
                      "4.2": "3.9", "5.0": "3.11"},
    "psf/requests": {"0.14": "3.9", "2.3": "3.9", "2.4": "3.9", "2.7": "3.9", "2.10": "3.9"},
    "pallets/flask": {"2.0": "3.9", "2.3": "3.11"},
}  # fmt: skip


@dataclass
class Outcome:
    task: str
    proven: bool
    seconds: float
    why: str  # the last line the run printed when it did not commit


def test_ids(task: dict[str, object]) -> list[str]:
    """FAIL_TO_PASS as test ids: Django's `test_x (app.tests.Case)` → `app.tests.Case.test_x`
    (a dotted label); pytest's node ids as they are."""
    names: list[str] = json.loads(str(task["fail_to_pass"]))  # a JSON list in a string
    ids = []
    for name in names:
        if " (" in name and name.endswith(")"):
            method, where = name[:-1].split(" (", 1)
            ids.append(f"{where}.{method}")
        else:
            ids.append(name)
    return ids


def make_checkout(mirror: Path, task: dict[str, object], dest: Path, pin_python: bool) -> None:
    dest.mkdir(parents=True)
    archive = subprocess.run(
        ["git", f"--git-dir={mirror}", "archive", str(task["base_commit"])],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    versions = PYTHONS.get(str(task["repo"]), {})
    if pin_python and (python := versions.get(str(task.get("version")))):
        (dest / ".python-version").write_text(python + "\n")

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=dest, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("-c", "user.name=bench", "-c", "user.email=bench@invalid", "commit", "-qm", "base")


class GoldModel(LLMSimulator):
    """The scripted model, and one thing a model does when its `finish` is refused: told
    that some of its tests prove nothing (they pass without the change too), it finishes
    again naming only the proven ones."""

    async def _take(self, api: str, request: Request) -> tuple[dict[str, Any], Reply]:
        body, reply = await super()._take(api, request)
        if body.get("model") == CODER and reply.text.startswith("simulated answer"):
            proven = _proven_tests(body["messages"][-1])
            if proven:
                reply = tool_call("finish", {"summary": "The fix and its tests.", "tests": proven})
        return body, reply


def _proven_tests(message: dict[str, Any]) -> list[str]:
    for part in message.get("content", []):
        text = part.get("content") if isinstance(part, dict) else None
        if isinstance(text, str) and text.startswith("Not finished.") and "passes_on_base" in text:
            return re.findall(r"^\| `([^`]+)` \| proven \|", text, re.MULTILINE)
    return []


def script_model(llm: LLMSimulator, task: dict[str, object]) -> None:
    patch = str(task["test_patch"]).rstrip("\n") + "\n" + str(task["gold_patch"])
    tests = test_ids(task)
    llm.script(PLANNER, text("**Change**\nApply the fix.\n\n**Tests**\n- " + "\n- ".join(tests)))
    llm.script(
        CODER,
        tool_call("apply_edits", {"edits": patch}),
        tool_call("finish", {"summary": "The fix and its tests.", "tests": tests}),
    )


def run_task(
    mirror: Path, task: dict[str, object], work: Path, cache: Path, pin_python: bool
) -> Outcome:
    checkout = work / "checkout"
    make_checkout(mirror, task, checkout, pin_python)
    task_file = work / "task.md"
    task_file.write_text(str(task["problem_statement"]))
    llm = GoldModel()
    script_model(llm, task)
    started = time.perf_counter()
    with serve_app(llm.app) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTOPS_")}
        env |= llm_env(url) | {
            "AGENTOPS_WORKDIR": str(work / "runs"),
            "AGENTOPS_PREPARE_CACHE_DIR": str(cache),
            "AGENTOPS_SANDBOX_PYTHON": os.environ.get(
                "AGENTOPS_SANDBOX_PYTHON", str(ROOT / ".venv-sandbox")
            ),
        }
        done = subprocess.run(
            [sys.executable, "-m", "app", "run", str(checkout), "--task-file", str(task_file)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
    seconds = time.perf_counter() - started
    proven = done.returncode == 0 and "holds commit" in done.stdout
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    why = "" if proven else lines[-1][:300]
    if not proven and (told := _last_answer_to_finish(llm)):
        why += " | " + told
    return Outcome(str(task["instance_id"]), proven, seconds, why)


def _last_answer_to_finish(llm: LLMSimulator) -> str:
    """What the harness told the model when it refused its `finish` (the verdict table)."""
    for request in reversed(llm.requests_for(CODER)):
        for part in request.body["messages"][-1].get("content", []):
            text = part.get("content") if isinstance(part, dict) else None
            if isinstance(text, str) and text.startswith("Not finished."):
                return " ".join(text.split())[: int(os.environ.get("BENCH_WHY_CHARS", "600"))]
    return ""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mirror", type=Path, help="a bare git repository of the source")
    parser.add_argument("--repo", default="django/django")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--tasks", default="", help="instance ids, comma-separated")
    parser.add_argument("--python-from-version", action="store_true")
    args = parser.parse_args()
    tasks = [t for t in json.loads(DATA.read_text())["tasks"] if t["repo"] == args.repo]
    if args.tasks:
        tasks = [t for t in tasks if t["instance_id"] in args.tasks.split(",")]
    tasks = tasks[: args.limit]
    cache = Path(tempfile.mkdtemp(prefix="bench-gold-cache-"))
    outcomes: list[Outcome] = []
    try:
        for task in tasks:
            work = Path(tempfile.mkdtemp(prefix="bench-gold-"))
            try:
                outcome = run_task(args.mirror, task, work, cache, args.python_from_version)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            outcomes.append(outcome)
            state = "proven" if outcome.proven else "NOT proven"
            print(
                f"{outcome.task:28} {state:10} {outcome.seconds:6.1f} s  {outcome.why}", flush=True
            )
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    proven = [o for o in outcomes if o.proven]
    times = [o.seconds for o in outcomes] or [0.0]
    print(
        f"{len(proven)} of {len(outcomes)} {args.repo} tasks proven; "
        f"median {statistics.median(times):.1f} s per task"
    )


if __name__ == "__main__":
    main()
