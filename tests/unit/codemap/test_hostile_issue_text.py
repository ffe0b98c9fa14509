"""Issue text is the issue author's: whatever it holds, ranking it is bounded work.

The worker ranks in a thread, but a regular expression holds the GIL while it runs: a
pattern quadratic in the text froze the whole worker (no heartbeats, every other run
stalled) for as long as it took. Each text below is GitHub's largest body; the
quadratic patterns took from 3.4 s (a 30,000-character word before `(`) to minutes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.codemap.index import build_index
from app.codemap.locate import Locator

SHOP = Path(__file__).parents[2] / "fixtures" / "codemap" / "shop"
BODY = 65_536

HOSTILE = {
    "blank lines": "\n" * BODY,
    "indented blank lines": " \n\t\n" * (BODY // 4),
    "one long word": "a" * BODY,
    "one long word then a call": "a" * (BODY - 1) + "(",
    "path segments": "a/" * (BODY // 2),
    "dotted": "a." * (BODY // 2),
    "colon frames": "a.py:" * (BODY // 5),
    "backticks": "`" * BODY,
    "tracebacks": 'File "x.py", line 1, in f\n' * (BODY // 26),
    "quoted": '"' * BODY,
    "options": "--" * (BODY // 2),
    "an error with one long token": "ValueError: " + "a_" * (BODY // 2 - 6),
    "a quoted long token": '"' + "x/" * (BODY // 2 - 1) + '"',
    "imports": "from a import (" + "b, " * (BODY // 3 - 6) + ")",
}


@pytest.fixture(scope="module")
def locator() -> Locator:
    return Locator(build_index(SHOP))


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_issue_body_is_ranked_in_bounded_time(locator: Locator, name: str) -> None:
    started = time.process_time()
    locator.locate(f"Title\n\n{HOSTILE[name]}", k=10)
    assert time.process_time() - started < 2.0, name
