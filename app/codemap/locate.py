"""`locate`: rank a repository's files (and the symbols in them) for an issue's text."""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from app.codemap.clue_signals import (
    api_signal,
    message_signal,
    option_signal,
    prose_name_signal,
)
from app.codemap.graph import CodeGraph, build_graph
from app.codemap.index import RepoIndex
from app.codemap.lexical import LexicalIndex
from app.codemap.mentions import Mentions, path_matches, read_mentions
from app.codemap.signals import (
    Scores,
    bm25_signal,
    frame_signal,
    graph_signal,
    module_signal,
    module_tail_signal,
    path_signal,
    rare_identifier_signal,
    stem_signal,
    symbol_signal,
)
from app.codemap.source_text import SourceText
from app.codemap.symbols import Definition
from app.codemap.terms import IDENTIFIER, identifier_terms, text_terms

# Directories of documentation, examples and tooling: their files quote the code's names
# (in examples, message pages, configuration) and are seldom where a fix goes.
_IN_DOCS = re.compile(r"(^|/)(docs?|examples?|galleries|tutorials|benchmarks|asv_bench|ci)/")


@dataclass(frozen=True)
class Weights:
    """How much each signal counts; 0 switches it off.

    BM25 over the files' words is the base score, and every other signal multiplies it by
    (1 + its weighted score): a mention lifts a file among those the text is about rather
    than above them. `title` is BM25 of the title's words alone: the title names the
    problem, the body surrounds it with reproductions, logs and guesses. The values were
    chosen on SWE-bench Lite and checked by cross-validation (see bench/README.md); the
    graph signal measured as a loss there and is off by default. `option`, `message`, `api`
    (see `clue_signals`) and `docs` were chosen on one development set and measured on
    another from other repositories, both ways (bench/README.md); `api` cost top-1 places
    on both and is off by default. `prose_name` (hyphenated names in prose, as `option`)
    and `module_tail` (module paths written without their top package) were checked the
    same way: each helps one set and costs the other nothing.
    """

    bm25: float = 1.0
    title: float = 2.0
    path: float = 2.0
    frame: float = 0.25
    module: float = 1.0
    stem: float = 0.5
    symbol: float = 0.5
    outline: float = 0.5
    rare: float = 0.25
    option: float = 4.0
    prose_name: float = 1.0
    module_tail: float = 1.0
    message: float = 1.0
    api: float = 0.0
    graph: float = 0.0
    docs: float = 0.8  # a file under docs/, examples/, ... loses this share of its score


@dataclass(frozen=True)
class Evidence:
    mentions: Mentions
    query: list[str]
    allowed: set[str]
    signals: dict[str, Scores]  # signal name (a field of Weights) → its scores


@dataclass(frozen=True, slots=True)
class RankedSymbol:
    definition: Definition
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RankedFile:
    path: str
    score: float
    reasons: tuple[str, ...]
    symbols: tuple[RankedSymbol, ...] = field(default=())


