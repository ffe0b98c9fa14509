"""A probe's good answer is kept; a bad one only for its retry time."""

from __future__ import annotations

import time

from app.probe_cache import success_cached


def test_a_problem_is_asked_again_after_the_retry_time_and_none_is_kept() -> None:
    answers = iter(["bwrap timed out", None, "never asked"])
    calls: list[str | None] = []

    @success_cached(lambda problem: problem is None, retry_seconds=0.2)
    def problem() -> str | None:
        calls.append(answer := next(answers))
        return answer

    assert problem() == "bwrap timed out"
    assert problem() == "bwrap timed out"
    assert len(calls) == 1
    time.sleep(0.25)
    assert problem() is None
    time.sleep(0.25)
    assert problem() is None
    assert calls == ["bwrap timed out", None]
