"""The scripted answers of the LLM simulator (`tests/sim/llm_sim.py`): text, tool calls,
structured output, and the providers' errors and misbehaviours."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class Reply:
    text: str = ""
    tool_calls: tuple[tuple[str, dict[str, Any]], ...] = ()
    status: int = 200
    error_type: str = ""
    error_message: str = ""
    retry_after: float | None = None
    delay: float = 0.0
    output_tokens: int = 7
    error_code: str = ""  # OpenAI's `error.code`, e.g. insufficient_quota
    headers: tuple[tuple[str, str], ...] = ()
    raw_body: str | None = None  # a 200 whose body is exactly this (not valid JSON, cut...)
    drop: bool = False  # a 200 whose body stops halfway and the connection closes
    stop: str = ""  # the stop reason to report instead of the natural one
    # made from the text of the request's last tool result (a model using what a tool said)
    derive: Callable[[str], Reply] | None = None


def text(answer: str) -> Reply:
    return Reply(text=answer)


def tool_call(name: str, arguments: dict[str, Any], say: str = "") -> Reply:
    return Reply(text=say, tool_calls=((name, arguments),))


def from_last_result(make: Callable[[str], Reply]) -> Reply:
    """The answer `make` gives for the text of the last tool result the model was sent."""
    return Reply(derive=make)


def last_tool_result(body: dict[str, Any]) -> str:
    """The text of the last tool result in a Messages or Chat Completions request body."""
    found = ""
    for message in body.get("messages") or []:
        if message.get("role") == "tool":
            found = str(message.get("content") or "")
        content = message.get("content")
        for block in content if isinstance(content, list) else []:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                inner = block.get("content")
                found = inner if isinstance(inner, str) else json.dumps(inner)
    return found


def structured(value: object) -> Reply:
    return Reply(text=json.dumps(value))


def fault(status: int, retry_after: float | None = None, message: str = "") -> Reply:
    kinds = {
        429: "rate_limit_error",
        500: "api_error",
        503: "api_error",
        529: "overloaded_error",
        401: "authentication_error",
        403: "permission_error",
    }
    return Reply(
        status=status,
        error_type=kinds.get(status, "invalid_request_error"),
        error_message=message or f"simulated {status}",
        retry_after=retry_after,
    )


def quota_exhausted(api: str = "openai") -> Reply:
    """The providers' answer when the account has no credit left (not a rate limit)."""
    if api == "anthropic":
        return Reply(
            status=400,
            error_type="invalid_request_error",
            error_message="Your credit balance is too low to access the Anthropic API. "
            "Please go to Plans & Billing to upgrade or purchase credits.",
        )
    return Reply(
        status=429,
        error_type="insufficient_quota",
        error_code="insufficient_quota",
        error_message="You exceeded your current quota, please check your plan and billing "
        "details.",
    )


def rate_limited_with_reset(**resets: str) -> Reply:
    """A 429 without `retry-after`, telling when the limits reset in its own headers."""
    return Reply(
        status=429,
        error_type="rate_limit_error",
        error_message="Rate limit reached",
        headers=tuple(resets.items()),
    )


def garbage(body: str = "<html>502 Bad Gateway</html>") -> Reply:
    return Reply(raw_body=body)


def dropped() -> Reply:
    return Reply(drop=True)


def empty(stop: str = "") -> Reply:
    """No text and no tool call, as at `max_tokens` or from a small local model."""
    return Reply(text="", stop=stop)


def overloaded() -> Reply:
    return fault(529, message="Overloaded")


def context_too_long() -> Reply:
    return Reply(
        status=400,
        error_type="context_length",
        error_message="prompt is too long: 250000 tokens > 200000 maximum",
    )


def slow(seconds: float, then: Reply | None = None) -> Reply:
    base = then or text("slow answer")
    return replace(base, delay=seconds)
