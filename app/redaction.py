"""Removing secrets from text before it reaches a log, a comment, a prompt or argv.

A configured secret is caught whole and in pieces: a provider's error may echo the first
or last characters of a key, a truncated key, or its base64 / URL-encoded form. Every
piece of at least `FRAGMENT_MIN` characters of a secret (or of those encodings) is
redacted, and so is a masked form (`sk-ant-…abcd`, `sk-proj-****wxyz`) whose visible
head or tail is the secret's own.
"""

from __future__ import annotations

import base64
import functools
import keyword
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

REDACTED = "[REDACTED]"

# A secret shorter than this is replaced only whole (and one shorter than `_WHOLE_MIN`
# not at all: it would match ordinary words).
_WHOLE_MIN = 6
# The shortest piece of a secret redacted on its own; only secrets of at least
# `_FRAGMENTED_MIN` characters are searched for pieces, so a piece is never most of a
# short secret that could be an ordinary phrase.
FRAGMENT_MIN = 12
_FRAGMENTED_MIN = 16
# A piece made of fewer distinct characters (`000000000000`, a run of dashes) says nothing
# about the secret and would match ordinary text: only the whole secret catches it.
_FRAGMENT_DISTINCT_MIN = 6
# The visible head or tail of a masked key must be this long to be recognised as ours.
_MASK_VISIBLE_MIN = 4

# A private key block's first line, and what follows it inside the block: armour headers
# (`Proc-Type: 4,ENCRYPTED`, `DEK-Info: …`, `Version: …`), perhaps a blank line, then
# base64 lines; lines end with real newlines or with `\n` escaped in JSON or a literal.
_KEY_BEGIN = r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
_NL = r"(?:\r?\n|(?:\\r)?\\n)"
_KEY_HEADER = r"[A-Za-z][A-Za-z0-9\-]*: [^\r\n\\]*"

# Known token formats. GitHub's newer installation tokens (`ghs_`) run to ~520 characters
# and contain dots and underscores, so the token alphabet here is wider than base62.
_PATTERNS: tuple[re.Pattern[str], ...] = (
    # masked keys as providers print them: sk-proj-****wxyz, sk-ant-…abcd, ghp_...1234
    re.compile(
        r"\b(?:sk-ant-|sk-proj-|sk-|gh[pousr]_|github_pat_|glpat-|xox[abprs]-|hf_)"
        r"[\w\-]*(?:\*{2,}|•{2,}|…|\\u2026|\.{3,})[\w\-]*"
    ),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9_.\-]{20,}"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"\bglpat-[A-Za-z0-9_\-]{20,}"),
    re.compile(r"\bgl(?:oas|cbt|dt|rt|ptt|ft|imt|agent|soat)-[A-Za-z0-9_\-]{20,}"),
    re.compile(r"\bsk-ant-[A-Za-z0-9_\-]{20,}"),
    re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_\-]{20,}"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"\bxox[abprs]-[A-Za-z0-9\-]{10,}"),
    re.compile(r"\bwhsec_[A-Za-z0-9+/=]{16,}"),
    re.compile(r"\bAIza[0-9A-Za-z_\-]{35}"),  # Google API key
    re.compile(r"\b(?:sk|rk)_live_[0-9A-Za-z]{20,}"),  # Stripe
    re.compile(r"\bhf_[A-Za-z0-9]{30,}"),  # Hugging Face
    re.compile(r"\bnpm_[A-Za-z0-9]{36}"),  # npm
    re.compile(r"\bpypi-AgE[A-Za-z0-9_\-]{50,}"),  # PyPI
    # PEM / OpenSSH / PGP private key blocks, whole; or cut off before their END line (a
    # truncated file, a log line), then up to where the key material stops
    re.compile(
        rf"{_KEY_BEGIN}.*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
        rf"|{_KEY_BEGIN}(?:{_NL}{_KEY_HEADER})*(?:{_NL})?(?:{_NL}[A-Za-z0-9+/=]+)+",
        re.S,
    ),
    re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),  # JWT
    # credentials inside URLs: scheme://user:secret@host
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),
    # HTTP authorization values
    re.compile(r"(?i)(?<=authorization: )(?:basic|bearer|token) [^\s\"']+"),
)

# An AWS secret access key after its name, in any of the shapes AWS tools write it
# (`aws_secret_access_key = …`, `AWS_SECRET_ACCESS_KEY=…`, `"SecretAccessKey": "…"`).
_AWS_SECRET_KEY = re.compile(
    r"(?i)(?P<keep>secret[_\- ]?access[_\- ]?key\b[\s\"':=]{1,6})"
    r"[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"
)

