"""The files to change and the tests that exercise them, as two lists (pure).

`locate` ranks every indexed file; a test file that shares the issue's words competes with
the source for the top slots. Here the ranking is kept to source files (by `is_test_path`,
the one rule the index, the CLI and the benchmarks use), and the tests are found from the
ranked source files: a test that imports one, is named after one (`test_foo.py`,
`foo_test.go`, `foo.test.ts`, `FooTest.php`, in a `tests/` mirror of its folder), or uses
the names it defines; and by the issue's own words (BM25 over the test files), which on
SWE-bench Lite find the test to extend more often than any link (bench/README.md).
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass

from app.codemap.locate import Locator, RankedFile
from app.test_paths import is_test_path

USED_ENOUGH = 3
COMMON_NAME_FILES = 30  # a name used in more files than this says little about a test

_TEST_DIRS = frozenset({"test", "tests", "testing", "__tests__", "spec", "specs", "unit"})
_SOURCE_ROOTS = frozenset({"src", "lib", "source", "app", "python"})
_TEST_PREFIXES = ("test_", "tests_", "test-", "spec_")
_TEST_SUFFIXES = ("_tests", "_test", "_spec", ".tests", ".test", ".spec", "-test", "-spec")
_PACKAGE_STEMS = frozenset({"__init__", "index", "mod"})


@dataclass(frozen=True)
class TestWeights:
    """How much each link between a test and a ranked source file counts; each is scaled
    by the source file's rank (see `_rank_weight`). See bench/codemap_tests_split.py."""

    __test__ = False  # not a pytest class

    named: float = 1.0  # test_foo.py for foo.py, FooTest.php for Foo.php, ...
    named_like: float = 1.0  # test_admin_checks.py for checks.py
    named_symbol: float = 2.0  # test_durationfield.py for the DurationField the issue names
    mirrored: float = 3.0  # ... and in the same folder, or a tests/ folder that mirrors it
    imports: float = 1.0
    uses: float = 0.5  # half for one of the file's distinctive names, all for USED_ENOUGH
    # BM25 of the issue over the test files, the best one at 1: on SWE-bench Lite the
    # issue's words find the test to extend more often than the links do (bench/README.md)
    issue_words: float = 6.0
    # a test no link finds is listed for the issue's words alone from this share of the best
    words_alone: float = 0.0


@dataclass(frozen=True, slots=True)
class RelatedTest:
    path: str
    score: float
    reasons: tuple[str, ...]


def is_source_path(path: str) -> bool:
    """A file that may be changed to fix an issue, rather than a test of it."""
    return not is_test_path(path)


def locate_split(
    locator: Locator, issue_text: str, k: int = 10, tests_k: int = 10
) -> tuple[list[RankedFile], list[RelatedTest]]:
    """The source files to change, ranked, and the tests that exercise them."""
    evidence = locator.gather(issue_text, include=is_source_path)
    ranked = locator.rank(evidence, k)
    return ranked, tests_for(locator, ranked, evidence.query, tests_k)


def tests_for(
    locator: Locator,
    ranked: Sequence[RankedFile],
    query: Sequence[str],
    k: int = 10,
    weights: TestWeights | None = None,
) -> list[RelatedTest]:
    """The test files that exercise the ranked source files, best first, with reasons."""
    w = weights or TestWeights()
    tests = [p for p in locator.index.files if is_test_path(p) and _holds_tests(p)]
    if not tests or k < 1:
        return []
    test_set = set(tests)
    scores: dict[str, float] = {}
    reasons: dict[str, list[str]] = {}

    def add(path: str, score: float, reason: str) -> None:
        scores[path] = scores.get(path, 0.0) + score
        reasons.setdefault(path, []).append(reason)

    cores = {path: _test_core(path) for path in tests}
    for rank, source in enumerate(ranked, 1):
        weight = _rank_weight(rank)
        name = posixpath.basename(source.path)
        stem = _source_stem(source.path)
        # the definitions the issue names or its traceback passes through (not those that
        # only share a word with it): test_durationfield.py for DurationField
        pointed = {
            s.definition.name.lower().replace("_", ""): s.definition.name
            for s in source.symbols
            if len(s.definition.name) > 3 and not (s.reasons and s.reasons[0].startswith("words:"))
        }
        for path in tests:
            core, folders = cores[path]
            if core == stem:
                if _mirrors(folders, source.path):
                    add(path, weight * (w.named + w.mirrored), f"named after {name}, same folder")
                else:
                    add(path, weight * w.named, f"named after {name}")
            elif len(stem) > 3 and core.endswith("_" + stem):
                add(path, weight * w.named_like, f"named like {name}")
            elif core.replace("_", "") in pointed:
                add(path, weight * w.named_symbol, f"named after {pointed[core.replace('_', '')]}")
        for path in locator.graph.imported_by.get(source.path, ()):
            if path in test_set:
                add(path, weight * w.imports, f"imports {name}")
        for path, names in _users(locator, source.path, test_set).items():
            share = 0.5 + 0.5 * min(1.0, (len(names) - 1) / (USED_ENOUGH - 1))
            add(path, weight * w.uses * share, f"uses {', '.join(names[:3])} of {name}")
    bm25 = {p: s for p, s in locator.lexical.scores(query).items() if p in test_set}
    top = max(bm25.values(), default=0.0)
    for path, score in bm25.items():
        if path in scores or score >= w.words_alone * top:
            add(path, w.issue_words * score / top, f"issue words (BM25 {score:.1f})")
    best = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:k]
    return [RelatedTest(path, round(score, 4), tuple(reasons[path])) for path, score in best]


