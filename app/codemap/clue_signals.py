"""Signals from what an issue quotes verbatim (see `clues`): the files that define the
options and config keys it names, that hold the messages it quotes, and that define the
public API names its code uses. Each returns file → (score, reasons), like `signals`."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from app.codemap.graph import CodeGraph, resolve_dotted
from app.codemap.source_text import SourceText

Scores = dict[str, tuple[float, list[str]]]

RARE_FILES = 6  # a string held by more files than this says little about any of them
IMPORT_DEPTH = 3
PROSE_CANDIDATES = 40  # files whose words hold every part of a prose name, read at most


def _add(scores: Scores, path: str, score: float, reason: str) -> None:
    old, reasons = scores.get(path, (0.0, []))
    reasons.append(reason)
    scores[path] = (min(1.0, old + score), reasons)


def option_signal(options: list[str], text: SourceText, allowed: set[str]) -> Scores:
    """Files that hold an option or config key as a string literal (`"--import-mode"`,
    `'max-line-length'`, `"autodoc_typehints"`): where options are declared, not the many
    files that read the parsed value."""
    scores: Scores = {}
    for option in options:
        held = text.files_with(option, around=_declared, limit=RARE_FILES)
        hits = [p for p in held if p in allowed]
        if not hits or len(hits) > RARE_FILES:
            continue
        for path in hits:
            _add(scores, path, 1.0 / len(hits) ** 0.5, f"declares option {option}")
    return scores


def prose_name_signal(
    names: list[str],
    text: SourceText,
    files_using: Callable[[str], list[str]],
    allowed: set[str],
) -> Scores:
    """Files that hold a hyphenated name written in the issue's prose
    (`unnecessary-comprehension`) as a whole string literal, as `option_signal`. Most such
    names are plain English (`built-in`), so only the files whose words hold every part of
    the name are read, and only when they are few: the tree's text is not loaded for them."""
    scores: Scores = {}
    for name in names:
        parts = name.split("-")
        candidates = allowed.intersection(files_using(parts[0]))
        for part in parts[1:]:
            if len(candidates) <= PROSE_CANDIDATES:
                candidates.intersection_update(files_using(part))
        if not candidates or len(candidates) > PROSE_CANDIDATES:
            continue
        hits = text.files_among(name, sorted(candidates), around=_declared)
        if not hits or len(hits) > RARE_FILES:
            continue
        for path in hits:
            _add(scores, path, 1.0 / len(hits) ** 0.5, f"declares name {name}")
    return scores


def _declared(before: str, after: str) -> bool:
    """`"name"`, `'--name'`, `"name=..."`: the name as a whole string literal."""
    quoted = before[-1:] in ("'", '"') or before[-2:] in ("'-", '"-') or before in ("'--", '"--')
    return quoted and after in ("'", '"', "=")


def message_signal(runs: list[str], text: SourceText, allowed: set[str]) -> Scores:
    """Files that hold a quoted message's literal words (`cannot be used with`), a run at a
    time: messages are formatted, so the whole line is rarely in the source as written."""
    scores: Scores = {}
    for run in runs:
        held = text.files_with(run, fold_case=True, limit=RARE_FILES)
        hits = [p for p in held if p in allowed]
        if not hits or len(hits) > RARE_FILES:
            continue
        for path in hits:
            _add(scores, path, 1.0 / len(hits), f'holds the message "{run}"')
    return scores


def api_signal(
    dotted: list[str], aliases: dict[str, str], graph: CodeGraph, allowed: set[str]
) -> Scores:
    """Files that define a public name the issue uses (`sympy.solve`, `xr.DataArray.rolling`,
    `from seaborn import lineplot`), found from the module it is imported from through the
    import graph: packages re-export names defined deep below them. A name defined in the
    module itself is left to `module_signal`."""
    scores: Scores = {}
    for written in dotted:
        head, _, tail = written.partition(".")
        full = f"{aliases[head]}.{tail}" if head in aliases and tail else aliases.get(head, written)
        found = resolve_dotted(full, graph.modules)
        if found is None or not found[1]:
            continue
        module_path, rest = found
        name, _, member = rest.partition(".")
        for path, distance in _definers_near(module_path, name, graph):
            if path not in allowed or distance == 0:
                continue  # defined where the module path points: the module signal's hit
            owns_member = not member or any(
                d.qualname == f"{name}.{member.split('.')[0]}"
                for p, d in graph.definers.get(member.split(".")[0], ())
                if p == path
            )
            score = 1.0 if owns_member else 0.5
            _add(scores, path, score, f"defines {written} (imported as {full})")
    return scores


def _definers_near(start: str, name: str, graph: CodeGraph) -> list[tuple[str, int]]:
    """The files defining `name` at top level that are nearest `start` by imports."""
    definers = {p for p, d in graph.definers.get(name, ()) if d.qualname == name}
    if not definers:
        return []
    seen = {start: 0}
    queue = deque([start])
    found: list[tuple[str, int]] = []
    while queue:
        path = queue.popleft()
        distance = seen[path]
        if path in definers:
            found.append((path, distance))
            continue  # a definition here shadows what this file imports
        if found or distance >= IMPORT_DEPTH:
            continue
        for target in sorted(graph.imports.get(path, ())):
            if target not in seen:
                seen[target] = distance + 1
                queue.append(target)
    nearest = min((d for _, d in found), default=0)
    return [(p, d) for p, d in found if d == nearest]