# `name = value` where the name says the value is a secret: `password=…`, `DB_PASSWORD="…"`,
# `"api_key": "…"`, `token: …`, `client_secret := …`, `'passwd' => '…'`, and a Python
# annotation before the `=` (`token: str = "…"`). Only the value is replaced, so that a
# reader still sees what was there; `_secret_value` decides whether the value is a secret
# or code (`token = get_token()`).
_SENSITIVE_NAME_END = (
    r"(?:passw(?:or)?d|secret|token|api[_\-]?key|(?:secret|private)[_\-]?(?:access[_\-]?)?key)"
)
_ASSIGNMENT = re.compile(
    rf"""(?ix)
    {_SENSITIVE_NAME_END} (?![\w\-])                    # what the name ends with
    (?:\\?["'])?                                      # the end of a quoted name
    [\ \t]* (?: :[\ \t]*[a-z_][\w.\[\],\ |]*? [\ \t]* )?  # a type annotation
    (?: => | := | =(?!=) | :(?![:=]) ) [\ \t]*          # on the same line
    (?:
        (?P<quote>["'`]) (?P<quoted>(?:\\.|(?!(?P=quote))[^\\\r\n])*) (?P=quote)
      | \\(?P<equote>["']) (?P<escaped>(?:(?!\\(?P=equote))[^\r\n])*) \\(?P=equote)
      | (?P<bare>[^\s"'`,;&)\]}}]+)
    )
    """
)
# What a value names rather than is: `${DB_PASSWORD}`, `$TOKEN`, `{{ secrets.token }}`.
_REFERENCE = re.compile(r"\$\{\{?[^}]*\}\}?|\$\w+|\{\{[^}]*\}\}|%\([^)]*\)s?")
_SNAKE_IDENTIFIER = re.compile(r"[A-Za-z]+\d*(?:_[A-Za-z]+\d*)+")
_CAMEL_IDENTIFIER = re.compile(r"[a-z_][A-Za-z_]*")
_NOT_SECRETS = frozenset({"none", "null", "nil", "true", "false", "undefined", "required"})
_QUOTED_MIN = 4
_BARE_MIN = 8


def _secret_value(value: str, quoted: bool) -> bool:
    """Whether the value of a secret-named assignment is a secret. A quoted string literal
    is one when it has at least `_QUOTED_MIN` characters; an unquoted value only when it
    looks like one: long enough, with a digit or mixed case, and not an expression or a
    variable's name (`get_token()`, `request.form["password"]`, `settings.token`,
    `OPENAI_API_KEY`, `userPassword`, `None`)."""
    if _REFERENCE.fullmatch(value.strip()):
        return False
    if quoted:
        return len(value) >= _QUOTED_MIN
    return (
        len(value) >= _BARE_MIN
        and not any(c in value for c in "([{<")
        and not value.startswith(("$", "%", "@", "*"))
        and re.search(r"\.[A-Za-z_]", value) is None  # an attribute access
        and value.lower() not in _NOT_SECRETS
        and not keyword.iskeyword(value)
        and not _SNAKE_IDENTIFIER.fullmatch(value)
        and not _CAMEL_IDENTIFIER.fullmatch(value)
        and (
            any(c.isdigit() for c in value)
            or (any(c.isupper() for c in value[1:]) and any(c.islower() for c in value))
        )
    )


def _redact_assignment(match: re.Match[str]) -> str:
    group = next(g for g in ("quoted", "escaped", "bare") if match.group(g) is not None)
    if not _secret_value(match.group(group), quoted=group != "bare"):
        return match.group()
    start, end = match.span(group)
    whole = match.group()
    return whole[: start - match.start()] + REDACTED + whole[end - match.start() :]


