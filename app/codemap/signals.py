"""Each way an issue can point at a file, as its own scoring function.

Every signal returns file → (score, reasons); scores are comparable across signals
(a certain hit is about 1), so that `locate` can weigh and add them, and a benchmark can
switch any of them off to measure what it contributes.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable
from itertools import pairwise

from app.codemap.graph import CodeGraph, resolve_dotted
from app.codemap.mentions import Mentions, path_matches
from app.codemap.terms import STOPWORDS

Scores = dict[str, tuple[float, list[str]]]

# Definition names so common that defining one says nothing about a file.
_COMMON_NAMES = frozenset(
    {
        "__init__",
        "__str__",
        "__repr__",
        "__eq__",
        "__hash__",
        "main",
        "setUp",
        "tearDown",
        "get",
        "set",
        "run",
        "test",
        "name",
        "value",
    }
)


CASE_FOLDED_WEIGHT = 0.3
RARE_FILES = 5
QUALIFIED_WEIGHT = 2.0


def _add(scores: Scores, path: str, score: float, reason: str) -> None:
    old, reasons = scores.get(path, (0.0, []))
    reasons.append(reason)
    scores[path] = (old + score, reasons)


def path_signal(mentions: Mentions, paths: list[str]) -> Scores:
    """Files whose path the issue names; a name that fits several files is shared."""
    scores: Scores = {}
    for mentioned in mentions.paths:
        hits = [p for p in paths if path_matches(mentioned, p)]
        for path in hits:
            _add(scores, path, 1.0 / len(hits), f"path mentioned: {mentioned}")
    return scores


def frame_signal(mentions: Mentions, paths: list[str]) -> Scores:
    """Files in traceback frames; the innermost frames in the repository count most."""
    scores: Scores = {}
    rank = 0
    for frame in sorted(mentions.frames, key=lambda f: f.position):
        hits = [p for p in paths if path_matches(frame.path, p)]
        if not hits:
            continue
        where = f" in {frame.function}" if frame.function else ""
        for path in hits:
            if path in scores:
                continue
            _add(
                scores,
                path,
                1.0 / (1 + 0.5 * rank) / len(hits),
                f"traceback frame: line {frame.line}{where}",
            )
        rank += 1
    return scores


def module_signal(mentions: Mentions, graph: CodeGraph) -> Scores:
    """Files named by a dotted module path (`django.db.models.query.QuerySet`)."""
    scores: Scores = {}
    for dotted in mentions.dotted:
        found = resolve_dotted(dotted, graph.modules)
        if found is None:
            continue
        path, rest = found
        module = dotted[: len(dotted) - len(rest)].rstrip(".")
        if "." not in module:
            continue  # a bare top-level package, or `self.x` resolving by accident
        defined = not rest or any(p == path for p, _ in graph.definers.get(rest.split(".")[0], []))
        if path in scores and defined is False:
            continue
        _add(scores, path, 1.0 if defined else 0.5, f"module mentioned: {dotted}")
    return scores


MODULE_TAIL_FILES = 3  # a tail that ends more module names than this points nowhere
_TAIL_DEPTH = 8  # deeper than a written module path; a hostile `a.a.a…` is cut


def module_tail_signal(mentions: Mentions, graph: CodeGraph) -> Scores:
    """Files named by a dotted module path written without its top package
    (`checkers.utils.is_sys_guard`, `polys.rings`, `units.format.fits`): what a user of a
    deep package tree writes, relative to the package. Two parts at least, and a tail
    that few modules end with; a name the full module path resolves is `module_signal`'s."""
    scores: Scores = {}
    tails = graph.modules_by_tail()
    for dotted in mentions.dotted:
        found = resolve_dotted(dotted, graph.modules)
        if found is not None and "." in dotted[: len(dotted) - len(found[1])].rstrip("."):
            continue
        parts = dotted.split(".")[:_TAIL_DEPTH]
        for end in range(len(parts), 1, -1):
            hits = tails.get(".".join(parts[:end]))
            if not hits:
                continue
            if len(hits) <= MODULE_TAIL_FILES:
                rest = parts[end] if end < len(parts) else ""
                for path in hits:
                    defined = not rest or any(p == path for p, _ in graph.definers.get(rest, []))
                    score = (1.0 if defined else 0.5) / len(hits)
                    _add(scores, path, score, f"module mentioned: {dotted}")
            break
    return scores


