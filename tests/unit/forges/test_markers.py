"""Hidden comment markers and the create-once rule (pure, no HTTP)."""

from __future__ import annotations

import pytest

from app.forges.base import ForgeAPIError, ForgeRateLimited, ForgeTransientError
from app.forges.github.format import COMMENT_MAX_CHARS, truncate_chars
from app.forges.markers import carries, marked, marker, once_key, run_key, unmarked
from app.forges.retry import RetryPolicy, create_once

FAST = RetryPolicy(attempts=3, base_delay=0.0001, max_delay=0.0002)


def test_a_marker_is_an_html_comment_that_names_the_run_and_purpose() -> None:
    assert marker(run_key(12, "reply:delivered")) == (
        "<!-- agentops:run=12 key=reply:delivered -->"
    )
    assert once_key() != once_key()


@pytest.mark.parametrize("key", ["a-->b", "x--y", "new\nline", ""])
def test_a_key_that_could_end_the_html_comment_is_refused(key: str) -> None:
    with pytest.raises(ValueError):
        marker(key)


def test_marked_keeps_the_marker_when_the_body_is_cut() -> None:
    key = run_key(1, "reply:plan")
    body = marked("x" * 70_000, key, COMMENT_MAX_CHARS, truncate_chars)
    assert len(body) <= COMMENT_MAX_CHARS and body.endswith(marker(key))
    assert "truncated" in body and carries(body, key)


def test_marking_twice_leaves_one_marker_and_unmarked_gives_the_text_back() -> None:
    key = run_key(1, "check")
    once = marked("Done", key, 1000, truncate_chars)
    assert marked(once, key, 1000, truncate_chars) == once
    assert unmarked(once + "\n\n<!-- agentops:check -->") == "Done"


class Forge:
    """Scripted outcomes for `create_once`: what each POST does, what a lookup finds."""

    def __init__(self, posts: list[BaseException | None], applied: list[bool]) -> None:
        self.posts, self.applied, self.made = posts, applied, 0
        self.tries = 0

    async def create(self) -> int:
        outcome = self.posts[self.tries]
        if self.applied[self.tries]:
            self.made += 1
        self.tries += 1
        if outcome is not None:
            raise outcome
        return self.made

    async def find(self) -> int | None:
        return self.made or None


async def test_an_applied_failure_is_found_and_not_posted_again() -> None:
    forge = Forge([ForgeTransientError("502")], applied=[True])
    assert await create_once(forge.create, forge.find, policy=FAST, action="post") == 1
    assert forge.tries == 1 and forge.made == 1


async def test_a_failure_that_made_nothing_is_tried_again() -> None:
    forge = Forge([ForgeTransientError("502"), None], applied=[False, True])
    assert await create_once(forge.create, forge.find, policy=FAST, action="post") == 1
    assert forge.tries == 2


async def test_it_gives_up_after_the_policy() -> None:
    forge = Forge([ForgeTransientError("500")] * 3, applied=[False] * 3)
    with pytest.raises(ForgeTransientError):
        await create_once(forge.create, forge.find, policy=FAST, action="post")
    assert forge.tries == 3


@pytest.mark.parametrize("error", [ForgeRateLimited("429", 30), ForgeAPIError("422", 422)])
async def test_a_refusal_or_a_rate_limit_is_raised_at_once(error: Exception) -> None:
    forge = Forge([error], applied=[False])
    with pytest.raises(type(error)):
        await create_once(forge.create, forge.find, policy=FAST, action="post")
    assert forge.tries == 1
