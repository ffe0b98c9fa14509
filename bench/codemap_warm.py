"""A warm, resident index against today's `locate` per run, and the cache's growth.

    .venv/bin/python bench/codemap_warm.py --mirror GIT_DIR --commit SHA \
        [--growth TREES_DIR] [--count N] [--cap-mb MB]

Part 1 clones GIT_DIR (a bare mirror, e.g. of Django) at SHA's parent and at SHA, as the
worker does, each into a new folder, and with a warm blob cache times (wall and CPU):
today's analysis (index the folder, build the ranking, one query), a query on a commit the
resident indexes know, and the one-commit update to SHA, beside a cold build of SHA; it
checks that the updated index ranks as the cold one does. Part 2 indexes N trees of
TREES_DIR the way the worker did (a new folder per run, deleted afterwards) and prints
the cache's size: without a cap, after `prune`, and with a cap of MB.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from app.codemap.cache import BlobCache
from app.codemap.index import build_index
from app.codemap.locate import Locator, RankedFile
from app.codemap.resident import RepositoryIdentity, ResidentIndexes, TreeSource

T = TypeVar("T")
ISSUES = (
    "QuerySet.filter() crashes with Q objects combined with |\n\nUsing Q(a=1) | Q(b=2) "
    "in filter() on a related field raises TypeError in django/db/models/query.py",
    "Admin changelist ignores Meta.ordering\n\nModelAdmin.get_ordering() returns an "
    "empty tuple and the changelist falls back to -pk.",
    "AlterField on a renamed related model with db_table is not a noop\n\nRenaming a "
    "model that has a custom db_table makes the migration autodetector alter fields.",
)


def timed(work: Callable[[], T]) -> tuple[T, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def clone(mirror: Path, commit: str, into: Path) -> Path:
    subprocess.run(["git", "clone", "-q", "--no-checkout", "--shared", str(mirror), str(into)])
    subprocess.run(["git", "-C", str(into), "checkout", "-q", "--detach", commit], check=True)
    return into


def ranking(locator: Locator) -> list[list[str]]:
    return [[r.path for r in locator.locate(text, k=10)] for text in ISSUES]


def query(locator: Locator) -> list[RankedFile]:
    return locator.locate(ISSUES[0], k=10)


def _ask(indexes: ResidentIndexes, source: TreeSource, root: Path, text: str) -> object:
    return indexes.locator(source, root).locate(text, k=10)


def part1(mirror: Path, commit: str, scratch: Path) -> None:
    parent = subprocess.run(
        ["git", "--git-dir", str(mirror), "rev-parse", f"{commit}^"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    a1, a2 = clone(mirror, parent, scratch / "a1"), clone(mirror, parent, scratch / "a2")
    b = clone(mirror, commit, scratch / "b")
    cache = BlobCache(scratch / "cache")
    _, wall, cpu = timed(lambda: query(Locator(build_index(a1, cache))))
    cache.flush()
    print(f"cold build + query (empty cache)        {wall:6.2f} s wall {cpu:6.2f} s CPU")
    _, wall, cpu = timed(lambda: query(Locator(build_index(a2, cache))))
    print(f"today: new folder, warm cache, + query  {wall:6.2f} s wall {cpu:6.2f} s CPU")
    indexes = ResidentIndexes(cache)
    who = RepositoryIdentity(1, "github", "django/django")
    _, wall, cpu = timed(lambda: query(indexes.locator(TreeSource(who, parent), a1)))
    print(f"resident: first build in the process    {wall:6.2f} s wall {cpu:6.2f} s CPU")
    for number, text in enumerate((ISSUES[1], ISSUES[2], ISSUES[0]), 1):
        ask = functools.partial(_ask, indexes, TreeSource(who, parent), a2, text)
        _, wall, cpu = timed(ask)
        seen = "asked before" if text == ISSUES[0] else "new text"
        print(
            f"resident: known commit, query {number} ({seen:12}) {wall:.3f} s wall {cpu:.3f} s CPU"
        )
    updated, wall, cpu = timed(lambda: indexes.locator(TreeSource(who, commit), b))
    stats = updated.index.stats
    print(
        f"resident: one-commit update            {wall:6.3f} s wall {cpu:6.3f} s CPU "
        f"(parsed {stats.parsed} files, read {stats.bytes_read} bytes)"
    )
    _, wall, cpu = timed(lambda: query(updated))
    print(f"          then its first query          {wall:6.3f} s wall {cpu:6.3f} s CPU")
    _, wall, cpu = timed(lambda: query(Locator(build_index(b, cache))))
    print(f"today: that commit, warm cache, + query {wall:6.2f} s wall {cpu:6.2f} s CPU")
    cold_b = Locator(build_index(b, None))
    same = ranking(updated) == ranking(cold_b)
    print(f"updated index ranks as a cold build of it: {same}")
    cache.close()


def size_mb(directory: Path) -> float:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file()) / 1e6


def grow(trees: list[Path], scratch: Path, cache: BlobCache) -> float:
    """Index each tree in a new folder (a hard-linked copy), then delete it; the largest
    size the cache reached."""
    largest = 0.0
    for number, tree in enumerate(trees):
        folder = scratch / f"run-{number}"
        subprocess.run(["cp", "-al", str(tree), str(folder)], check=True)
        build_index(folder, cache).all_words()  # what a run's analysis writes
        cache.flush()
        shutil.rmtree(folder)
        largest = max(largest, size_mb(Path(cache.root)))
    return largest


def part2(trees_dir: Path, count: int, cap_mb: int, scratch: Path) -> None:
    trees = sorted(p for p in trees_dir.iterdir() if p.is_dir())
    trees = trees[:: max(1, len(trees) // count)][:count]  # spread over the repositories
    before = BlobCache(scratch / "before")
    _, wall, _cpu = timed(lambda: grow(trees, scratch, before))
    snapshots = sum(f.stat().st_size for f in Path(before.root).glob("*.marshal")) / 1e6
    print(
        f"{len(trees)} trees, no cap: cache {size_mb(Path(before.root)):.0f} MB "
        f"(snapshots {snapshots:.0f} MB) in {wall:.0f} s"
    )
    removed = before.prune()
    before.close()
    print(
        f"after prune: {size_mb(Path(before.root)):.0f} MB "
        f"({len(removed.files)} files, {removed.entries} entries removed)"
    )
    capped = BlobCache(scratch / "capped", max_bytes=cap_mb * 1_000_000)
    largest, wall, _cpu = timed(lambda: grow(trees, scratch, capped))
    capped.close()
    print(
        f"{len(trees)} trees, cap {cap_mb} MB: largest {largest:.0f} MB, at the end "
        f"{size_mb(Path(capped.root)):.0f} MB, {capped.evicted.entries} entries and "
        f"{len(capped.evicted.files)} snapshot files evicted, in {wall:.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--mirror", type=Path)
    parser.add_argument("--commit")
    parser.add_argument("--growth", type=Path, help="a directory of source trees")
    parser.add_argument("--count", type=int, default=140)
    parser.add_argument("--cap-mb", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="codemap-warm-") as scratch:
        if args.mirror and args.commit:
            part1(args.mirror, args.commit, Path(scratch))
        if args.growth:
            part2(args.growth, args.count, args.cap_mb, Path(scratch))


if __name__ == "__main__":
    main()
