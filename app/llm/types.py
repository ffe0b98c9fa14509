"""The one request and response shape the workflows speak, whatever the provider.

A conversation is a system prompt, an optional stable context (repository context, cached
by providers that cache), and messages. A message from the assistant may carry tool
calls; the caller answers each with a `tool` message naming the call's id. Providers'
own shapes are built from and parsed into these in `providers/`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import TypeAdapter

Role = Literal["planner", "coder", "reviewer", "cheap"]
ROLES: tuple[Role, ...] = ("planner", "coder", "reviewer", "cheap")
StopReason = Literal["end", "tool_use", "max_tokens", "other"]


@dataclass(frozen=True)
class ToolSpec:
    """A tool the model may call; `parameters` is a JSON schema of its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Message:
    """`user` and `assistant` carry text; `assistant` may add tool calls; `tool` answers
    one call (`tool_call_id`) with `text` as its result."""

    role: Literal["user", "assistant", "tool"]
    text: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    is_error: bool = False

    @staticmethod
    def user(text: str) -> Message:
        return Message("user", text)

    @staticmethod
    def assistant(text: str, tool_calls: tuple[ToolCall, ...] = ()) -> Message:
        return Message("assistant", text, tool_calls)

    @staticmethod
    def tool_result(call_id: str, text: str, is_error: bool = False) -> Message:
        return Message("tool", text, tool_call_id=call_id, is_error=is_error)


@dataclass(frozen=True)
class LLMRequest:
    role: Role
    system: str
    messages: tuple[Message, ...]
    context: str = ""  # long, stable prefix (repository context): cached where possible
    tools: tuple[ToolSpec, ...] = ()
    json_schema: dict[str, Any] | None = None  # ask for one JSON object matching it
    max_tokens: int = 4096
    temperature: float | None = None

    def with_messages(self, *extra: Message) -> LLMRequest:
        return replace(self, messages=(*self.messages, *extra))


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0  # uncached input tokens
    output_tokens: int = 0
    cached_tokens: int = 0  # input tokens read from the provider's prompt cache
    cache_write_tokens: int = 0  # input tokens written to the cache (Anthropic)

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_tokens + other.cached_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )


@dataclass(frozen=True)
class LLMResponse:
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    stop_reason: StopReason = "end"
    usage: Usage = field(default_factory=Usage)
    model: str = ""  # as the provider names it in the answer

    def as_message(self) -> Message:
        return Message.assistant(self.text, self.tool_calls)


@dataclass(frozen=True)
class Attempt:
    """One try of one model: `outcome` is `ok` or the kind of failure."""

    model_id: str
    outcome: str
    latency_ms: int = 0
    detail: str = ""


@dataclass(frozen=True)
class Completion:
    """What the router answers: the response, who gave it, what was tried, what it cost."""

    response: LLMResponse
    model_id: str  # provider:model that answered
    provider: str
    attempts: tuple[Attempt, ...]
    cost_usd: float
    billed_tokens: int = 0  # cache reads and writes weighted by their price (prices.py)

    @property
    def text(self) -> str:
        return self.response.text


_REQUEST = TypeAdapter(LLMRequest)
_RESPONSE = TypeAdapter(LLMResponse)


def request_to_json(request: LLMRequest) -> dict[str, Any]:
    data: dict[str, Any] = _REQUEST.dump_python(request, mode="json")
    return data


def request_from_json(data: object) -> LLMRequest:
    return _REQUEST.validate_python(data)


def response_to_json(response: LLMResponse) -> dict[str, Any]:
    data: dict[str, Any] = _RESPONSE.dump_python(response, mode="json")
    return data


def response_from_json(data: object) -> LLMResponse:
    return _RESPONSE.validate_python(data)


def request_fingerprint(request: LLMRequest) -> str:
    """Stable hash of what was asked (not of which model was asked): the replay key."""
    canonical = json.dumps(request_to_json(request), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
