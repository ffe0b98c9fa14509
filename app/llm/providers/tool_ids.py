"""Tool-call ids in the form each provider accepts, so one conversation can move between them.

Each provider makes its own ids and refuses others' that break its rules (Mistral: nine
letters or digits; Anthropic: letters, digits, `_` and `-`; OpenAI: at most 40
characters). History keeps the id the answering provider gave; an adapter passes each id
through its provider's rule when it builds a request. The rule keeps an id that already
fits and otherwise derives one from it by hashing, the same way for a call and for the
result that answers it, so the pairing holds without any state.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62(data: bytes, length: int) -> str:
    number = int.from_bytes(data, "big")
    digits = []
    for _ in range(length):
        number, digit = divmod(number, 62)
        digits.append(_BASE62[digit])
    return "".join(digits)


@dataclass(frozen=True)
class ToolIdRule:
    accepts: re.Pattern[str]
    prefix: str
    digits: int  # base62 digits of the hash after the prefix

    def __call__(self, call_id: str) -> str:
        if self.accepts.fullmatch(call_id):
            return call_id
        digest = hashlib.sha256(call_id.encode()).digest()
        return self.prefix + _base62(digest, self.digits)


ANTHROPIC_IDS = ToolIdRule(re.compile(r"[a-zA-Z0-9_-]{1,64}"), "toolu_", 24)
OPENAI_IDS = ToolIdRule(re.compile(r"[a-zA-Z0-9_-]{1,40}"), "call_", 24)
MISTRAL_IDS = ToolIdRule(re.compile(r"[a-zA-Z0-9]{9}"), "", 9)