def stem_signal(mentions: Mentions, paths: list[str]) -> Scores:
    """Files whose name (without extension) is a word of the issue, when few files share it."""
    by_stem: defaultdict[str, list[str]] = defaultdict(list)
    for path in paths:
        stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0].lower()
        by_stem[stem].append(path)
    scores: Scores = {}
    for word in mentions.words:
        hits = by_stem.get(word)
        if not hits or len(hits) > 3 or len(word) < 4 or word in STOPWORDS:
            continue
        for path in hits:
            _add(scores, path, 1.0 / len(hits), f"file name mentioned: {word}")
    return scores


def symbol_signal(mentions: Mentions, graph: CodeGraph, file_count: int) -> Scores:
    """Files that define identifiers the issue names, weighted by how rare the name is.

    A name written in another case (`isnull` for `IsNull`) counts for less; a qualified
    name (`QuerySet.bulk_create`) whose parts are defined that way in one file, for more.
    """
    raw: defaultdict[str, float] = defaultdict(float)
    names: defaultdict[str, list[str]] = defaultdict(list)
    wanted: dict[str, tuple[float, str]] = {}
    for identifier, weight in mentions.identifiers.items():
        if identifier in graph.definers:
            wanted[identifier] = (weight, identifier)
    for identifier, weight in mentions.identifiers.items():
        for other in graph.definers_by_lower_name().get(identifier.lower(), ()):
            if other not in wanted and len(identifier) >= 5:
                wanted[other] = (weight * CASE_FOLDED_WEIGHT, identifier)
    for name, (weight, written) in wanted.items():
        if name in _COMMON_NAMES or len(name) < 3:
            continue
        definitions = graph.definers[name]
        files = {path for path, _ in definitions}
        rarity = math.log(1 + file_count / len(files))
        best_kind: dict[str, float] = {}
        for path, definition in definitions:
            kind = 1.5 if definition.kind in ("class", "interface", "trait") else 1.0
            best_kind[path] = max(best_kind.get(path, 0.0), kind)
        for path, kind in best_kind.items():
            raw[path] += weight * rarity * kind
            names[path].append(written)
    for dotted in mentions.dotted:
        parts = dotted.split(".")
        for owner, member in pairwise(parts):
            for path, definition in graph.definers.get(member, ()):
                if definition.qualname.endswith(f"{owner}.{member}"):
                    raw[path] += QUALIFIED_WEIGHT * math.log(1 + file_count)
                    names[path].append(f"{owner}.{member}")
    top = max(raw.values(), default=0.0)
    if not top:
        return {}
    return {
        path: (score / top, [f"defines {', '.join(sorted(set(names[path]))[:6])}"])
        for path, score in raw.items()
    }


_CODE_LIKE = re.compile(r"[a-z][A-Z]|[A-Za-z]_[A-Za-z]|[A-Za-z]\d|^[A-Z]{2,}$")


def rare_identifier_signal(
    mentions: Mentions, files_using: Callable[[str], list[str]], file_count: int
) -> Scores:
    """Files that use a code-like identifier of the issue (`E108`, `get_foo_display`,
    `SCRIPT_NAME`) that few files use; the rarer, the stronger."""
    scores: Scores = {}
    for identifier, weight in mentions.identifiers.items():
        if len(identifier) < 4 or not (weight > 1 or _CODE_LIKE.search(identifier)):
            continue
        files = files_using(identifier)
        if not files or len(files) > RARE_FILES:
            continue
        rarity = math.log(1 + file_count / len(files)) / math.log(1 + file_count)
        for path in files:
            _add(scores, path, rarity, f"uses {identifier}")
    return scores


def bm25_signal(
    bm25: dict[str, float], top_terms: dict[str, list[str]], label: str = "BM25"
) -> Scores:
    top = max(bm25.values(), default=0.0)
    if not top:
        return {}
    result: Scores = {}
    for path, score in bm25.items():
        terms = top_terms.get(path)
        reason = f"{label} {score:.1f}" + (f": {', '.join(terms)}" if terms else "")
        result[path] = (score / top, [reason])
    return result


def graph_signal(strong: Scores, graph: CodeGraph, fanout: int = 5) -> Scores:
    """Neighbours (imports either way) of the strongest hits share a little of their score."""
    scores: Scores = {}
    leaders = sorted(strong.items(), key=lambda item: -item[1][0])[:fanout]
    for leader, (score, _reasons) in leaders:
        neighbours = graph.neighbours(leader)
        if not neighbours:
            continue
        share = score / math.sqrt(len(neighbours))
        for path in neighbours:
            _add(scores, path, share, f"imports or imported by {leader}")
    return scores