class Locator:
    """The graph and the BM25 index of one repository index, built once, asked many times."""

    def __init__(self, index: RepoIndex, graph: CodeGraph | None = None) -> None:
        self.index = index
        self.graph = graph if graph is not None else build_graph(index)
        self.lexical = LexicalIndex({p: w.identifiers for p, w in index.all_words().items()})
        self.outline = LexicalIndex(
            {p: _outline_identifiers(f.symbols.definitions) for p, f in index.files.items()}
        )
        self.source_text = SourceText(index.root, list(index.files))

    def updated(self, index: RepoIndex, changed: set[str]) -> Locator:
        """The locator of `index`, which differs from this one's index only in the
        `changed` paths: the BM25 indexes are updated, not rebuilt (see
        `LexicalIndex.updated`); the graph, cheap next to them, is built again."""
        new = Locator.__new__(Locator)
        new.index, new.graph = index, build_graph(index)
        lexical = {p: w.identifiers for p, w in index.all_words().items()}
        new.lexical = self.lexical.updated(lexical, changed)
        outline = dict(self.outline.documents)
        for path in changed:
            outline.pop(path, None)
            if path in index.files:
                outline[path] = _outline_identifiers(index.files[path].symbols.definitions)
        new.outline = self.outline.updated(outline, changed)
        new.source_text = SourceText(index.root, list(index.files))
        return new

    def moved_to(self, root: Path) -> Locator:
        """The same locator over a copy of the same tree at `root` (what `context_for`
        and on-demand reads open)."""
        new = copy.copy(self)
        new.index = dataclasses.replace(self.index, root=root)
        # read lazily from this run's tree, and let go with this run's locator
        new.source_text = SourceText(root, list(new.index.files))
        return new

    def locate(
        self,
        issue_text: str,
        k: int = 10,
        weights: Weights | None = None,
        include: Callable[[str], bool] | None = None,
    ) -> list[RankedFile]:
        return self.rank(self.gather(issue_text, include), k, weights)

    def gather(self, issue_text: str, include: Callable[[str], bool] | None = None) -> Evidence:
        """Every signal's scores for an issue, before weighing (see `rank`)."""
        mentions = read_mentions(issue_text)
        candidates = [p for p in self.index.files if include is None or include(p)]
        allowed = set(candidates)
        title_text, _, body_text = issue_text.strip().partition("\n")
        title_terms = text_terms(title_text)
        # the title's words twice in the query too: it names the problem most densely
        query = title_terms + title_terms + text_terms(body_text)
        bm25 = {p: s for p, s in self.lexical.scores(query).items() if p in allowed}
        title = {p: s for p, s in self.lexical.scores(title_terms).items() if p in allowed}
        outline = {p: s for p, s in self.outline.scores(query).items() if p in allowed}
        signals = {
            "path": path_signal(mentions, candidates),
            "frame": frame_signal(mentions, candidates),
            "module": module_signal(mentions, self.graph),
            "module_tail": module_tail_signal(mentions, self.graph),
            "stem": stem_signal(mentions, candidates),
            "symbol": symbol_signal(mentions, self.graph, len(candidates)),
            "bm25": bm25_signal(bm25, _matched_terms(query, bm25, self)),
            "title": bm25_signal(title, _matched_terms(title_terms, title, self), "title BM25"),
            "outline": bm25_signal(outline, {}, "definitions BM25"),
            "rare": rare_identifier_signal(mentions, self.lexical.files_using, len(candidates)),
            "option": option_signal(mentions.options, self.source_text, allowed),
            "prose_name": prose_name_signal(
                mentions.prose_names, self.source_text, self.lexical.files_using, allowed
            ),
            "message": message_signal(mentions.messages, self.source_text, allowed),
            "api": api_signal(
                mentions.dotted + mentions.imported, mentions.aliases, self.graph, allowed
            ),
        }
        return Evidence(mentions, query, allowed, signals)

    def rank(
        self,
        evidence: Evidence,
        k: int = 10,
        weights: Weights | None = None,
        with_symbols: bool = True,
    ) -> list[RankedFile]:
        """Weigh the signals (see `Weights`); the strongest hits may lend a share of their
        score to the files they import or are imported by. with_symbols=False leaves out
        each file's symbols (a benchmark weighing many settings needs only the order)."""
        weights = weights or Weights()
        boosts = _combine(
            [(getattr(weights, name), s) for name, s in evidence.signals.items() if name != "bm25"],
            evidence.allowed,
        )
        combined = _fuse(evidence.signals["bm25"], weights.bm25, boosts)
        if weights.graph:
            neighbours = graph_signal(combined, self.graph)
            boosts = _combine([(1.0, boosts), (weights.graph, neighbours)], evidence.allowed)
            combined = _fuse(evidence.signals["bm25"], weights.bm25, boosts)
        if weights.docs:
            for path, (score, reasons) in combined.items():
                if _IN_DOCS.search(path):
                    combined[path] = (score * (1 - weights.docs), reasons)
        ranked = sorted(combined.items(), key=lambda item: (-item[1][0], item[0]))[:k]
        return [
            RankedFile(
                path,
                round(score, 4),
                tuple(reasons),
                self._symbols(path, evidence.mentions, evidence.query) if with_symbols else (),
            )
            for path, (score, reasons) in ranked
        ]

    def _symbols(self, path: str, mentions: Mentions, query: list[str]) -> tuple[RankedSymbol, ...]:
        """The definitions in a ranked file that the issue points at, best first."""
        definitions = self.index.files[path].symbols.definitions
        frame_lines = [f for f in mentions.frames if path_matches(f.path, path)]
        words = set(query)
        qualified = [d for d in mentions.dotted if d.count(".") >= 1]
        found: list[tuple[float, RankedSymbol]] = []
        for definition in definitions:
            reasons: list[str] = []
            score = 0.0
            weight = mentions.identifiers.get(definition.name)
            if weight and len(definition.name) > 2:
                score += 2 * weight
                reasons.append(f"named in the issue: {definition.name}")
            if any(
                f".{dotted}".endswith(f".{definition.qualname}")
                for dotted in qualified
                if "." in definition.qualname
            ):
                score += 4
                reasons.append(f"qualified name in the issue: {definition.qualname}")
            for frame in frame_lines:
                if definition.start_line <= frame.line <= definition.end_line:
                    score += 3
                    reasons.append(f"traceback line {frame.line}")
            overlap = words.intersection(identifier_terms(definition.name))
            if overlap and not reasons:
                score += 0.5 * len(overlap)
                reasons.append(f"words: {', '.join(sorted(overlap))}")
            if score:
                found.append((score, RankedSymbol(definition, tuple(reasons))))
        found.sort(key=lambda item: (-item[0], item[1].definition.start_line))
        return tuple(symbol for _score, symbol in found[:8])


