"""File localisation on SWE-bench Lite tasks: Acc@k and MRR, per repository, with ablations.

    .venv/bin/python bench/codemap_locate.py --tasks /work/shared/bench/swebench-lite-dev.json \
        --trees /tmp/swe/trees [--cache /tmp/codemap-cache] [--ablation] [--limit N]

Each task's tree is TREES/<instance_id> (the repository at base_commit; see README).
Candidates are the repository's non-test source files; the issue text is all it reads.
Acc@k: share of tasks whose gold files are all in the top k. MRR: of the first gold file.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

from app.codemap.cache import BlobCache
from app.codemap.discover import SkipRules
from app.codemap.index import build_index
from app.codemap.locate import Locator, Weights

KS = (1, 3, 5, 10)
FULL = Weights()
SETTINGS: dict[str, Weights] = {
    "full": FULL,
    "BM25 only": Weights(
        path=0, frame=0, module=0, stem=0, symbol=0, bm25=1, title=0, outline=0, rare=0, graph=0
    ),
    "mentions only (path, frame, module, stem)": replace(
        FULL, symbol=0, bm25=0, title=0, outline=0, rare=0, graph=0
    ),
    "- title BM25": replace(FULL, title=0),
    "- title BM25 and rare identifiers (the previous defaults)": replace(FULL, title=0, rare=0),
    "- path": replace(FULL, path=0),
    "- traceback frames": replace(FULL, frame=0),
    "- module names": replace(FULL, module=0),
    "- file names": replace(FULL, stem=0),
    "- defined symbols": replace(FULL, symbol=0),
    "- definitions BM25": replace(FULL, outline=0),
    "- BM25": replace(FULL, bm25=0),
    "- rare identifiers": replace(FULL, rare=0),
    "title BM25 at 1.0": replace(FULL, title=1.0),
    "title BM25 at 3.0": replace(FULL, title=3.0),
    "+ graph neighbours (0.25)": replace(FULL, graph=0.25),
    "+ graph neighbours (0.5)": replace(FULL, graph=0.5),
}
# --cross-validate: the weights of the two newest signals are chosen from this grid on
# half of the tasks (best Acc@10, then Acc@5) and measured on the other half.
CV_GRID = {
    f"cv title={title} rare={rare}": replace(FULL, title=title, rare=rare)
    for title in (0.0, 0.5, 1.0, 1.5, 2.0, 3.0)
    for rare in (0.0, 0.25)
}
CV_SPLITS = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=Path, required=True)
    parser.add_argument("--trees", type=Path, required=True)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/codemap-bench-cache"))
    parser.add_argument("--ablation", action="store_true")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--every", type=int, default=1, help="run every n-th task")
    parser.add_argument("--only", default="", help="substring of instance ids to run")
    parser.add_argument("--misses", action="store_true", help="print tasks missed at 5")
    parser.add_argument("--cross-validate", action="store_true", help="two-fold, see CV_GRID")
    args = parser.parse_args()
    tasks = json.loads(args.tasks.read_text())["tasks"]
    tasks = [t for t in tasks if args.only in t["instance_id"]]
    tasks = tasks[:: args.every]
    if args.limit:
        tasks = tasks[: args.limit]
    cache = BlobCache(args.cache)
    settings = SETTINGS if args.ablation else {"full": FULL}
    if args.cross_validate:
        settings = {**settings, **CV_GRID}
    ranks: dict[str, list[tuple[str, list[int | None]]]] = defaultdict(list)
    started = time.perf_counter()
    ranking_seconds = 0.0
    for number, task in enumerate(tasks, 1):
        root = args.trees / task["instance_id"]
        # Test files are never candidates here, so they are not indexed either.
        index = build_index(root, cache, SkipRules(skip_tests=True))
        locator = Locator(index)
        t0 = time.perf_counter()
        evidence = locator.gather(task["problem_statement"])
        gather_seconds = time.perf_counter() - t0
        for name, weights in settings.items():
            t0 = time.perf_counter()
            ranked = locator.rank(evidence, k=50, weights=weights)
            if name == "full":
                ranking_seconds += gather_seconds + time.perf_counter() - t0
            order = [r.path for r in ranked]
            gold_ranks = [order.index(g) + 1 if g in order else None for g in task["gold_files"]]
            ranks[name].append((task["repo"], gold_ranks))
            if name == "full" and args.misses and not _hit(gold_ranks, 5):
                print(
                    f"MISS {task['instance_id']} gold={task['gold_files']} ranks={gold_ranks}"
                    f" top={order[:5]}"
                )
        if number % 10 == 0:
            print(
                f"  {number}/{len(tasks)} tasks, {time.perf_counter() - started:.0f}s", flush=True
            )
    print(
        f"\n{len(tasks)} tasks in {time.perf_counter() - started:.0f}s; "
        f"mean locate() ranking {1000 * ranking_seconds / max(1, len(tasks)):.0f} ms"
    )
    print("\n| setting | tasks | Acc@1 | Acc@3 | Acc@5 | Acc@10 | MRR |")
    print("|---|---|---|---|---|---|---|")
    for name, rows in ranks.items():
        if name in CV_GRID:
            continue
        print(_row(name, rows))
        if name == "full":
            by_repo: dict[str, list[tuple[str, list[int | None]]]] = defaultdict(list)
            for row in rows:
                by_repo[row[0]].append(row)
            for repo, repo_rows in sorted(by_repo.items()):
                print(_row(f"  full: {repo}", repo_rows))
    if args.cross_validate:
        _cross_validate(ranks)


def _cross_validate(ranks: dict[str, list[tuple[str, list[int | None]]]]) -> None:
    """Two-fold cross-validation over CV_SPLITS random halvings (seeded: repeatable)."""
    count = len(ranks["full"])
    rng = random.Random(7)
    chosen: Counter[str] = Counter()
    measured: list[list[float]] = []
    for _ in range(CV_SPLITS):
        order = list(range(count))
        rng.shuffle(order)
        halves = (order[: count // 2], order[count // 2 :])
        for train, test in (halves, halves[::-1]):

            def accuracy(name: str, part: list[int]) -> list[float]:
                rows = [ranks[name][i] for i in part]
                return [sum(_hit(g, k) for _, g in rows) / len(rows) for k in KS]

            best = max(CV_GRID, key=lambda name: accuracy(name, train)[::-1])
            chosen[best] += 1
            measured.append(accuracy(best, test))
    means = [100 * sum(m[i] for m in measured) / len(measured) for i in range(len(KS))]
    print(f"\nTwo-fold cross-validation, {CV_SPLITS} random halvings (weights chosen on one half):")
    print("| measured on the other half | " + " | ".join(f"Acc@{k}" for k in KS) + " |")
    print("|---|" + "---|" * len(KS))
    print("| mean | " + " | ".join(f"{m:.1f}" for m in means) + " |")
    print("chosen: " + ", ".join(f"{name[3:]} ×{n}" for name, n in chosen.most_common()))


def _hit(gold_ranks: list[int | None], k: int) -> bool:
    return all(r is not None and r <= k for r in gold_ranks)


def _row(name: str, rows: list[tuple[str, list[int | None]]]) -> str:
    n = len(rows)
    accs = [100 * sum(_hit(g, k) for _, g in rows) / n for k in KS]
    mrr = sum(1 / min((r for r in g if r), default=float("inf")) for _, g in rows) / n
    return f"| {name} | {n} | " + " | ".join(f"{a:.1f}" for a in accs) + f" | {mrr:.3f} |"


if __name__ == "__main__":
    main()
