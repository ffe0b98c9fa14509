"""Rendering located code for a prompt: the top files' relevant definitions, with their
signatures and the lines around them, fitted to a token budget, most useful first."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app import repo_files
from app.codemap.index import RepoIndex
from app.codemap.locate import RankedFile
from app.codemap.symbols import Definition

CHARS_PER_TOKEN = 4  # a rough, stable estimate; the budget is a ceiling, not a target
_BODY_LINES = 12  # lines shown from the start of a relevant definition
_AROUND = 3  # lines of context before a definition
_OUTLINE_LIMIT = 25  # other definitions listed by signature, per file


@dataclass(frozen=True)
class RenderedContext:
    text: str
    tokens: int
    files: tuple[str, ...]  # the files that made it in, in order
    truncated: bool


def estimate_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def render_context(
    ranked: Sequence[RankedFile],
    sources: Mapping[str, str],
    budget_tokens: int,
    outlines: Mapping[str, Sequence[Definition]] | None = None,
) -> RenderedContext:
    """One block per file, best file first: its relevant definitions' code (with line
    numbers), then the signatures of its other definitions. A block that does not fit is
    cut to its first lines that do; once the budget is spent the rest is left out."""
    blocks: list[str] = []
    used = 0
    files: list[str] = []
    truncated = False
    for ranked_file in ranked:
        source = sources.get(ranked_file.path)
        if source is None:
            continue
        outline = (outlines or {}).get(ranked_file.path, ())
        block = _file_block(ranked_file, source.splitlines(), outline)
        cost = estimate_tokens(block)
        if used + cost > budget_tokens:
            room = (budget_tokens - used) * CHARS_PER_TOKEN
            cut = _cut_to(block, room)
            truncated = True
            if cut:
                blocks.append(cut)
                files.append(ranked_file.path)
                used += estimate_tokens(cut)
            break
        blocks.append(block)
        files.append(ranked_file.path)
        used += cost
    text = "\n".join(blocks)
    return RenderedContext(text, estimate_tokens(text), tuple(files), truncated)


def _file_block(ranked_file: RankedFile, lines: list[str], outline: Sequence[Definition]) -> str:
    out = [f"## {ranked_file.path}"]
    spans: list[tuple[int, int]] = []
    for symbol in ranked_file.symbols:
        d = symbol.definition
        start = max(1, d.start_line - _AROUND)
        end = min(d.end_line, d.start_line + _BODY_LINES - 1, len(lines))
        spans.append((start, end))
    if not spans and lines:
        spans.append((1, min(len(lines), _BODY_LINES)))
    last_end = 0
    for start, end in _merge(spans):
        if last_end and start > last_end + 1:
            out.append("   ⋮")
        out.extend(f"{n:>5} {lines[n - 1]}" for n in range(start, end + 1))
        last_end = end
    shown = {symbol.definition for symbol in ranked_file.symbols}
    others = [d for d in outline if d not in shown and d.kind != "namespace"]
    if others:
        out.append("   other definitions:")
        out.extend(f"{d.start_line:>5} {d.signature}" for d in others[:_OUTLINE_LIMIT])
        if len(others) > _OUTLINE_LIMIT:
            out.append(f"   … and {len(others) - _OUTLINE_LIMIT} more")
    return "\n".join(out) + "\n"


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _cut_to(block: str, chars: int) -> str:
    """The block's first whole lines within chars, or nothing if only its header fits."""
    lines = block.splitlines()
    kept: list[str] = []
    size = 0
    for line in lines:
        if size + len(line) + 1 > chars:
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept) + "\n" if len(kept) > 1 else ""


def context_for(
    index: RepoIndex, ranked: Sequence[RankedFile], budget_tokens: int
) -> RenderedContext:
    """`render_context` for files of an index, read from its tree."""
    sources: dict[str, str] = {}
    for ranked_file in ranked:
        try:
            text = repo_files.read_text(index.root, ranked_file.path)
        except (OSError, repo_files.RepositoryFileRefused):
            continue  # a link or a special file since it was indexed: leave it out
        if text is not None:  # else deleted since it was indexed
            sources[ranked_file.path] = text
    outlines = {p: index.files[p].symbols.definitions for p in sources if p in index.files}
    return render_context(ranked, sources, budget_tokens, outlines)
