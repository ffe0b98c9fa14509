"""Text AgentOps posts pings nobody: every `@name` outside code is quieted (pure).

What a run posts carries words it did not choose: the model's summary, plan and review,
test names and test output from the repository. A steered model or a hostile test could
write `@org/security-team` or GitLab's `@all` and make the bot notify people on its behalf.
Both forges ignore mentions inside code, so each one outside code is put in a code span:
it still reads as `@name`, links nowhere and notifies no one.

It fails closed. Our reading of Markdown and the forge's may differ, so only what is
surely code is left as it is: a fenced block at the start of a line that is closed (a
review's `suggestion` block must apply unchanged), and a code span on one line of a
paragraph whose earlier lines are plain. Where a code span of ours might not be one (raw
HTML, a lone or escaped backtick, a line that could belong to a table, math or an HTML
block, an unclosed fence), the `@` becomes the look-alike `＠` (U+FF20), which no forge
reads as a mention. An `@` right after an ASCII letter or digit is an e-mail address (both
forges' mention patterns need a non-word character before the `@`).

`quietly(cut)` makes a truncation that quiets after cutting, and cuts again when the
quieted text outgrows the limit: a cut inside a code span would otherwise un-code it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence

from app.forges.base import CheckUpdate, ReviewComment

LOOK_ALIKE_AT = "\uff20"  # FULLWIDTH COMMERCIAL AT: one character, as long as "@"

# An "@" (or an HTML entity that renders as one) not after an ASCII letter or digit,
# before anything a GitHub or GitLab name can start with.
_AT = r"(?:@|&#0*64;|&#[xX]0*40;|&commat;)"
_NAME = r"[A-Za-z0-9_.\-]*[A-Za-z0-9_\-]"
# a name may also start with an entity or an escape that renders as its first letter
# (`@&#97;ll`, `@\\_x`): such an `@` is matched alone and made a look-alike
_MENTION = re.compile(rf"(?<![A-Za-z0-9]){_AT}(?={_NAME}|&|\\)(?:{_NAME})?(?:/{_NAME})*")
# CommonMark's line endings (str.splitlines knows more, which the forges don't)
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)?")
_BLANK = re.compile(r"[ \t]*(?:\r\n|\r|\n)?\Z")
_OPENER = re.compile(r"(?:(`{3,})[^`\r\n]*|(~{3,})[^\r\n]*)(?:\r\n|\r|\n)?\Z")
_CLOSER = re.compile(r" {0,3}(`{3,}|~{3,})[ \t]*(?:\r\n|\r|\n)?\Z")
_MATH_INFO = re.compile(r"(?:`{3,}|~{3,})[ \t]*math\b", re.IGNORECASE)
# GitLab's multi-line blockquote fence (`>>>`) ends its quote even inside a code block
_QUOTE_FENCE = re.compile(r" {0,3}>>>")
# A line that may start an HTML block, inside any blockquote or list item
_HTML_START = re.compile(r"(?:[ \t>]*(?:[-*+]|\d{1,9}[.)])(?=[ \t]|$))*[ \t>]*<")
_HTML_UNTIL = [  # CommonMark's HTML blocks 1-5 end at a marker, not at a blank line
    (
        re.compile(r"<(?:script|pre|style|textarea)(?:[\s>]|$)", re.I),
        re.compile(r"</(?:script|pre|style|textarea)>", re.I),
    ),
    (re.compile(r"<!--"), re.compile(r"-->")),
    (re.compile(r"<\?"), re.compile(r"\?>")),
    (re.compile(r"<![A-Za-z]"), re.compile(r">")),
    (re.compile(r"<!\[CDATA\["), re.compile(r"\]\]>")),
]
_FRONT_MATTER = re.compile(r"\A(?:[^\r\n]*coding:[^\r\n]*(?:\r\n|\r|\n))?\s*(?:---|\+\+\+|;;;)")
_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def quiet_mentions(text: str) -> str:
    """`text` with no mention outside code left that a forge would notify (pure)."""
    if not _MENTION.search(text):
        return text
    lines = _LINE.findall(text)
    if lines and lines[-1] == "":
        lines.pop()
    if _FRONT_MATTER.match(text):  # GitLab turns front matter into a code block: unsure
        return "".join(_look_alike(line) for line in lines)
    out: list[str] = []
    paragraph: list[str] = []  # the plain lines since the last blank line or block
    html_until: re.Pattern[str] | None = None  # in an HTML block (None: not in one)
    in_html = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if _BLANK.match(line):
            out.append(_quiet_paragraph(paragraph))
            paragraph = []
            out.append(line)
            if html_until is None:
                in_html = False
            i += 1
            continue
        if in_html:
            if html_until is not None and html_until.search(line):
                html_until = None
            out.append(_look_alike(line))
            i += 1
            continue
        fence = _trusted_fence(lines, i)
        if fence:
            out.append(_quiet_paragraph(paragraph))
            paragraph = []
            out.extend(lines[i : i + fence])
            i += fence
            continue
        if _HTML_START.match(line):
            out.append(_quiet_paragraph(paragraph))
            paragraph = []
            in_html = True
            html_until = _html_end(line)
            if html_until is not None and html_until.search(line[line.index("<") + 1 :]):
                html_until = None
            out.append(_look_alike(line))
            i += 1
            continue
        if _OPENER.match(line):  # a fence we cannot trust: all of the rest is unsure
            out.append(_quiet_paragraph(paragraph))
            out.extend(_look_alike(rest) for rest in lines[i:])
            return "".join(out)
        paragraph.append(line)
        i += 1
    out.append(_quiet_paragraph(paragraph))
    return "".join(out)


def _trusted_fence(lines: list[str], start: int) -> int:
    """How many lines the fenced block starting at `lines[start]` takes, when it surely
    is one for CommonMark, GFM and GitLab: it starts at the line's first column, is closed
    and holds no `>>>` line; 0 otherwise."""
    opened = _OPENER.match(lines[start])
    if not opened or _MATH_INFO.match(lines[start]):
        return 0
    fence = opened.group(1) or opened.group(2)
    for end in range(start + 1, len(lines)):
        line = lines[end]
        if _QUOTE_FENCE.match(line):
            return 0
        closed = _CLOSER.match(line)
        if closed and closed.group(1)[0] == fence[0] and len(closed.group(1)) >= len(fence):
            return end - start + 1
    return 0


def _html_end(line: str) -> re.Pattern[str] | None:
    tail = line[line.index("<") :]
    for start, end in _HTML_UNTIL:
        if start.match(tail):
            return end
    return None


def _quiet_paragraph(lines: list[str]) -> str:
    """Mentions quieted in consecutive non-blank lines outside fenced blocks.

    A line's code spans are kept only while every earlier line of the paragraph is plain
    (its backticks pair on that line, no `<` or `$`, no `|` inside a span that a table
    would split): a code span can start on any line and the forge may split the
    paragraph anywhere."""
    out: list[str] = []
    plain = True
    for line in lines:
        spans = _code_spans(line) if plain else None
        if spans is None:
            plain = False
            out.append(_look_alike(line))
        else:
            out.append(_quiet_line(line, spans))
    return "".join(out)


def _code_spans(line: str) -> list[tuple[int, int]] | None:
    """The code spans of `line` as CommonMark pairs its backticks, or None when the line
    may read otherwise to a forge (an unpaired backtick, raw HTML, math, a table cell)."""
    if "<" in line or "$" in line:
        return None
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(line):
        char = line[i]
        if char == "\\" and i + 1 < len(line) and line[i + 1] in _PUNCTUATION:
            i += 2
            continue
        if char != "`":
            i += 1
            continue
        run = _run_at(line, i)
        close = _closing_run(line, i + run, run)
        if close is None or "|" in line[i:close]:
            return None
        spans.append((i, close + run))
        i = close + run
    return spans


def _run_at(line: str, i: int) -> int:
    end = i
    while end < len(line) and line[end] == "`":
        end += 1
    return end - i


def _closing_run(line: str, i: int, length: int) -> int | None:
    while i < len(line):
        if line[i] != "`":
            i += 1
            continue
        run = _run_at(line, i)
        if run == length:
            return i
        i += run
    return None


def _quiet_line(line: str, spans: list[tuple[int, int]]) -> str:
    pieces: list[str] = []
    start = 0
    for span_start, span_end in [*spans, (len(line), len(line))]:
        pieces.append(_quiet_prose(line, start, span_start))
        pieces.append(line[span_start:span_end])
        start = span_end
    return "".join(pieces)


def _quiet_prose(line: str, start: int, end: int) -> str:
    """Mentions in `line[start:end]`, surely outside code, put in code spans (or made
    look-alikes where a backtick of ours could pair with a neighbour, or would let the
    next `@` start a text node: `` `@a`@b `` mentions b)."""

    def quiet(match: re.Match[str]) -> str:
        before = line[match.start() - 1] if match.start() > 0 else ""
        after = line[match.end()] if match.end() < len(line) else ""
        if match.group(0)[0] != "@" or before in ("\\", "`") or after in ("`", "@", "&", "\\"):
            return _as_look_alike(match)
        return f"`{match.group(0)}`"

    pieces: list[str] = []
    at = start
    for match in _MENTION.finditer(line, start, end):
        pieces += [line[at : match.start()], quiet(match)]
        at = match.end()
    pieces.append(line[at:end])
    return "".join(pieces)


def _look_alike(text: str) -> str:
    return _MENTION.sub(_as_look_alike, text)


def _as_look_alike(match: re.Match[str]) -> str:
    return LOOK_ALIKE_AT + re.sub(rf"\A{_AT}", "", match.group(0))


def quietly(
    cut: Callable[[str, int], str], size: Callable[[str], int] = len
) -> Callable[[str, int], str]:
    """`cut` followed by `quiet_mentions`, cut shorter until the quieted text fits.

    Quieting after the cut: a cut inside a code span leaves its mention outside code.
    Quieting adds two backticks per mention, so the text is cut again by the excess."""

    def cut_quietly(text: str, limit: int) -> str:
        room = limit
        while True:
            quieted = quiet_mentions(cut(text, room))
            over = size(quieted) - limit
            if over <= 0 or room <= 0:
                return quieted
            room = max(0, room - over)

    return cut_quietly


def utf8_size(text: str) -> int:
    return len(text.encode())


def quiet_review(comments: Sequence[ReviewComment]) -> list[ReviewComment]:
    return [dataclasses.replace(c, body=quiet_mentions(c.body)) for c in comments]


def quiet_check(update: CheckUpdate) -> CheckUpdate:
    return dataclasses.replace(
        update,
        title=quiet_mentions(update.title),
        summary=quiet_mentions(update.summary),
        text=quiet_mentions(update.text),
    )
