"""What an issue's text says about where the code is: paths, traceback frames, dotted
names, and identifiers (those in code spans count for more). Pure functions."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.codemap import clues
from app.codemap.languages import LANGUAGES

_EXTENSIONS = "|".join(
    sorted(
        {ext.lstrip(".") for spec in LANGUAGES for ext in spec.extensions}, key=len, reverse=True
    )
)
_PATH = re.compile(rf"(?<![\w/.-])((?:[\w.-]+[/\\])*[\w.-]+\.(?:{_EXTENSIONS}))\b")
_PY_FRAME = re.compile(r'File "([^"]+)", line (\d+)(?:, in ([\w<>.]+))?')
# a match starts only where a path can (not inside a word or after a slash: an absolute
# path's leading slash is taken outside the group); without that a long run of word
# characters or segments was tried from each of its positions (quadratic in hostile text)
_COLON_FRAME = re.compile(
    rf"(?<![\w./-])/?((?:[\w.-]+/)*[\w.-]+\.(?:{_EXTENSIONS})):(\d+)(?::\d+)?"
    r"(?:[: ]+in ([\w<>.]+))?"
)
_JS_FRAME = re.compile(rf"at (?:([\w$.<>]+) )?\(?((?:[\w.@-]+/)*[\w.-]+\.(?:{_EXTENSIONS})):(\d+)")
_DOTTED = re.compile(r"(?<![\w.])([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+)(?![\w])")
_CODE_SPAN = re.compile(r"```.*?```|`[^`\n]+`", re.S)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD = re.compile(r"\w+")
_CALL = re.compile(r"(?<!\w)([A-Za-z_]\w*)\(")  # from a word's start only: linear


@dataclass(frozen=True, slots=True)
class Frame:
    path: str
    line: int
    function: str | None
    position: int  # 0 for the innermost frame (nearest the error), then 1, 2, ...


@dataclass
class Mentions:
    paths: list[str] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
    dotted: list[str] = field(default_factory=list)
    # identifier → weight: 1 in prose, more in code spans, tracebacks and calls
    identifiers: dict[str, float] = field(default_factory=dict)
    words: set[str] = field(default_factory=set)  # every \w+ token, for file-stem matches
    options: list[str] = field(default_factory=list)  # see clues.options
    prose_names: list[str] = field(default_factory=list)  # see clues.prose_names
    messages: list[str] = field(default_factory=list)  # see clues.messages
    aliases: dict[str, str] = field(default_factory=dict)  # see clues.imported_names
    imported: list[str] = field(default_factory=list)


# What of an issue's text is read for mentions: GitHub allows 65,536 characters in a body
# and GitLab a megabyte; what points at the code comes first, and the patterns' cost grows
# with the text.
MENTION_CHARS = 30_000


def read_mentions(text: str) -> Mentions:
    """Everything in an issue's text that can point at a file or a symbol."""
    text = text[:MENTION_CHARS]
    mentions = Mentions()
    mentions.frames, frame_spans = _frames(text)
    seen: set[str] = set()
    for match in _PATH.finditer(text):
        path = match.group(1).replace("\\", "/")
        in_frame = any(start <= match.start() < end for start, end in frame_spans)
        if path not in seen and not in_frame:
            seen.add(path)
            mentions.paths.append(path)
    extensions = set(_EXTENSIONS.split("|"))
    mentions.dotted = list(
        dict.fromkeys(
            m.group(1)
            for m in _DOTTED.finditer(text)
            if m.group(1).rsplit(".", 1)[1] not in extensions
        )
    )
    mentions.words = {w.lower() for w in _WORD.findall(text)}
    mentions.options = clues.options(text)
    mentions.prose_names = [n for n in clues.prose_names(text) if n not in mentions.options]
    mentions.messages = clues.messages(text)
    mentions.aliases, mentions.imported = clues.imported_names(text)

    code = " ".join(m.group(0) for m in _CODE_SPAN.finditer(text))
    weights = mentions.identifiers
    for name in _IDENTIFIER.findall(text):
        weights[name] = max(weights.get(name, 0.0), 1.0)
    for name in _IDENTIFIER.findall(code):
        weights[name] = max(weights[name], 2.0)
    for name in _CALL.findall(text):
        weights[name] = max(weights[name], 2.0)
    for dotted in mentions.dotted:
        for name in dotted.split("."):
            weights[name] = max(weights.get(name, 0.0), 1.5)
    for frame in mentions.frames:
        if frame.function and frame.function.isidentifier():
            weights[frame.function] = max(weights.get(frame.function, 0.0), 2.0)
    return mentions


def _frames(text: str) -> tuple[list[Frame], list[tuple[int, int]]]:
    """Traceback frames in the order written, then numbered from the innermost outwards.

    Python prints the innermost frame last; when a text holds several tracebacks, the
    last one usually is the error being reported.
    """
    found: list[tuple[int, str, int, str | None]] = []
    spans: list[tuple[int, int]] = []
    for match in _PY_FRAME.finditer(text):
        found.append((match.start(), match.group(1), int(match.group(2)), match.group(3)))
        spans.append(match.span())
    taken = {start for start, *_ in found}
    for match in _COLON_FRAME.finditer(text):
        if not any(abs(match.start() - start) < 8 for start in taken):
            found.append((match.start(), match.group(1), int(match.group(2)), match.group(3)))
            spans.append(match.span())
    for match in _JS_FRAME.finditer(text):
        found.append((match.start(), match.group(2), int(match.group(3)), match.group(1)))
        spans.append(match.span())
    found.sort()
    count = len(found)
    frames = [
        Frame(path.replace("\\", "/"), line, function, count - 1 - index)
        for index, (_start, path, line, function) in enumerate(found)
    ]
    return frames, spans


def path_matches(mentioned: str, candidate: str) -> bool:
    """Whether a mentioned path names a repository file: either ends with the other at a
    directory boundary (`/usr/lib/.../django/db/models/query.py` ~ `django/db/models/query.py`,
    `models/query.py` ~ `django/db/models/query.py`)."""
    mentioned = mentioned.lstrip("./")
    if mentioned == candidate:
        return True
    if len(mentioned) > len(candidate):
        return mentioned.endswith("/" + candidate)
    return candidate.endswith("/" + mentioned)