def locate(
    index: RepoIndex,
    issue_text: str,
    k: int = 10,
    weights: Weights | None = None,
    include: Callable[[str], bool] | None = None,
) -> list[RankedFile]:
    """Rank an indexed repository's files for an issue: best first, with the reasons."""
    return Locator(index).locate(issue_text, k, weights, include)


def _fuse(bm25: Scores, weight: float, boosts: Scores) -> Scores:
    """bm25 × (1 + boost); a file with a boost and no words in common still gets a little."""
    fused: Scores = {}
    for path in bm25.keys() | boosts.keys():
        base, base_reasons = bm25.get(path, (0.0, [])) if weight else (0.0, [])
        boost, boost_reasons = boosts.get(path, (0.0, []))
        score = weight * base * (1 + boost) + (0.01 if weight else 1.0) * boost
        if score > 0:
            fused[path] = (score, boost_reasons + base_reasons)
    return fused


def _combine(signals: list[tuple[float, Scores]], allowed: set[str]) -> Scores:
    combined: Scores = {}
    for weight, scores in signals:
        if not weight:
            continue
        for path, (score, reasons) in scores.items():
            if path not in allowed:
                continue
            old, old_reasons = combined.get(path, (0.0, []))
            combined[path] = (old + weight * score, old_reasons + reasons)
    return combined


def _matched_terms(
    query: list[str], bm25: dict[str, float], locator: Locator
) -> dict[str, list[str]]:
    """For the best BM25 files, the query terms they contain (for the reasons shown)."""
    best = sorted(bm25, key=lambda p: -bm25[p])[:30]
    matched: dict[str, list[str]] = {p: [] for p in best}
    for term in dict.fromkeys(query):
        counts = locator.lexical.term_counts(term)
        for path in best:
            if locator.lexical.document(path) in counts and len(matched[path]) < 5:
                matched[path].append(term)
    return matched


def _outline_identifiers(definitions: tuple[Definition, ...]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for definition in definitions:
        for name in IDENTIFIER.findall(definition.signature):
            counts[name] = counts.get(name, 0) + 1
    return counts
