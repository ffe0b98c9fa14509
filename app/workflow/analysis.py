"""The code map as the workflows use it: index a checkout, rank files, render context."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from app.codemap.cache import BlobCache
from app.codemap.index import RepoIndex, build_index
from app.codemap.locate import Locator, RankedFile
from app.codemap.render import RenderedContext, context_for
from app.codemap.resident import (
    RepositoryIdentity,
    ResidentIndexes,
    TreeSource,
    shared_indexes,
)
from app.codemap.tests_for import RelatedTest, locate_split
from app.config import Settings
from app.step_records import LocatedFile


@dataclass(frozen=True)
class Analysis:
    ranked: list[RankedFile]  # source files to change, best first (no tests)
    context: RenderedContext
    files_indexed: int
    seconds: float
    index: RepoIndex
    tests: list[RelatedTest] = field(default_factory=list)  # the tests that exercise them

    def find_symbols(self, name: str, limit: int = 30) -> list[str]:
        """Definitions whose name or dotted name is `name` (or ends with `.name`), as
        `path:line: kind signature` lines, for the model's `find_symbol` tool."""
        wanted = name.strip()
        found: list[str] = []
        for path in sorted(self.index.files):
            for d in self.index.files[path].symbols.definitions:
                if wanted in (d.name, d.qualname) or d.qualname.endswith(f".{wanted}"):
                    found.append(f"{path}:{d.start_line}: {d.kind} {d.signature}")
                    if len(found) >= limit:
                        return found
        return found

    def located_files(self) -> list[LocatedFile]:
        return [
            LocatedFile(path=f.path, score=f.score, reasons=list(f.reasons[:4]))
            for f in self.ranked
        ]

    def located_tests(self) -> list[LocatedFile]:
        return [
            LocatedFile(path=t.path, score=t.score, reasons=list(t.reasons[:4])) for t in self.tests
        ]


def analyse(
    root: Path,
    issue_text: str,
    cache_dir: Path,
    top: int = 10,
    budget_tokens: int = 12_000,
    resident: tuple[ResidentIndexes, TreeSource] | None = None,
) -> Analysis:
    """Blocking (CPU-bound): call it in a thread. With `resident`, the index of that
    repository and commit is taken from (or added to) the process's resident indexes."""
    started = time.perf_counter()
    if resident is not None:
        indexes, source = resident
        locator = indexes.locator(source, root)
    else:
        locator = Locator(build_index(root, cache=BlobCache(cache_dir)))
    index = locator.index
    seconds = index.stats.seconds if resident is None else time.perf_counter() - started
    ranked, tests = locate_split(locator, issue_text, k=top, tests_k=top)
    context = context_for(index, ranked, budget_tokens)
    return Analysis(ranked, context, index.stats.files, seconds, index, tests)


def resident_for(
    settings: Settings, tenant_id: int, forge: str, repository: str, commit: str
) -> tuple[ResidentIndexes, TreeSource] | None:
    """The worker's resident indexes and the key of a checkout of `repository` (as the
    forge names it, in that tenant) at `commit`; None when `commit` is not a full SHA."""
    try:
        source = TreeSource(RepositoryIdentity(tenant_id, forge, repository), commit)
    except ValueError:
        return None
    indexes = shared_indexes(
        settings.workdir / "codemap-cache",
        max_indexes=settings.codemap_resident_indexes,
        max_bytes=settings.codemap_cache_mb * 1_000_000,
    )
    return indexes, source


def files_markdown(files: list[LocatedFile]) -> str:
    lines = []
    for entry in files:
        reasons = "; ".join(entry.reasons) or "ranked by content"
        lines.append(f"- `{entry.path}` ({entry.score:.2f}): {reasons}")
    return "\n".join(lines) or "(no source files found)"


def tests_markdown(tests: list[LocatedFile]) -> str:
    lines = [f"- `{t.path}`: {'; '.join(t.reasons) or 'ranked by content'}" for t in tests]
    return "\n".join(lines) or "(no test file found that exercises them)"
