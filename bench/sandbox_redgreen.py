"""Time one red → green proof (two copies of the tree, two sandboxed test runs).

    .venv/bin/python bench/sandbox_redgreen.py BASE CHANGED TEST_ID [--runs N] [--python PREFIX]
        [--mode proof|run-tests|base-copy]

BASE and CHANGED are two checkouts of the same tree (CHANGED adds the test). --python is
the virtualenv whose Python runs the tests (default: this one; `make sandbox-python`
builds .venv-sandbox with pytest only). Modes: `proof` (default) times
`prove_red_green`; `run-tests` one `run_tests` call on CHANGED running TEST_ID (the
model's tool); `base-copy` the original code written out for the red runs
(`workspace.base_copy` of BASE's HEAD, which must be a git checkout).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import git  # noqa: E402
from app.sandbox import (  # noqa: E402
    SandboxPolicy,
    command_from_config,
    prove_red_green,
    run_tests,
    select_tests,
)
from app.workflow import workspace  # noqa: E402


async def once(
    base: Path, changed: Path, test_id: str, python: Path, mode: str
) -> tuple[float, str]:
    command = command_from_config("python -m pytest -q -p no:cacheprovider")
    policy = SandboxPolicy(python_env=python)
    if mode == "base-copy":
        sha = await git.head_sha(base)
        folder = Path(tempfile.mkdtemp(prefix="bench-base-"))
        started = time.perf_counter()
        copy = await workspace.base_copy(folder, base, sha)
        took = time.perf_counter() - started
        files = sum(1 for _ in copy.rglob("*"))
        shutil.rmtree(folder)
        await git.run_git(["worktree", "prune"], cwd=base)
        return took, f"{files} paths"
    started = time.perf_counter()
    if mode == "run-tests":
        done = await run_tests(changed, select_tests(command, [test_id]), policy=policy)
        return time.perf_counter() - started, "passed" if done.passed else "failed"
    proof = await prove_red_green(base, changed, [test_id], command, policy=policy)
    return time.perf_counter() - started, proof.proofs[0].verdict.value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base", type=Path)
    parser.add_argument("changed", type=Path)
    parser.add_argument("test_id")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--python", type=Path, default=Path(sys.prefix))
    parser.add_argument("--mode", choices=("proof", "run-tests", "base-copy"), default="proof")
    args = parser.parse_args()
    files = sum(1 for _ in args.base.rglob("*"))
    python = args.python.absolute()
    results = [
        asyncio.run(once(args.base, args.changed, args.test_id, python, args.mode))
        for _ in range(args.runs)
    ]
    times = [t for t, _ in results]
    print(f"python: {args.python}")
    print(f"tree: {args.base} ({files} paths); verdicts: {sorted({v for _, v in results})}")
    print(
        f"{args.mode}: median {statistics.median(times):.2f} s, "
        f"min {min(times):.2f} s, max {max(times):.2f} s over {args.runs} runs"
    )


if __name__ == "__main__":
    main()
