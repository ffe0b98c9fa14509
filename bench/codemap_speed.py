"""Index speed on a large real tree, and the incremental re-index after a release step.

    .venv/bin/python bench/codemap_speed.py OLD_TREE [NEW_TREE] [--issue-file F]

e.g. OLD_TREE=/tmp/sdists/Django-5.0, NEW_TREE=/tmp/sdists/Django-5.0.1 (PyPI sdists:
`pip download --no-deps --no-binary :all: django==5.0`, then untar). Prints: the cold
index (empty cache), the raw tree-sitter parse of the same files measured in the same run
(the floor), a re-index of the unchanged tree, a re-index of a copy of OLD_TREE updated in
place to NEW_TREE (the next release), an index of NEW_TREE in its own directory, graph and
BM25 preparation, one `locate` ranking, and peak memory. Single process; timings are the
fastest of --repeat runs and include writing the cache (the entries and the tree snapshot
are written by a background thread; the time runs until they are on disk).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from app.codemap.cache import BlobCache
from app.codemap.discover import SkipRules, discover_files
from app.codemap.extract import content_skip_reason
from app.codemap.graph import build_graph
from app.codemap.index import RepoIndex, build_index
from app.codemap.languages import load_language
from app.codemap.locate import Locator

DEFAULT_ISSUE = """\
simplify() raises RecursionError on a Piecewise with nested Min/Max

Calling `simplify` on the expression below never returns and ends in a RecursionError.

```
>>> from sympy import symbols, Piecewise, Min, Max, simplify
>>> x = symbols('x')
>>> simplify(Piecewise((Min(x, Max(x, 1)), x > 0), (0, True)))
Traceback (most recent call last):
  File "sympy/simplify/simplify.py", line 640, in simplify
    expr = piecewise_fold(expr)
  File "sympy/functions/elementary/piecewise.py", line 1160, in piecewise_fold
    new_args = [piecewise_fold(a) for a in expr.args]
  File "sympy/functions/elementary/miscellaneous.py", line 391, in __new__
    args = cls._collapse_arguments(args, **assumptions)
RecursionError: maximum recursion depth exceeded
```
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path, nargs="?")
    parser.add_argument("--issue-file", type=Path)
    parser.add_argument("--no-rank", action="store_true", help="skip the graph and ranking")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="cold index, raw parse and re-index are run this "
        "many times, alternating, and the fastest run of each is shown (a shared machine)",
    )
    args = parser.parse_args()
    issue = args.issue_file.read_text() if args.issue_file else DEFAULT_ISSUE

    colds: list[float] = []
    floors: list[float] = []
    for _ in range(args.repeat - 1):
        with tempfile.TemporaryDirectory(prefix="codemap-bench-") as scratch:
            colds.append(_index(args.old, BlobCache(Path(scratch))).stats.seconds)
        floors.append(_raw_parse_seconds(args.old))
    with tempfile.TemporaryDirectory(prefix="codemap-bench-") as cache_dir:
        cache = BlobCache(Path(cache_dir))
        cold = _index(args.old, cache)
        rss_index = _peak_rss_mb()
        floors.append(_raw_parse_seconds(args.old))
        colds.append(cold.stats.seconds)
        cold.stats.seconds = min(colds)
        floor = min(floors)
        s = cold.stats
        megabytes = s.bytes_read / 1e6
        print(f"tree: {args.old}")
        print(
            f"  files indexed {s.files} ({dict(s.languages)}), symbols {s.symbols}, "
            f"{megabytes:.1f} MB, skipped {s.skipped_by_rule} by rule, "
            f"{dict(s.skipped_by_content)} by content, {len(s.failed)} failed"
        )
        print(
            f"  cold index            {s.seconds:7.2f} s  ({s.files / s.seconds:.0f} files/s, "
            f"{megabytes / s.seconds:.1f} MB/s; {s.parsed} parsed, {s.cache_hits} shared blobs)"
        )
        print(
            f"  raw parse (floor)     {floor:7.2f} s  → cold index = {s.seconds / floor:.2f}× "
            "the raw parse"
        )
        for language, kinds in _symbols_by_language(cold).items():
            total = sum(kinds.values())
            detail = ", ".join(f"{kind} {count}" for kind, count in kinds.most_common())
            print(
                f"  {language:10} {cold.stats.languages[language]:5} files, {total:6} symbols: "
                f"{detail}"
            )
        warm = min(
            (_index(args.old, cache) for _ in range(args.repeat)),
            key=lambda index: index.stats.seconds,
        )
        print(
            f"  re-index, unchanged   {warm.stats.seconds:7.2f} s  "
            f"({warm.stats.cache_hits} hits, {warm.stats.parsed} parsed)"
        )
        target = cold
        if args.new:
            with tempfile.TemporaryDirectory(prefix="codemap-tree-") as work:
                tree = Path(work) / "tree"
                shutil.copytree(args.old, tree)
                _index(tree, cache)
                changed = _update_in_place(tree, args.new)
                time.sleep(2.1)  # let the changed files' mtimes leave the racy window
                in_place = _index(tree, cache)
                print(
                    f"  re-index in place     {in_place.stats.seconds:7.2f} s  (the tree "
                    f"updated to {args.new.name} like a pull does: {changed} files written; "
                    f"{in_place.stats.parsed} parsed, {in_place.stats.bytes_read / 1e6:.2f} MB"
                    " read)"
                )
            step = _index(args.new, cache)
            print(
                f"  index of {args.new.name:12} {step.stats.seconds:7.2f} s  "
                f"(another directory: every file read and hashed; {step.stats.parsed} "
                f"parsed, {step.stats.cache_hits} from the blob cache)"
            )
            target = step
        if not args.no_rank:
            _ranking(target, issue)
        print(
            f"  peak memory           {rss_index:7.0f} MB after the cold index, "
            f"{_peak_rss_mb():.0f} MB at the end (includes the floor's parsed sources)"
        )


