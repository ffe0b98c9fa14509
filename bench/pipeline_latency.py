"""Time from webhook to pull request, split by step, with a scripted model answering at once.

Real processes (web, worker), real PostgreSQL and Redis, the GitHub and LLM simulators on
loopback, real git and the real sandbox. The model's answers are scripted, so what is
measured is AgentOps itself: intake, queue, clone, index, locate, plan and implement
bookkeeping, the sandboxed test runs, commit, push and the pull request.

    .venv/bin/python bench/pipeline_latency.py                  # a small Python repository
    .venv/bin/python bench/pipeline_latency.py --tree DIR       # any source tree, e.g. Django
    .venv/bin/python bench/pipeline_latency.py --runs 3

The scripted change adds a module and its test (new files), so it applies to any tree; the
test command is set in the tree's `.agentops.yml`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.store.migrations import apply_migrations, ensure_database  # noqa: E402
from tests.conftest import PG_BASE, drop_database  # noqa: E402
from tests.e2e import github_events as events  # noqa: E402
from tests.e2e.harness import RedisServer, Service, base_env, github_env, wait_for  # noqa: E402
from tests.sim.github import GitHubSim  # noqa: E402
from tests.sim.llm_sim import LLMSimulator, text, tool_call  # noqa: E402
from tests.sim.serve import serve_app  # noqa: E402

SECRET = "bench-webhook-secret"
SMALL = {
    "shapes.py": "def area(w, h):\n    return w * h\n",
    "tests/test_shapes.py": "from shapes import area\n\n\ndef test_area():\n"
    "    assert area(2, 3) == 6\n",
}
FEATURE = """agentops_bench/feature.py
<<<<<<< NEW FILE
def answer():
    return 42
>>>>>>> NEW FILE

agentops_bench/__init__.py
<<<<<<< NEW FILE
>>>>>>> NEW FILE

agentops_bench/test_feature.py
<<<<<<< NEW FILE
from agentops_bench.feature import answer


def test_answer():
    assert answer() == 42
>>>>>>> NEW FILE
"""
CONFIG = "test: python -m pytest -q -p no:cacheprovider agentops_bench\n"


def read_tree(tree: Path) -> dict[str, str]:
    files: dict[str, str] = {}
    for path in sorted(tree.rglob("*")):
        if path.is_file() and ".git" not in path.parts:
            try:
                files[path.relative_to(tree).as_posix()] = path.read_text(encoding="utf-8")
            except (UnicodeDecodeError, OSError):
                continue
    return files


def script(llm: LLMSimulator) -> None:
    llm.script("bench-planner", text("**Change**\n1. add `agentops_bench/feature.py`."))
    llm.script(
        "bench-coder",
        tool_call("apply_edits", {"edits": FEATURE}),
        tool_call(
            "finish",
            {"summary": "adds answer()", "tests": ["agentops_bench/test_feature.py::test_answer"]},
        ),
    )
    llm.script("bench-cheap", text("feat: add answer()"))


def llm_env(url: str) -> dict[str, str]:
    return {
        "AGENTOPS_ANTHROPIC_API_KEY": "sk-ant-bench-000000000000000000000",
        "AGENTOPS_ANTHROPIC_BASE_URL": url,
        "AGENTOPS_LLM_MODELS": '{"planner": ["anthropic:bench-planner"], '
        '"coder": ["anthropic:bench-coder"], '
        '"reviewer": ["anthropic:bench-planner"], '
        '"cheap": ["anthropic:bench-cheap"]}',
    }


def seconds(step: dict[str, Any]) -> float:
    return float(step["seconds"] or 0.0)


def one_run(service: Service, gh: GitHubSim, llm: LLMSimulator, repo: str) -> dict[str, float]:
    number = gh.add_issue(
        repo, f"Add answer {uuid.uuid4().hex[:6]}", "answer() returns 42", user="alice"
    )
    script(llm)
    comment_id = gh.add_comment(repo, number, "/agentops implement", user="alice")
    payload = events.issue_comment(
        repo,
        gh.installation_id(repo),
        number,
        "/agentops implement",
        "alice",
        comment_id=comment_id,
    )
    before = len(gh.pulls(repo))
    started = time.perf_counter()
    response = service.post_github("issue_comment", payload, SECRET)
    accepted = time.perf_counter() - started
    run_id = int(response.text.split()[-1])
    wait_for(lambda: len(gh.pulls(repo)) > before, 600, interval=0.02, what="the pull request")
    total = time.perf_counter() - started
    run = wait_for(
        lambda: (
            (r := service.api(f"/api/runs/{run_id}", "bench-admin"))["status"] != "running" and r
        ),
        60,
    )
    if run["status"] != "succeeded":
        raise SystemExit(f"run {run_id} {run['status']}: {run['error']}")
    created = datetime.fromisoformat(run["created_at"])
    first_step = min(datetime.fromisoformat(s["started_at"]) for s in run["steps"])
    figures = {
        "webhook answered": accepted,
        "queue → worker": (first_step - created).total_seconds(),
    }
    for step in run["steps"]:
        figures[step["name"]] = seconds(step)
    figures["webhook → pull request"] = total
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, help="a source tree to use (default: small)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    files = read_tree(args.tree) if args.tree else dict(SMALL)
    files[".agentops.yml"] = CONFIG
    name = args.tree.name if args.tree else "small"
    work = Path(tempfile.mkdtemp(prefix="agentops-bench-"))
    db_name = f"agentops_bench_{uuid.uuid4().hex[:8]}"
    database_url = f"{PG_BASE}/{db_name}"
    asyncio.run(ensure_database(database_url))
    asyncio.run(apply_migrations(database_url))
    redis = RedisServer(work)
    redis.start()
    gh = GitHubSim(work / "github")
    llm = LLMSimulator()
    repo = f"bench/{name.lower()}"
    gh.add_repo(repo, files)
    gh.set_permission(repo, "alice", "write")
    print(f"repository: {name}, {len(files)} text files; {args.runs} runs")
    try:
        with serve_app(gh.app) as gh_url, serve_app(llm.app) as llm_url:
            env = base_env(database_url, redis.url, work)
            env |= llm_env(llm_url) | github_env(gh, gh_url, SECRET)
            env["AGENTOPS_ADMIN_TOKEN"] = "bench-admin"
            service = Service(env, work)
            service.start()
            wait_for(
                lambda: "Starting worker" in service.worker.output(), 60, what="the worker to start"
            )
            try:
                results = [one_run(service, gh, llm, repo) for _ in range(args.runs)]
            finally:
                service.stop()
    finally:
        redis.stop()
        asyncio.run(drop_database(db_name))
    print(f"{'step':<24} {'median s':>9} {'min s':>8} {'max s':>8}")
    for key in results[0]:
        values = [r.get(key, 0.0) for r in results]
        print(
            f"{key:<24} {statistics.median(values):>9.3f} {min(values):>8.3f} {max(values):>8.3f}"
        )


if __name__ == "__main__":
    main()
