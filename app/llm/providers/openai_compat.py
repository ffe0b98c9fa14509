"""OpenAI Chat Completions adapter: OpenAI itself, Mistral, Ollama, vLLM, LM Studio, gateways.

All of them speak `POST {base_url}/chat/completions`. The stable prefix goes first in the
system message (OpenAI caches long identical prefixes by itself and reports
`cached_tokens`). Structured output uses `response_format: json_schema`, and the schema is
also stated in the system message for servers that ignore `response_format`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx2
import openai

from app.llm.errors import ProviderError
from app.llm.providers.base import structured_output_instruction
from app.llm.providers.sdk_errors import UNREADABLE, invalid_response, translate_sdk_error
from app.llm.providers.tool_ids import OPENAI_IDS, ToolIdRule
from app.llm.providers.tool_names import tool_name_from_wire, wire_tool_name
from app.llm.types import LLMRequest, LLMResponse, Message, StopReason, ToolCall, Usage

_STOP: dict[str, StopReason] = {
    "stop": "end",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "length": "max_tokens",
}


def _message_json(message: Message, ids: ToolIdRule) -> dict[str, Any]:
    if message.role == "tool":
        text = message.text or "(no output)"
        text = f"ERROR: {text}" if message.is_error else text
        return {"role": "tool", "tool_call_id": ids(message.tool_call_id or ""), "content": text}
    if message.role == "assistant":
        out: dict[str, Any] = {"role": "assistant", "content": message.text or None}
        if message.tool_calls:
            out["tool_calls"] = [
                {
                    "id": ids(call.id),
                    "type": "function",
                    "function": {
                        "name": wire_tool_name(call.name),
                        "arguments": json.dumps(call.arguments),
                    },
                }
                for call in message.tool_calls
            ]
        return out
    return {"role": "user", "content": message.text}


def build_chat_body(
    request: LLMRequest,
    model: str,
    max_tokens_field: str = "max_tokens",
    ids: ToolIdRule = OPENAI_IDS,
) -> dict[str, Any]:
    """The JSON body of `POST /chat/completions` for `request` (pure)."""
    parts = [request.system, request.context]
    if request.json_schema is not None:
        parts.append(structured_output_instruction(json.dumps(request.json_schema)))
    system = "\n\n".join(part for part in parts if part)
    messages = [{"role": "system", "content": system}] if system else []
    body: dict[str, Any] = {
        "model": model,
        "messages": messages + [_message_json(m, ids) for m in request.messages if not _empty(m)],
        max_tokens_field: request.max_tokens,
    }
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": wire_tool_name(t.name),
                    "description": t.description,
                    "parameters": t.parameters,
                },
            }
            for t in request.tools
        ]
    if request.json_schema is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "response", "schema": request.json_schema},
        }
    if request.temperature is not None:
        body["temperature"] = request.temperature
    return body


def _empty(message: Message) -> bool:
    """An assistant turn with nothing in it, which every provider refuses."""
    return message.role == "assistant" and not message.text and not message.tool_calls


def _arguments(raw: object) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(str(raw or "{}"))
    except json.JSONDecodeError:
        return {"_unparsed": str(raw)}
    return parsed if isinstance(parsed, dict) else {"_value": parsed}


def parse_chat_response(data: dict[str, Any]) -> LLMResponse:
    """A normalised response from the JSON of a Chat Completions answer (pure); `ValueError`
    when it is not one."""
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices or not isinstance(choices[0], dict):
        raise ValueError("the answer has no `choices`")
    choice = choices[0]
    message = choice.get("message")
    if not isinstance(message, dict):
        raise ValueError("the answer's choice has no `message`")
    calls = tuple(
        ToolCall(
            str(call.get("id") or f"call_{uuid.uuid4().hex[:24]}"),  # small servers omit it
            tool_name_from_wire(str((call.get("function") or {}).get("name"))),
            _arguments((call.get("function") or {}).get("arguments")),
        )
        for call in message.get("tool_calls") or []
    )
    usage = data.get("usage") or {}
    details = usage.get("prompt_tokens_details") or {}
    cached = int(details.get("cached_tokens") or 0)
    stop = _STOP.get(str(choice.get("finish_reason")), "other")
    if calls and stop == "end":
        stop = "tool_use"
    return LLMResponse(
        text=str(message.get("content") or ""),
        tool_calls=calls,
        stop_reason=stop,
        usage=Usage(
            input_tokens=max(0, int(usage.get("prompt_tokens") or 0) - cached),
            output_tokens=int(usage.get("completion_tokens") or 0),
            cached_tokens=cached,
        ),
        model=str(data.get("model") or ""),
    )


class OpenAICompatProvider:
    def __init__(
        self,
        name: str,
        base_url: str | None,
        api_key: str | None,
        timeout: float = 120.0,
        http_client: httpx2.AsyncClient | None = None,
        key_setting: str = "its API key",
        max_tokens_field: str = "max_tokens",
        requires_key: bool = True,
        ids: ToolIdRule = OPENAI_IDS,
    ) -> None:
        self.name = name
        self._ids = ids
        self._api_key = api_key or ""
        self._key_setting = key_setting
        self._requires_key = requires_key
        self._max_tokens_field = max_tokens_field
        self._client = openai.AsyncOpenAI(
            api_key=self._api_key or "none",
            base_url=base_url,
            timeout=timeout,
            max_retries=0,
            http_client=http_client,
        )

    def _check_key(self) -> None:
        if self._requires_key and not self._api_key:
            raise ProviderError("auth", f"no API key: set {self._key_setting}")

    async def complete(self, request: LLMRequest, model: str) -> LLMResponse:
        self._check_key()
        body = build_chat_body(request, model, self._max_tokens_field, self._ids)
        try:
            answer = await self._client.chat.completions.create(**body)
            return parse_chat_response(answer.model_dump(mode="json"))
        except openai.OpenAIError as exc:
            raise (translate_sdk_error(exc, [self._api_key]) or exc) from None
        except UNREADABLE as exc:
            raise invalid_response(exc, [self._api_key]) from None

    async def check(self, model: str) -> str:
        self._check_key()
        try:
            page = await self._client.models.list()
        except openai.OpenAIError as exc:
            raise (translate_sdk_error(exc, [self._api_key]) or exc) from None
        names = {m.id for m in page.data}
        if names and model not in names and f"{model}:latest" not in names:
            return f"reachable, but model {model} is not available there"
        return "reachable"

    async def close(self) -> None:
        await self._client.close()