def _ranking(index: RepoIndex, issue: str) -> None:
    started = time.perf_counter()
    graph = build_graph(index)
    graph_seconds = time.perf_counter() - started
    started = time.perf_counter()
    locator = Locator(index, graph)
    if index.cache is not None:
        index.cache.flush()
    prepare_seconds = time.perf_counter() - started
    started = time.perf_counter()
    Locator(build_index(index.root, index.cache), graph)
    if index.cache is not None:
        index.cache.flush()
    cached_prepare_seconds = time.perf_counter() - started
    timings = []
    ranked = []
    for _ in range(5):
        started = time.perf_counter()
        ranked = locator.locate(issue, k=10)
        timings.append(time.perf_counter() - started)
    edges = sum(len(targets) for targets in graph.imports.values())
    print(
        f"  graph                 {graph_seconds:7.2f} s  ({len(graph.definers)} names, "
        f"{len(graph.modules)} modules, {edges} import edges)"
    )
    print(
        f"  BM25 preparation      {prepare_seconds:7.2f} s  (words of every file read, counted "
        f"and cached: once per blob; {cached_prepare_seconds:.2f} s with them cached, "
        "re-index included)"
    )
    print(
        f"  locate ranking        {statistics.median(timings):7.2f} s  median of 5 "
        f"(first {timings[0]:.2f} s); top: {', '.join(r.path for r in ranked[:3])}"
    )


def _index(root: Path, cache: BlobCache) -> RepoIndex:
    """build_index, timed until its cache entries are on disk too."""
    started = time.perf_counter()
    index = build_index(root, cache)
    cache.flush()
    index.stats.seconds = time.perf_counter() - started
    return index


def _symbols_by_language(index: RepoIndex) -> dict[str, Counter[str]]:
    kinds: dict[str, Counter[str]] = defaultdict(Counter)
    for indexed in index.files.values():
        kinds[indexed.symbols.language].update(d.kind for d in indexed.symbols.definitions)
    return dict(kinds)


def _update_in_place(tree: Path, new: Path) -> int:
    """Make tree equal to new, writing only the files whose content differs."""
    written = 0
    wanted = {p.relative_to(new) for p in new.rglob("*") if p.is_file()}
    for relative in wanted:
        target = tree / relative
        content = (new / relative).read_bytes()
        if not target.is_file() or target.read_bytes() != content:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            written += 1
    for path in tree.rglob("*"):
        if path.is_file() and path.relative_to(tree) not in wanted:
            path.unlink()
            written += 1
    return written


def _raw_parse_seconds(root: Path) -> float:
    """tree-sitter parsing alone, of the same files the index read, sources in memory."""
    files, _ = discover_files(root, SkipRules())
    sources = [(f.language, (root / f.path).read_bytes()) for f in files]
    sources = [(lang, text) for lang, text in sources if content_skip_reason(text) is None]
    parsers = {language: load_language(language).parser for language, _ in sources}
    started = time.perf_counter()
    for language, source in sources:
        parsers[language].parse(source)
    return time.perf_counter() - started


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
