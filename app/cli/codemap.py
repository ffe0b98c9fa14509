"""`agentops index` and `agentops locate` (owned by app/codemap)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from app.cli import CommandFailed
from app.codemap.cache import DEFAULT_CACHE_DIR, BlobCache
from app.codemap.discover import SkipRules
from app.codemap.index import IndexStats, RepoIndex, build_index
from app.codemap.locate import Locator, RankedFile
from app.codemap.tests_for import RelatedTest, locate_split
from app.config import ConfigError, load_settings

CACHE_ENV = "AGENTOPS_CODEMAP_CACHE"
_PROGRESS_FROM = 500  # files; smaller trees index too fast to need a progress bar


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    index = sub.add_parser("index", help="index a repository's code (files, symbols, imports)")
    index.add_argument(
        "path", metavar="PATH", type=Path, nargs="?", help="a checkout or source tree"
    )
    index.add_argument("--json", action="store_true", help="print one JSON object")
    index.add_argument(
        "--prune",
        action="store_true",
        help="instead of indexing, remove from the cache the snapshots of folders that are "
        "gone, other versions' entries, and the least recently used beyond "
        "AGENTOPS_CODEMAP_CACHE_MB (the worker's cache: --cache WORKDIR/codemap-cache)",
    )
    _index_options(index)
    index.set_defaults(handler=cmd_index)

    locate = sub.add_parser(
        "locate", help="rank the source files an issue is about, and the tests of them"
    )
    locate.add_argument("path", metavar="PATH", type=Path, help="a checkout or source tree")
    locate.add_argument(
        "--issue-file", type=Path, required=True, help="the issue's text ('-' for stdin)"
    )
    locate.add_argument(
        "--top", type=int, default=10, help="how many files, and how many tests (10)"
    )
    locate.add_argument("--json", action="store_true", help="print one JSON object")
    locate.add_argument(
        "--no-tests", action="store_true", help="leave out the tests that exercise the files"
    )
    _index_options(locate)
    locate.set_defaults(handler=cmd_locate)


def _index_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        help=f"cache directory (${CACHE_ENV}, else {DEFAULT_CACHE_DIR})",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="PREFIX",
        help="leave out paths starting with PREFIX, e.g. docs/ (repeatable); vendored, "
        "build and generated files are always left out",
    )
    parser.add_argument(
        "--max-file-kb", type=int, default=1000, help="leave out larger files (1000)"
    )


def cmd_index(args: argparse.Namespace) -> int:
    if args.prune:
        if args.path is not None:
            raise CommandFailed("--prune takes no PATH: it prunes the whole cache")
        return _prune(args)
    if args.path is None:
        raise CommandFailed("name the tree to index (PATH), or --prune")
    index = _index(args)
    if args.json:
        print(json.dumps(index_json(index.stats)))
    else:
        print(index_summary(index.stats))
    return 0


def cmd_locate(args: argparse.Namespace) -> int:
    if args.top < 1:
        raise CommandFailed("--top must be at least 1")
    issue_text = _read_issue(args.issue_file)
    if not issue_text.strip():
        raise CommandFailed(f"the issue text is empty ({args.issue_file}): nothing to locate")
    index = _index(args, quiet=args.json)
    ranked, tests = locate_split(Locator(index), issue_text, args.top, args.top)
    if args.no_tests:
        tests = []
    if args.json:
        print(json.dumps(locate_json(ranked, tests)))
    else:
        print(locate_table(ranked, tests, show_tests=not args.no_tests))
    return 0


def _index(args: argparse.Namespace, quiet: bool = False) -> RepoIndex:
    root: Path = args.path
    if not root.is_dir():
        raise CommandFailed(f"{root} is not a directory")
    if args.max_file_kb < 1:
        raise CommandFailed("--max-file-kb must be at least 1")
    directory = _cache_directory(args)
    rules = SkipRules(
        max_bytes=args.max_file_kb * 1000,
        extra_skip_prefixes=tuple(prefix.removeprefix("./") for prefix in args.exclude),
    )
    try:
        cache = BlobCache(directory, max_bytes=_cache_cap())
        index = build_index(root.resolve(), cache, rules, None if quiet else _progress)
        cache.flush()
        return index
    except PermissionError as exc:
        raise CommandFailed(f"cannot write the cache {directory}: {exc.strerror}") from exc
    finally:
        if sys.stderr.isatty() and not quiet:
            sys.stderr.write("\r\033[K")


def _prune(args: argparse.Namespace) -> int:
    directory = _cache_directory(args)
    try:
        cache = BlobCache(directory, max_bytes=_cache_cap())
        try:
            removed = cache.prune()
        finally:
            cache.close()
    except PermissionError as exc:
        raise CommandFailed(f"cannot write the cache {directory}: {exc.strerror}") from exc
    for path, size in removed.files:
        print(f"removed {path} ({size / 1e6:.1f} MB)")
    if removed.entries:
        print(f"removed {removed.entries} cache entries ({removed.entry_bytes / 1e6:.1f} MB)")
    print(f"pruned {directory}: {removed.bytes / 1e6:.1f} MB freed")
    return 0


def _cache_directory(args: argparse.Namespace) -> Path:
    return Path(args.cache or os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR).expanduser()


def _cache_cap() -> int:
    try:
        return load_settings().codemap_cache_mb * 1_000_000
    except ConfigError as exc:
        raise CommandFailed(str(exc)) from None


def _read_issue(path: Path) -> str:
    if str(path) == "-":
        return sys.stdin.read()
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise CommandFailed(f"cannot read {path}: {exc.strerror}") from exc


def _progress(done: int, total: int) -> None:
    if total < _PROGRESS_FROM or not sys.stderr.isatty():
        return
    width = 30
    filled = width * done // total
    sys.stderr.write(f"\rindexing [{'#' * filled}{'.' * (width - filled)}] {done}/{total} files")
    sys.stderr.flush()


def index_json(stats: IndexStats) -> dict[str, Any]:
    return {
        "files": stats.files,
        "symbols": stats.symbols,
        "languages": dict(stats.languages.most_common()),
        "parsed": stats.parsed,
        "cache_hits": stats.cache_hits,
        "skipped": stats.skipped_by_rule + sum(stats.skipped_by_content.values()),
        "failed": stats.failed,
        "seconds": round(stats.seconds, 3),
    }


def index_summary(stats: IndexStats) -> str:
    languages = ", ".join(f"{name} {count}" for name, count in stats.languages.most_common())
    skipped = stats.skipped_by_rule + sum(stats.skipped_by_content.values())
    lines = [
        f"{stats.files} files, {stats.symbols} symbols ({languages or 'no known languages'})",
        f"{stats.parsed} parsed, {stats.cache_hits} from cache, {skipped} skipped, "
        f"{len(stats.failed)} failed, in {stats.seconds:.2f}s",
    ]
    lines.extend(f"  could not index {path}" for path in stats.failed[:10])
    return "\n".join(lines)


def locate_json(ranked: list[RankedFile], tests: list[RelatedTest]) -> dict[str, Any]:
    """`files`: the source files to change, best first; `tests`: the tests that exercise
    them. Every entry has a path, a score and its reasons."""
    return {
        "files": [
            {
                "path": r.path,
                "score": r.score,
                "reasons": list(r.reasons),
                "symbols": [
                    {
                        "name": s.definition.qualname,
                        "kind": s.definition.kind,
                        "lines": [s.definition.start_line, s.definition.end_line],
                        "signature": s.definition.signature,
                    }
                    for s in r.symbols
                ],
            }
            for r in ranked
        ],
        "tests": [{"path": t.path, "score": t.score, "reasons": list(t.reasons)} for t in tests],
    }


def locate_table(
    ranked: list[RankedFile], tests: list[RelatedTest], show_tests: bool = True
) -> str:
    if not ranked:
        return "no source file matches the issue's text"
    lines: list[str] = ["Files to change:"]
    for number, r in enumerate(ranked, 1):
        lines.append(f"{number:>2}. {r.path}  ({r.score:.2f})")
        lines.extend(f"      - {reason}" for reason in r.reasons[:4])
        for s in r.symbols[:3]:
            d = s.definition
            lines.append(f"      {d.kind} {d.qualname} (lines {d.start_line}-{d.end_line})")
    if show_tests:
        lines.append("\nTests that exercise them:")
        if not tests:
            lines.append("  (no test file found)")
        for number, t in enumerate(tests, 1):
            lines.append(f"{number:>2}. {t.path}  ({t.score:.2f})")
            lines.extend(f"      - {reason}" for reason in t.reasons[:4])
    return "\n".join(lines)
