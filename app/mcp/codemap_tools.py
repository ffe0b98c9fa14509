"""The code-map tools on one repository: `locate`, `find_symbol`, `outline`, `context`,
`index_status`. Each answers structured content (see app/mcp/models.py) and a short text
form; whatever came from the repository is fenced there as untrusted data."""

from __future__ import annotations

import re
import time

from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

from app import repo_files
from app.codemap import RankedFile, context_for, locate_split
from app.llm.prompt_safety import fence_untrusted
from app.mcp import models
from app.mcp.errors import ToolRefusal
from app.mcp.repo_map import RepoMap

MAX_TOP = 50
MAX_REFERENCES = 200
MAX_BUDGET_TOKENS = 50_000


def _answer(data: BaseModel, text: str, source: str) -> CallToolResult:
    fenced = fence_untrusted(source, text)
    return CallToolResult(
        content=[TextContent(type="text", text=fenced)],
        structured_content=data.model_dump(mode="json"),
    )


def locate(repo: RepoMap, issue_text: str, top: int = 10, no_tests: bool = False) -> CallToolResult:
    """The source files to change and the tests that exercise them (app/codemap/tests_for.py),
    each list best first with its reasons."""
    if not issue_text.strip():
        raise ToolRefusal("the issue text is empty: nothing to locate")
    if not 1 <= top <= MAX_TOP:
        raise ToolRefusal(f"top must be between 1 and {MAX_TOP}")
    current = repo.indexed()
    ranked, tests = locate_split(current.locator, issue_text, k=top, tests_k=0 if no_tests else top)
    result = models.LocateResult(
        files=[
            models.LocatedFile(
                path=r.path,
                score=round(r.score, 4),
                reasons=list(r.reasons),
                symbols=[models.Symbol.of(s.definition) for s in r.symbols],
            )
            for r in ranked
        ],
        tests=[
            models.RelatedTest(path=t.path, score=round(t.score, 4), reasons=list(t.reasons))
            for t in tests
        ],
        commit=current.commit,
    )
    return _answer(result, locate_text(result, no_tests), "ranked files")


def locate_text(result: models.LocateResult, no_tests: bool = False) -> str:
    if not result.files:
        return "no source file matches the issue's text"
    lines = ["Files to change:"]
    lines += [
        f"{n}. {f.path} ({f.score:.2f}): {'; '.join(f.reasons[:3])}"
        for n, f in enumerate(result.files, 1)
    ]
    if not no_tests:
        lines.append("Tests that exercise them:")
        lines += [
            f"{n}. {t.path} ({t.score:.2f}): {'; '.join(t.reasons[:3])}"
            for n, t in enumerate(result.tests, 1)
        ] or ["(no test file found)"]
    return "\n".join(lines)


def find_symbol(repo: RepoMap, name: str, references: bool = True) -> CallToolResult:
    wanted = name.strip()
    if not wanted or len(wanted) > 200:
        raise ToolRefusal("give a symbol name (at most 200 characters)")
    index = repo.indexed().index
    definitions: list[models.SymbolDefinition] = []
    for path in sorted(index.files):
        for d in index.files[path].symbols.definitions:
            if wanted in (d.name, d.qualname) or d.qualname.endswith(f".{wanted}"):
                definitions.append(
                    models.SymbolDefinition(path=path, **models.Symbol.of(d).model_dump())
                )
    found: list[models.SymbolReference] = []
    truncated = False
    if references:
        found, truncated = _references(repo, wanted.rsplit(".", 1)[-1], definitions)
    result = models.FindSymbolResult(
        name=wanted, definitions=definitions, references=found, truncated=truncated
    )
    lines = [f"{d.path}:{d.start_line}: {d.kind} {d.signature}" for d in definitions[:20]]
    lines.append(f"{len(definitions)} definitions, {len(found)} references")
    return _answer(result, "\n".join(lines), f"symbol {wanted}")