# A mask inside a word: the visible head and tail around it are compared with the secrets.
_MASK = re.compile(r"\*{2,}|•{2,}|…|\\u2026|\.{3,}")  # \u2026: … escaped in JSON
_HEAD = re.compile(r"[\w\-]{1,64}$")
_TAIL = re.compile(r"[\w\-]{1,64}")
_WORD_RUN = re.compile(rf"\S{{{FRAGMENT_MIN},}}")


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace known token formats and the given secrets, whole or in pieces, with
    `[REDACTED]`; and the value of an assignment whose name says it is a secret
    (`password = "…"`), keeping the name."""
    index = _index(tuple(sorted({s for s in secrets if len(s) >= _WHOLE_MIN})))
    for secret in index.whole:
        text = text.replace(secret, REDACTED)
    if index.grams:
        text = _redact_fragments(text, index)
    for pattern in _PATTERNS:
        text = pattern.sub(REDACTED, text)
    text = _AWS_SECRET_KEY.sub(lambda m: m.group("keep") + REDACTED, text)
    return _ASSIGNMENT.sub(_redact_assignment, text)


def redact_named(name: str, value: str, secrets: Iterable[str] = ()) -> str:
    """`redact` for a value whose name travels apart from it (a JSON object's key): the
    whole value is a secret when the name says so and the value is a literal of at least
    `_QUOTED_MIN` characters, as in `{"password": "…"}`."""
    if is_secret_name(name) and _secret_value(value, quoted=True):
        return REDACTED
    return redact(value, secrets)


def is_secret_name(name: str) -> bool:
    """Whether a key or variable named `name` holds a secret (`password`, `DB_PASSWORD`,
    `api_key`, `client_secret`, `SecretAccessKey`, …), as `redact` judges assignments."""
    return re.fullmatch(rf"(?i)[\w\-]*{_SENSITIVE_NAME_END}", name) is not None


@dataclass(frozen=True)
class _SecretIndex:
    whole: tuple[str, ...]  # longest first, so a secret inside another goes second
    grams: frozenset[str]  # every FRAGMENT_MIN-long piece of every form of the secrets
    fragmented: tuple[str, ...]  # the secrets long enough to be searched for pieces


@functools.lru_cache(maxsize=64)
def _index(secrets: tuple[str, ...]) -> _SecretIndex:
    fragmented = tuple(s for s in secrets if len(s) >= _FRAGMENTED_MIN)
    grams: set[str] = set()
    for secret in fragmented:
        for form in secret_forms(secret):
            pieces = (form[i : i + FRAGMENT_MIN] for i in range(len(form) - FRAGMENT_MIN + 1))
            grams.update(p for p in pieces if len(set(p)) >= _FRAGMENT_DISTINCT_MIN)
    return _SecretIndex(tuple(sorted(secrets, key=len, reverse=True)), frozenset(grams), fragmented)


def secret_forms(secret: str) -> list[str]:
    """The secret as it may appear in a message: itself, URL-encoded, and the part of its
    base64 encodings that does not depend on what was encoded around it."""
    forms = [secret]
    quoted = quote(secret, safe="")
    if quoted != secret:
        forms.append(quoted)
    raw = secret.encode()
    for shift in range(3):  # the secret may start at any byte offset of a 3-byte group
        encoded = base64.b64encode(b"\0" * shift + raw).decode()
        stable = encoded[4 if shift else 0 : -4]
        if len(stable) >= FRAGMENT_MIN:
            forms.append(stable)
            forms.append(stable.replace("+", "-").replace("/", "_"))
    return forms


def _redact_fragments(text: str, index: _SecretIndex) -> str:
    spans: list[tuple[int, int]] = []
    for run in _WORD_RUN.finditer(text):
        word, start = run.group(), run.start()
        for i in range(len(word) - FRAGMENT_MIN + 1):
            if word[i : i + FRAGMENT_MIN] in index.grams:
                spans.append((start + i, start + i + FRAGMENT_MIN))
    for mask in _MASK.finditer(text):
        head = _HEAD.search(text, max(0, mask.start() - 64), mask.start())
        tail = _TAIL.match(text, mask.end())
        shown_head, shown_tail = head.group() if head else "", tail.group() if tail else ""
        if any(_shows_part_of(s, shown_head, shown_tail) for s in index.fragmented):
            spans.append((mask.start() - len(shown_head), mask.end() + len(shown_tail)))
    if not spans:
        return text
    pieces: list[str] = []
    cursor = 0
    for start, end in _merged(spans):
        pieces.append(text[cursor:start])
        pieces.append(REDACTED)
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)


def _shows_part_of(secret: str, head: str, tail: str) -> bool:
    return (len(head) >= _MASK_VISIBLE_MIN and secret.startswith(head)) or (
        len(tail) >= _MASK_VISIBLE_MIN and secret.endswith(tail)
    )


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


class RedactingFilter(logging.Filter):
    """A logging filter that redacts every record's rendered message and traceback."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = list(secrets)

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(self._secrets)

    def add_secret(self, secret: str) -> None:
        if secret and secret not in self._secrets:
            self._secrets.append(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = redact(message, self._secrets)
        record.args = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self._secrets)
        return True


_FILTER = RedactingFilter()


def install_log_redaction(secrets: Iterable[str] = ()) -> RedactingFilter:
    """Register the configured secrets and attach the process-wide redacting filter to
    every root handler."""
    for secret in secrets:
        _FILTER.add_secret(secret)
    root = logging.getLogger()
    for handler in root.handlers:
        if _FILTER not in handler.filters:
            handler.addFilter(_FILTER)
    return _FILTER


def register_secret(secret: str) -> None:
    """Tell the log filter about a secret learned at run time (a fresh token)."""
    _FILTER.add_secret(secret)


def registered_secrets() -> tuple[str, ...]:
    """Every secret this process knows: configured at start-up or learned since."""
    return _FILTER.secrets
