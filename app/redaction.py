"""Removing secrets from text before it reaches a log, a comment, a prompt or argv."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

REDACTED = "[REDACTED]"

# Known token formats. GitHub's newer installation tokens (`ghs_`) run to ~520 characters
# and contain dots and underscores, so the token alphabet here is wider than base62.
_PATTERNS: tuple[re.Pattern[str], ...] = (
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
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
    re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),  # JWT
    # credentials inside URLs: scheme://user:secret@host
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),
    # HTTP authorization values
    re.compile(r"(?i)(?<=authorization: )(?:basic|bearer|token) [^\s\"']+"),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace known token formats and the given literal secrets with `[REDACTED]`."""
    for secret in sorted((s for s in secrets if len(s) >= 6), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts every record's rendered message and traceback."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = list(secrets)

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
    """Attach the process-wide redacting filter to every root handler."""
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