def _references(
    repo: RepoMap, identifier: str, definitions: list[models.SymbolDefinition]
) -> tuple[list[models.SymbolReference], bool]:
    index = repo.indexed().index
    headers = {(d.path, d.start_line) for d in definitions}
    word = re.compile(rf"(?<![\w$]){re.escape(identifier)}(?![\w$])")
    found: list[models.SymbolReference] = []
    for path in sorted(index.files):
        if identifier not in index.words(path).identifiers:
            continue
        try:
            text = repo_files.read_text(index.root, path)
        except (OSError, repo_files.RepositoryFileRefused):
            continue  # a link or a special file since it was indexed
        for number, line in enumerate((text or "").splitlines(), 1):
            if (path, number) not in headers and word.search(line):
                if len(found) == MAX_REFERENCES:
                    return found, True
                found.append(models.SymbolReference(path=path, line=number))
    return found, False


def outline(repo: RepoMap, path: str) -> CallToolResult:
    relative = repo.relative(path)
    indexed = repo.indexed().index.files.get(relative)
    if indexed is None:
        raise ToolRefusal(
            f"`{relative}` is not indexed: not a source file of a known language, or left "
            "out (vendored, generated, binary or too large)"
        )
    symbols = indexed.symbols
    result = models.OutlineResult(
        path=relative,
        language=symbols.language,
        lines=symbols.lines,
        symbols=[models.Symbol.of(d) for d in symbols.definitions],
        parse_errors=symbols.parse_errors,
    )
    lines = [f"{d.start_line}-{d.end_line} {d.kind} {d.qualname}" for d in symbols.definitions]
    summary = f"{relative}: {symbols.language}, {symbols.lines} lines, {len(lines)} symbols"
    return _answer(result, "\n".join([summary, *lines[:60]]), f"outline of {relative}")


def context(
    repo: RepoMap,
    paths: list[str] | None = None,
    issue_text: str | None = None,
    budget_tokens: int = 8000,
) -> CallToolResult:
    if not paths and not (issue_text and issue_text.strip()):
        raise ToolRefusal("give paths, an issue text, or both")
    if not 100 <= budget_tokens <= MAX_BUDGET_TOKENS:
        raise ToolRefusal(f"budget_tokens must be between 100 and {MAX_BUDGET_TOKENS}")
    wanted = [repo.relative(p) for p in paths or []]
    current = repo.indexed()
    if issue_text and issue_text.strip():
        allowed = set(wanted)
        include = (lambda p: p in allowed) if allowed else None
        ranked = current.locator.locate(issue_text, k=len(wanted) or 10, include=include)
    else:
        ranked = [RankedFile(p, 1.0, ("asked for",)) for p in wanted]
    rendered = context_for(current.index, ranked, budget_tokens)
    text = fence_untrusted("repository files", rendered.text)
    result = models.ContextResult(
        files=list(rendered.files), tokens=rendered.tokens, truncated=rendered.truncated, text=text
    )
    return CallToolResult(
        content=[TextContent(type="text", text=text)],
        structured_content=result.model_dump(mode="json"),
    )


def index_status(repo: RepoMap) -> CallToolResult:
    current = repo.indexed()
    stats = current.index.stats
    resident = repo.resident
    result = models.IndexStatus(
        root=repo.label,
        commit=current.commit,
        changed=list(current.changed[:200]),
        resident=None
        if resident is None
        else models.ResidentStatus(
            indexes=len(resident),
            hits=resident.stats.hits,
            updates=resident.stats.updates,
            cold=resident.stats.cold,
            evicted=resident.stats.evicted,
        ),
        files=stats.files,
        symbols=stats.symbols,
        languages=dict(stats.languages.most_common()),
        parsed=stats.parsed,
        cache_hits=stats.cache_hits,
        skipped=stats.skipped_by_rule + sum(stats.skipped_by_content.values()),
        failed=list(stats.failed),
        seconds=round(stats.seconds, 3),
        age_seconds=round(time.monotonic() - current.built_at, 3),
    )
    text = f"{stats.files} files, {stats.symbols} symbols, indexed in {stats.seconds:.2f}s"
    if current.commit is not None:
        text += f"; commit {current.commit}"
        if current.changed:
            text += f" and {len(current.changed)} changed paths"
    return _answer(result, text, "index status")
