"""Anthropic Messages API adapter.

The stable prefix (system prompt, then repository context) is sent as system blocks with
`cache_control` on the last one, so tools + system + context are cached together; two
more breakpoints move along the conversation (`_mark_conversation`).
Structured output uses the API's `output_config.format` (`json_schema`): the answer is a
text block holding the JSON. The Messages API of this SDK generation has no
`temperature`; a request's temperature is not sent to Anthropic.
"""

from __future__ import annotations

from typing import Any

import anthropic
import httpx2

from app.llm.errors import ProviderError
from app.llm.providers.sdk_errors import UNREADABLE, invalid_response, translate_sdk_error
from app.llm.providers.tool_ids import ANTHROPIC_IDS
from app.llm.providers.tool_names import tool_name_from_wire, wire_tool_name
from app.llm.types import LLMRequest, LLMResponse, Message, StopReason, ToolCall, Usage

_STOP: dict[str, StopReason] = {
    "end_turn": "end",
    "stop_sequence": "end",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
}


_EPHEMERAL = {"type": "ephemeral"}


def _content_of(message: Message) -> list[dict[str, Any]]:
    if message.role == "tool":
        return [
            {
                "type": "tool_result",
                "tool_use_id": ANTHROPIC_IDS(message.tool_call_id or ""),
                "content": message.text or "(no output)",
                "is_error": message.is_error,
            }
        ]
    blocks: list[dict[str, Any]] = []
    if message.text:
        blocks.append({"type": "text", "text": message.text})
    for call in message.tool_calls:
        blocks.append(
            {
                "type": "tool_use",
                "id": ANTHROPIC_IDS(call.id),
                "name": wire_tool_name(call.name),
                "input": call.arguments,
            }
        )
    return blocks


def _mark_conversation(messages: list[dict[str, Any]]) -> None:
    """Cache breakpoints on the last block of the last two user turns (with the system's,
    three of the API's four): each turn then reads the conversation so far from the cache,
    written by the turn before, instead of paying for it again."""
    users = [m for m in messages if m["role"] == "user" and m["content"]]
    for message in users[-2:]:
        message["content"][-1] = {**message["content"][-1], "cache_control": _EPHEMERAL}


def build_messages_body(request: LLMRequest, model: str) -> dict[str, Any]:
    """The JSON body of `POST /v1/messages` for `request` (pure)."""
    system: list[dict[str, Any]] = [
        {"type": "text", "text": part} for part in (request.system, request.context) if part
    ]
    if system:  # empty text blocks are refused by the API
        system[-1]["cache_control"] = _EPHEMERAL

    messages: list[dict[str, Any]] = []
    for message in request.messages:
        role = "assistant" if message.role == "assistant" else "user"
        content = _content_of(message)
        if not content:  # an empty turn (another provider's, at max_tokens) is refused
            continue
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"].extend(content)  # tool results share one user turn
        else:
            messages.append({"role": role, "content": content})

    _mark_conversation(messages)
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens,
        "messages": messages,
    }
    if system:
        body["system"] = system
    if request.tools:
        body["tools"] = [
            {
                "name": wire_tool_name(t.name),
                "description": t.description,
                "input_schema": t.parameters,
            }
            for t in request.tools
        ]
    if request.json_schema is not None:
        body["output_config"] = {"format": {"type": "json_schema", "schema": request.json_schema}}
    return body


def parse_messages_response(data: dict[str, Any]) -> LLMResponse:
    """A normalised response from the JSON of a Messages API answer (pure); `ValueError`
    when it is not one."""
    if not isinstance(data, dict) or not isinstance(data.get("content"), list):
        raise ValueError("the answer has no `content` list")
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in data.get("content") or []:
        if block.get("type") == "text":
            texts.append(block.get("text") or "")
        elif block.get("type") == "tool_use":
            arguments = block.get("input") or {}
            name = tool_name_from_wire(str(block.get("name")))
            calls.append(ToolCall(str(block.get("id")), name, arguments))
    usage = data.get("usage") or {}
    return LLMResponse(
        text="".join(texts),
        tool_calls=tuple(calls),
        stop_reason=_STOP.get(str(data.get("stop_reason")), "other"),
        usage=Usage(
            input_tokens=int(usage.get("input_tokens") or 0),
            output_tokens=int(usage.get("output_tokens") or 0),
            cached_tokens=int(usage.get("cache_read_input_tokens") or 0),
            cache_write_tokens=int(usage.get("cache_creation_input_tokens") or 0),
        ),
        model=str(data.get("model") or ""),
    )


class AnthropicProvider:
    def __init__(
        self,
        name: str,
        api_key: str | None,
        base_url: str | None = None,
        timeout: float = 120.0,
        http_client: httpx2.AsyncClient | None = None,
        key_setting: str = "its API key",
    ) -> None:
        self.name = name
        self._api_key = api_key or ""
        self._key_setting = key_setting
        self._client = anthropic.AsyncAnthropic(
            api_key=self._api_key or "missing",
            base_url=base_url,
            timeout=timeout,
            max_retries=0,
            http_client=http_client,
        )

    def _missing_key(self) -> ProviderError:
        return ProviderError("auth", f"no API key: set {self._key_setting}")

    async def complete(self, request: LLMRequest, model: str) -> LLMResponse:
        if not self._api_key:
            raise self._missing_key()
        body = build_messages_body(request, model)
        try:
            answer = await self._client.messages.create(**body)
            return parse_messages_response(answer.model_dump(mode="json"))
        except anthropic.AnthropicError as exc:
            raise (translate_sdk_error(exc, [self._api_key]) or exc) from None
        except UNREADABLE as exc:
            raise invalid_response(exc, [self._api_key]) from None

    async def check(self, model: str) -> str:
        if not self._api_key:
            raise self._missing_key()
        try:
            page = await self._client.models.list(limit=100)
        except anthropic.AnthropicError as exc:
            raise (translate_sdk_error(exc, [self._api_key]) or exc) from None
        names = {m.id for m in page.data}
        if names and not any(n == model or n.startswith(model) for n in names):
            return f"reachable, but model {model} is not listed"
        return "reachable"

    async def close(self) -> None:
        await self._client.close()
