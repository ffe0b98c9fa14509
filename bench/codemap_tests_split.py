"""Files to change and tests apart (issue #16 §1): what users get, with test files indexed.

    .venv/bin/python bench/codemap_tests_split.py \
        --tasks /work/shared/bench/swebench-lite-dev.json --trees /tmp/swe/trees \
        [--cache /tmp/codemap-split2-cache] [--limit N] [--grid] [--misses]

Every file of the tree is indexed, tests too, as `agentops locate` and the worker do.
Before: one ranking where tests compete with the source (main before the split).
After: the ranking kept to source files (`locate_split`), and the tests list beside it.
Files to change: Acc@k and MRR of the gold files (bench/codemap_locate.py's measures), and
how many of the top 10 slots hold test files. Tests list: share of tasks where a file the
task's `test_patch` changes is among the first 5 / 10 tests, against the issue's words
alone (BM25 over the test files) and the tests in the single ranking's top 10. The tests
list's weights were set on these tasks, so the held-out figure is the two-fold
cross-validation over TEST_GRID (weights chosen on one half, measured on the other).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from app.codemap.cache import BlobCache
from app.codemap.discover import SkipRules
from app.codemap.index import build_index
from app.codemap.locate import Locator
from app.codemap.tests_for import TestWeights, is_source_path, tests_for
from app.test_paths import is_test_path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `bench.` imports when run as a script

from bench.codemap_locate import _row  # noqa: E402

_DIFF_FILE = re.compile(r"^diff --git a/(\S+)", re.MULTILINE)
TEST_GRID = {
    f"issue_words={words} uses={uses} imports={imports}": TestWeights(
        issue_words=words, uses=uses, imports=imports
    )
    for words, uses, imports in itertools.product(
        (3.0, 6.0, 10.0, 20.0), (0.25, 0.5, 1.0), (0.5, 1.0, 2.0)
    )
}
CV_SPLITS = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=Path, required=True)
    parser.add_argument("--trees", type=Path, required=True)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/codemap-split2-cache"))
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--every", type=int, default=1, help="run every n-th task")
    parser.add_argument("--misses", action="store_true", help="print tasks whose test is missed")
    parser.add_argument("--grid", action="store_true", help="TEST_GRID, cross-validated")
    args = parser.parse_args()
    tasks = json.loads(args.tasks.read_text())["tasks"][:: args.every]
    if args.limit:
        tasks = tasks[: args.limit]
    cache = BlobCache(args.cache)
    ranks: dict[str, list[tuple[str, list[int | None]]]] = defaultdict(list)
    test_slots = {"before": 0, "after": 0}
    found: dict[str, list[int]] = defaultdict(list)  # list name → per task: 0/5/10 hit
    findable = 0
    started = time.perf_counter()
    for number, task in enumerate(tasks, 1):
        index = build_index(args.trees / task["instance_id"], cache, SkipRules())
        cache.flush()
        locator = Locator(index)
        text = task["problem_statement"]
        together = [r.path for r in locator.locate(text, k=50)]
        evidence = locator.gather(text, include=is_source_path)
        ranked = locator.rank(evidence, k=50)
        apart = [r.path for r in ranked]
        gold_tests = set(_DIFF_FILE.findall(task["test_patch"])) & set(index.files)
        findable += bool(gold_tests)
        tests = [t.path for t in tests_for(locator, ranked[:10], evidence.query, k=10)]
        if args.grid:
            for name, weights in TEST_GRID.items():
                other = tests_for(locator, ranked[:10], evidence.query, 10, weights)
                found[name].append(_first_hit([t.path for t in other], gold_tests))
        words = locator.lexical.scores(evidence.query)
        by_words = sorted((p for p in words if is_test_path(p)), key=lambda p: -words[p])[:10]
        for name, order in (("before: tests compete", together), ("after: source only", apart)):
            gold = [order.index(g) + 1 if g in order else None for g in task["gold_files"]]
            ranks[name].append((task["repo"], gold))
        test_slots["before"] += sum(map(is_test_path, together[:10]))
        test_slots["after"] += sum(map(is_test_path, apart[:10]))
        for name, listed in (
            ("tests list (after)", tests),
            ("issue words alone (BM25 over tests)", by_words),
            ("test files in the single ranking (before)", together[:10]),
        ):
            found[name].append(_first_hit(listed, gold_tests))
        if args.misses and gold_tests and found["tests list (after)"][-1] == 0:
            print(f"MISS {task['instance_id']} gold={sorted(gold_tests)} tests={tests[:5]}")
        if number % 10 == 0:
            print(
                f"  {number}/{len(tasks)} tasks, {time.perf_counter() - started:.0f}s", flush=True
            )
    count = len(tasks)
    print(f"\n{count} tasks in {time.perf_counter() - started:.0f}s; every file indexed, tests too")
    print("\nFiles to change:\n\n| ranking | tasks | Acc@1 | Acc@3 | Acc@5 | Acc@10 | MRR |")
    print("|---|---|---|---|---|---|---|")
    for name, rows in ranks.items():
        print(_row(name, rows))
    print(
        f"\nTop-10 slots taken by test files: before {test_slots['before'] / count:.1f} of 10, "
        f"after {test_slots['after'] / count:.1f}"
    )
    print(
        f"\nTests: a file the task's test_patch changes, among the first k "
        f"({findable} of {count} tasks change a test file that exists at base_commit)\n"
    )
    print(
        "| list | in top 5 (all tasks) | in top 10 (all) | top 5 (findable) | top 10 (findable) |"
    )
    print("|---|---|---|---|---|")
    for name, hits in found.items():
        if name in TEST_GRID:
            continue
        at5 = sum(0 < h <= 5 for h in hits)
        at10 = sum(0 < h <= 10 for h in hits)
        print(
            f"| {name} | {100 * at5 / count:.1f} | {100 * at10 / count:.1f} | "
            f"{100 * at5 / max(1, findable):.1f} | {100 * at10 / max(1, findable):.1f} |"
        )
    if args.grid:
        _cross_validate(found, count)


def _cross_validate(found: dict[str, list[int]], count: int) -> None:
    """Two-fold cross-validation of the tests list's weights over CV_SPLITS random halvings
    (seeded): chosen by top 10, then top 5, on one half; measured on the other."""
    rng = random.Random(7)
    chosen: Counter[str] = Counter()
    measured: list[tuple[float, float]] = []

    def share(name: str, part: list[int], k: int) -> float:
        return sum(0 < found[name][i] <= k for i in part) / len(part)

    for _ in range(CV_SPLITS):
        order = list(range(count))
        rng.shuffle(order)
        halves = (order[: count // 2], order[count // 2 :])
        for train, test in (halves, halves[::-1]):
            best = max(TEST_GRID, key=lambda name: (share(name, train, 10), share(name, train, 5)))
            chosen[best] += 1
            measured.append((share(best, test, 5), share(best, test, 10)))
    at5 = 100 * sum(m[0] for m in measured) / len(measured)
    at10 = 100 * sum(m[1] for m in measured) / len(measured)
    print(f"\nTests list, two-fold cross-validation ({CV_SPLITS} halvings), all tasks:")
    print(f"held out: in top 5 {at5:.1f}, in top 10 {at10:.1f}")
    print("chosen: " + ", ".join(f"{name} ×{n}" for name, n in chosen.most_common()))
    for name in TEST_GRID:
        hits = found[name]
        print(
            f"  {name}: top 5 {100 * sum(0 < h <= 5 for h in hits) / count:.1f}, "
            f"top 10 {100 * sum(0 < h <= 10 for h in hits) / count:.1f}"
        )


def _first_hit(listed: list[str], gold: set[str]) -> int:
    """1-based position of the first gold file in the list, 0 when none is listed."""
    return next((i for i, path in enumerate(listed, 1) if path in gold), 0)


if __name__ == "__main__":
    main()
