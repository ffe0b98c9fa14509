"""Time one red → green proof (two copies of the tree, two sandboxed test runs).

    .venv/bin/python bench/sandbox_redgreen.py BASE CHANGED TEST_ID [--runs N] [--python PREFIX]

BASE and CHANGED are two checkouts of the same tree (CHANGED adds the test). --python is
the virtualenv whose Python runs the tests (default: this one; `make sandbox-python`
builds .venv-sandbox with pytest only).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.sandbox import SandboxPolicy, command_from_config, prove_red_green  # noqa: E402


async def once(base: Path, changed: Path, test_id: str, python: Path) -> tuple[float, str]:
    command = command_from_config("python -m pytest -q -p no:cacheprovider")
    started = time.perf_counter()
    proof = await prove_red_green(
        base, changed, [test_id], command, policy=SandboxPolicy(python_env=python)
    )
    return time.perf_counter() - started, proof.proofs[0].verdict.value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("base", type=Path)
    parser.add_argument("changed", type=Path)
    parser.add_argument("test_id")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--python", type=Path, default=Path(sys.prefix))
    args = parser.parse_args()
    files = sum(1 for _ in args.base.rglob("*"))
    results = [
        asyncio.run(once(args.base, args.changed, args.test_id, args.python.absolute()))
        for _ in range(args.runs)
    ]
    times = [t for t, _ in results]
    print(f"python: {args.python}")
    print(f"tree: {args.base} ({files} paths); verdicts: {sorted({v for _, v in results})}")
    print(
        f"red→green proof: median {statistics.median(times):.2f} s, "
        f"min {min(times):.2f} s, max {max(times):.2f} s over {args.runs} runs"
    )


if __name__ == "__main__":
    main()
