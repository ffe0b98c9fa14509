"""File localisation on SWE-bench Lite tasks: Acc@k and MRR, per repository, with ablations.

    .venv/bin/python bench/codemap_locate.py --tasks /work/shared/bench/swebench-lite-dev.json \
        --trees /tmp/swe/trees [--tasks /tmp/devset2.json --trees /tmp/devset2/trees] \
        [--cache /tmp/codemap-cache] [--ablation] [--cross-validate] [--limit N]

Each task's tree is TREES/<instance_id> (the repository at base_commit; see README).
Candidates are the repository's non-test source files; the issue text is all it reads.
Acc@k: share of tasks whose gold files are all in the top k. MRR: of the first gold file.
Where some tasks have more than one gold file, the same figures on the one-gold-file tasks
alone follow (a task with two gold files can never be a hit at 1).
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

from app.codemap.cache import BlobCache
from app.codemap.discover import SkipRules
from app.codemap.index import build_index
from app.codemap.locate import Locator, Weights

KS = (1, 3, 5, 10)
FULL = Weights()
Row = tuple[str, list[int | None]]  # repository, the gold files' ranks (None: not in 50)
SETTINGS: dict[str, Weights] = {
    "full": FULL,
    "BM25 only": Weights(
        path=0, frame=0, module=0, stem=0, symbol=0, bm25=1, title=0, outline=0, rare=0,
        option=0, message=0, api=0, graph=0, docs=0, prose_name=0, module_tail=0,
    ),
    "mentions only (path, frame, module, stem)": replace(
        FULL, symbol=0, bm25=0, title=0, outline=0, rare=0, option=0, message=0, api=0,
        graph=0, docs=0, prose_name=0,
    ),
    "- prose names and module tails (the previous defaults)": replace(
        FULL, prose_name=0, module_tail=0
    ),
    "- options, messages, docs prior, prose names, module tails (before 4 Dec)": replace(
        FULL, option=0, message=0, api=0, docs=0, prose_name=0, module_tail=0
    ),
    "- hyphenated names in prose": replace(FULL, prose_name=0),
    "hyphenated names in prose at 4.0": replace(FULL, prose_name=4.0),
    "- module paths without their top package": replace(FULL, module_tail=0),
    "module paths without their top package at 2.0": replace(FULL, module_tail=2.0),
    "- options and config keys": replace(FULL, option=0),
    "- quoted messages": replace(FULL, message=0),
    "+ public API through imports (1.0)": replace(FULL, api=1.0),
    "options and config keys at 2.0": replace(FULL, option=2.0),
    "- title BM25": replace(FULL, title=0),
    "- path": replace(FULL, path=0),
    "- traceback frames": replace(FULL, frame=0),
    "- module names": replace(FULL, module=0),
    "- file names": replace(FULL, stem=0),
    "- defined symbols": replace(FULL, symbol=0),
    "- definitions BM25": replace(FULL, outline=0),
    "- BM25": replace(FULL, bm25=0),
    "- rare identifiers": replace(FULL, rare=0),
    "+ graph neighbours (0.25)": replace(FULL, graph=0.25),
    "- docs and examples prior": replace(FULL, docs=0),
    "docs and examples prior at 0.5": replace(FULL, docs=0.5),
    "title BM25 at 1.0": replace(FULL, title=1.0),
}  # fmt: skip
# --cross-validate: the weights of the newest signals are chosen from this grid on one
# part of the tasks (best Acc@10, then Acc@5, ...; ties to the grid's first, the lower
# weights) and measured on the other: random halves of each set, and one whole set against
# the other when two are given. The previous grid (option, message, api, docs) and what it
# chose are in bench/README.md; its signals stay at their defaults here.
CV_GRID = {
    f"cv prose_name={n} module_tail={t}": replace(FULL, prose_name=n, module_tail=t)
    for n in (0.0, 1.0, 2.0, 4.0)
    for t in (0.0, 0.5, 1.0, 2.0)
}
CV_SPLITS = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=Path, action="append", required=True)
    parser.add_argument("--trees", type=Path, action="append", required=True)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/codemap-bench-cache"))
    parser.add_argument("--ablation", action="store_true")
    parser.add_argument("--limit", type=int, default=0, help="the first n tasks of each set")
    parser.add_argument("--every", type=int, default=1, help="run every n-th task")
    parser.add_argument("--only", default="", help="substring of instance ids to run")
    parser.add_argument("--misses", action="store_true", help="print tasks missed at 5")
    parser.add_argument("--cross-validate", action="store_true", help="see CV_GRID")
    args = parser.parse_args()
    if len(args.tasks) != len(args.trees):
        parser.error("give one --trees for each --tasks, in the same order")
    settings = SETTINGS if args.ablation else {"full": FULL}
    if args.cross_validate:
        settings = {**settings, **CV_GRID}
    cache = BlobCache(args.cache)
    by_set: dict[str, dict[str, list[Row]]] = {}
    for tasks_file, trees in zip(args.tasks, args.trees, strict=True):
        tasks = json.loads(tasks_file.read_text())["tasks"]
        tasks = [t for t in tasks if args.only in t["instance_id"]][:: args.every]
        if args.limit:
            tasks = tasks[: args.limit]
        print(f"## {tasks_file.name}: {len(tasks)} tasks")
        by_set[tasks_file.name] = _run(tasks, trees, cache, settings, args.misses)
    for name, ranks in by_set.items():
        print(f"\n{name}\n\n| setting | tasks | Acc@1 | Acc@3 | Acc@5 | Acc@10 | MRR |")
        print("|---|---|---|---|---|---|---|")
        for setting, rows in ranks.items():
            if setting in CV_GRID:
                continue
            print(_row(setting, rows))
            if setting == "full":
                by_repo: dict[str, list[Row]] = defaultdict(list)
                for row in rows:
                    by_repo[row[0]].append(row)
                for repo, repo_rows in sorted(by_repo.items()):
                    print(_row(f"  full: {repo}", repo_rows))
                _print_one_gold(rows)
        if args.cross_validate:
            _cross_validate(name, ranks)
    if args.cross_validate and len(by_set) > 1:
        _cross_set(by_set)


def _run(
    tasks: list[dict[str, Any]],
    trees: Path,
    cache: BlobCache,
    settings: dict[str, Weights],
    misses: bool,
) -> dict[str, list[Row]]:
    ranks: dict[str, list[Row]] = defaultdict(list)
    started = time.perf_counter()
    ranking_seconds = 0.0
    for number, task in enumerate(tasks, 1):
        # Test files are never candidates here, so they are not indexed either.
        index = build_index(trees / task["instance_id"], cache, SkipRules(skip_tests=True))
        locator = Locator(index)
        t0 = time.perf_counter()
        evidence = locator.gather(task["problem_statement"])
        gather_seconds = time.perf_counter() - t0
        for name, weights in settings.items():
            t0 = time.perf_counter()
            ranked = locator.rank(evidence, k=50, weights=weights, with_symbols=name == "full")
            if name == "full":
                ranking_seconds += gather_seconds + time.perf_counter() - t0
            order = [r.path for r in ranked]
            gold_ranks = [order.index(g) + 1 if g in order else None for g in task["gold_files"]]
            ranks[name].append((task["repo"], gold_ranks))
            if name == "full" and misses and not _hit(gold_ranks, 5):
                print(
                    f"MISS {task['instance_id']} gold={task['gold_files']} ranks={gold_ranks}"
                    f" top={order[:5]}"
                )
        if number % 10 == 0:
            print(
                f"  {number}/{len(tasks)} tasks, {time.perf_counter() - started:.0f}s", flush=True
            )
    print(
        f"{len(tasks)} tasks in {time.perf_counter() - started:.0f}s; "
        f"mean locate() ranking {1000 * ranking_seconds / max(1, len(tasks)):.0f} ms"
    )
    return ranks


def _accuracy(rows: list[Row]) -> list[float]:
    return [sum(_hit(g, k) for _, g in rows) / len(rows) for k in KS]


def _best(ranks: dict[str, list[Row]], part: list[int]) -> str:
    """The grid setting with the best Acc@10 on these tasks, then Acc@5, @3, @1."""
    return max(CV_GRID, key=lambda name: _accuracy([ranks[name][i] for i in part])[::-1])


def _cross_validate(set_name: str, ranks: dict[str, list[Row]]) -> None:
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
            best = _best(ranks, train)
            chosen[best] += 1
            measured.append(_accuracy([ranks[best][i] for i in test]))
    means = [100 * sum(m[i] for m in measured) / len(measured) for i in range(len(KS))]
    print(f"\n{set_name}: two-fold, {CV_SPLITS} random halvings (chosen on one half):")
    print("| measured on the other half | " + " | ".join(f"Acc@{k}" for k in KS) + " |")
    print("|---|" + "---|" * len(KS))
    print("| mean | " + " | ".join(f"{m:.1f}" for m in means) + " |")
    print("chosen: " + ", ".join(f"{name[3:]} ×{n}" for name, n in chosen.most_common(5)))


def _cross_set(by_set: dict[str, dict[str, list[Row]]]) -> None:
    """Weights chosen on one whole set, measured on each other set; then the grid's
    settings by their worst Acc@10 (then Acc@5, ...) over the sets."""
    sets = list(by_set.values())

    def worst(name: str) -> list[float]:
        per_set = [_accuracy(ranks[name]) for ranks in sets]
        return [min(accs[i] for accs in per_set) for i in range(len(KS))][::-1]

    joint = sorted(CV_GRID, key=worst, reverse=True)
    print("\n| setting (each set's Acc@1/3/5/10) | " + " | ".join(by_set) + " |")
    print("|---|" + "---|" * len(sets))
    for name in joint[:8]:
        cells = [" / ".join(f"{100 * a:.1f}" for a in _accuracy(r[name])) for r in sets]
        print(f"| {name[3:]} | " + " | ".join(cells) + " |")
    print("\n| chosen on | weights | measured on | " + " | ".join(f"Acc@{k}" for k in KS) + " |")
    print("|---|---|---|" + "---|" * len(KS))
    for train, train_ranks in by_set.items():
        best = _best(train_ranks, list(range(len(train_ranks["full"]))))
        for test, test_ranks in by_set.items():
            if test != train:
                accs = _accuracy(test_ranks[best])
                figures = " | ".join(f"{100 * a:.1f}" for a in accs)
                print(f"| {train} | {best[3:]} | {test} | {figures} |")


def _print_one_gold(rows: list[Row]) -> None:
    """Acc@k needs every gold file in the top k, so a task with two or three gold files is
    never a hit at 1: the share of one-gold-file tasks is the ceiling of Acc@1. The same
    figures on those tasks alone, per repository, tell a ranking miss from that ceiling."""
    single = [row for row in rows if len(row[1]) == 1]
    if not single or len(single) == len(rows):
        return
    print(f"Acc@1 ceiling (tasks with one gold file): {100 * len(single) / len(rows):.1f}")
    print(_row("full, one gold file", single))
    by_repo: dict[str, list[Row]] = defaultdict(list)
    for row in single:
        by_repo[row[0]].append(row)
    for repo, repo_rows in sorted(by_repo.items()):
        print(_row(f"  full, one gold file: {repo}", repo_rows))


def _hit(gold_ranks: list[int | None], k: int) -> bool:
    return all(r is not None and r <= k for r in gold_ranks)


def _row(name: str, rows: list[Row]) -> str:
    n = len(rows)
    accs = [100 * sum(_hit(g, k) for _, g in rows) / n for k in KS]
    mrr = sum(1 / min((r for r in g if r), default=float("inf")) for _, g in rows) / n
    return f"| {name} | {n} | " + " | ".join(f"{a:.1f}" for a in accs) + f" | {mrr:.3f} |"


if __name__ == "__main__":
    main()