def _rank_weight(rank: int) -> float:
    """The first source file's tests count fully, the tenth's about a quarter."""
    return 1.0 / (1.0 + (rank - 1) / 3)


def _holds_tests(path: str) -> bool:
    """Whether a test-path file holds tests rather than supports them. Python runners only
    collect `test*.py` and `*_test.py` (pytest, unittest, Django), so a `models.py` or
    `conftest.py` under tests/ is a fixture; elsewhere (mocha's test/) any file may."""
    name = posixpath.basename(path)
    if name.endswith(".py"):
        return name.startswith("test") or name.endswith("_test.py")
    return True


def _test_core(path: str) -> tuple[str, tuple[str, ...]]:
    """What a test file is named after, lower-cased, and its folders without the test
    folders: `pkg/tests/test_foo.py` → ("foo", ("pkg",)); a bare `tests.py` is named after
    its folder (Django: `tests/queries/tests.py` → "queries")."""
    *folders, name = path.split("/")
    core = _strip_test_words(name.rsplit(".", 1)[0])
    kept = tuple(f for f in folders if f.lower() not in _TEST_DIRS)
    if not core and kept:
        core = kept[-1].lower()
        kept = kept[:-1]
    return core, kept


def _strip_test_words(stem: str) -> str:
    """test_foo, foo_test, foo.test, foo_spec, FooTest → foo; tests, spec → ""."""
    lower = stem.lower()
    if lower in ("test", "tests", "spec", "specs"):
        return ""
    for affix in _TEST_PREFIXES:
        if lower.startswith(affix):
            return lower[len(affix) :]
    for suffix in _TEST_SUFFIXES:
        if lower.endswith(suffix):
            return lower[: -len(suffix)]
    for suffix in ("Tests", "Test", "Spec"):  # FooTest, not latest
        if stem.endswith(suffix):
            return lower[: -len(suffix)]
    return lower


def _source_stem(path: str) -> str:
    """A source file's name as tests name it; a package's index file goes by its folder."""
    *folders, name = path.split("/")
    stem = name.rsplit(".", 1)[0].lower()
    if stem in _PACKAGE_STEMS and folders:
        return folders[-1].lower()
    return stem


def _mirrors(test_folders: tuple[str, ...], source: str) -> bool:
    """The test's folders (test folders left out) end the source's folders, or the other
    way round: `pkg/core/tests/test_a.py` for `pkg/core/a.py`, `tests/core/` for
    `src/pkg/core/a.py`."""
    *folders, name = source.split("/")
    if name.rsplit(".", 1)[0] in _PACKAGE_STEMS:
        folders = folders[:-1]  # a package's index file: its folder is its name
    source_folders = tuple(f for f in folders if f not in _SOURCE_ROOTS)
    shorter = min(len(test_folders), len(source_folders))
    if not shorter:
        return not test_folders
    return test_folders[-shorter:] == source_folders[-shorter:]


def _users(locator: Locator, source: str, tests: set[str]) -> dict[str, list[str]]:
    """Test files → the distinctive names defined in `source` that they use."""
    used: dict[str, list[str]] = {}
    seen: set[str] = set()
    for definition in locator.index.files[source].symbols.definitions:
        name = definition.name
        if name in seen or len(name) < 4 or name.startswith("__"):
            continue
        seen.add(name)
        if len(locator.graph.definers.get(name, ())) > 3:
            continue  # defined all over (save, render, ...): not a sign of this file
        files = locator.lexical.files_using(name)
        if len(files) > COMMON_NAME_FILES:
            continue
        for path in files:
            if path in tests:
                used.setdefault(path, []).append(name)
    return used
