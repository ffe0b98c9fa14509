"""The OpenAI-compatible adapter against the Chat Completions documented shapes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import httpx2
import pytest
import respx
from pydantic import SecretStr

from app.config import Settings
from app.llm.errors import ProviderError
from app.llm.model_ids import ModelId, parse_model_id
from app.llm.providers.openai_compat import OpenAICompatProvider
from app.llm.providers.registry import ProviderRegistry
from app.llm.types import LLMRequest, Message, ToolCall, ToolSpec

KEY = "sk-proj-" + "o" * 40
SEARCH = ToolSpec(
    "search", "Search the code.", {"type": "object", "properties": {"q": {"type": "string"}}}
)


def completion(message: dict[str, Any], finish: str = "stop", cached: int = 0) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4.1-2025-04-14",
            "choices": [{"index": 0, "finish_reason": finish, "message": message}],
            "usage": {
                "prompt_tokens": 1200,
                "completion_tokens": 30,
                "total_tokens": 1230,
                "prompt_tokens_details": {"cached_tokens": cached},
            },
        },
    )


def sent(route: respx.Route) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(route.calls.last.request.content)
    return body


async def test_openai_request_carries_tools_tool_results_and_max_completion_tokens(
    mocked: tuple[respx.MockRouter, httpx2.AsyncClient],
) -> None:
    router, client = mocked
    route = router.post("https://api.openai.test/v1/chat/completions").mock(
        return_value=completion({"role": "assistant", "content": "Found it."}, cached=1024)
    )
    settings = Settings(openai_api_key=SecretStr(KEY), openai_base_url="https://api.openai.test/v1")
    adapter = ProviderRegistry(settings, client).for_model(parse_model_id("openai:gpt-4.1"))
    request = LLMRequest(
        "coder",
        system="Be brief.",
        context="<repo map>",
        messages=(
            Message.user("Where is main?"),
            Message.assistant("", (ToolCall("call_1", "search", {"q": "def main"}),)),
            Message.tool_result("call_1", "app/cli.py:12"),
        ),
        tools=(SEARCH,),
        max_tokens=500,
        temperature=0.0,
    )
    response = await adapter.complete(request, "gpt-4.1")

    body = sent(route)
    assert body["model"] == "gpt-4.1"
    assert body["max_completion_tokens"] == 500 and "max_tokens" not in body
    assert body["temperature"] == 0.0
    assert body["messages"] == [
        {"role": "system", "content": "Be brief.\n\n<repo map>"},
        {"role": "user", "content": "Where is main?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "search", "arguments": '{"q": "def main"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "app/cli.py:12"},
    ]
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "search",
                "description": "Search the code.",
                "parameters": SEARCH.parameters,
            },
        },
    ]
    assert route.calls.last.request.headers["authorization"] == f"Bearer {KEY}"
    assert response.text == "Found it."
    assert response.usage.cached_tokens == 1024
    assert response.usage.input_tokens == 1200 - 1024


async def test_tool_call_answers_and_json_output(
    mocked: tuple[respx.MockRouter, httpx2.AsyncClient],
) -> None:
    router, client = mocked
    route = router.post("http://gw.test/v1/chat/completions").mock(
        side_effect=[
            completion(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c9",
                            "type": "function",
                            "function": {"name": "search", "arguments": '{"q": "x"}'},
                        }
                    ],
                },
                finish="tool_calls",
            ),
            completion({"role": "assistant", "content": '{"ok": true}'}),
        ]
    )
    adapter = OpenAICompatProvider(
        "gw", "http://gw.test/v1", None, http_client=client, requires_key=False
    )
    first = await adapter.complete(
        LLMRequest("coder", "s", (Message.user("go"),), tools=(SEARCH,)), "m"
    )
    assert first.stop_reason == "tool_use"
    assert first.tool_calls == (ToolCall("c9", "search", {"q": "x"}),)

    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}
    second = await adapter.complete(
        LLMRequest("planner", "s", (Message.user("go"),), json_schema=schema), "m"
    )
    body = sent(route)
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": schema},
    }
    assert json.dumps(schema) in body["messages"][0]["content"]
    assert body["max_tokens"] == 4096
    assert json.loads(second.text) == {"ok": True}


async def test_ollama_and_mistral_use_their_openai_compatible_endpoints(
    mocked: tuple[respx.MockRouter, httpx2.AsyncClient],
) -> None:
    router, client = mocked
    ollama = router.post("http://127.0.0.1:11434/v1/chat/completions").mock(
        return_value=completion({"role": "assistant", "content": "hi"})
    )
    mistral = router.post("https://api.mistral.ai/v1/chat/completions").mock(
        return_value=completion({"role": "assistant", "content": "salut"})
    )
    settings = Settings(mistral_api_key=SecretStr("m" * 32))
    registry = ProviderRegistry(settings, client)
    request = LLMRequest("cheap", "s", (Message.user("hi"),))
    assert (
        await registry.for_model(parse_model_id("ollama:qwen2.5-coder:7b")).complete(
            request, "qwen2.5-coder:7b"
        )
    ).text == "hi"
    assert sent(ollama)["model"] == "qwen2.5-coder:7b"
    assert (
        await registry.for_model(parse_model_id("mistral:codestral-latest")).complete(
            request, "codestral-latest"
        )
    ).text == "salut"
    assert mistral.calls.last.request.headers["authorization"] == "Bearer " + "m" * 32


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        (
            429,
            {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"},
            "rate_limited",
        ),
        (
            400,
            {
                "message": "This model's maximum context length is 128000 tokens.",
                "type": "invalid_request_error",
                "code": "context_length_exceeded",
            },
            "context_length",
        ),
        (
            401,
            {
                "message": f"Incorrect API key provided: {KEY}",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            },
            "auth",
        ),
        (503, {"message": "The server is overloaded", "type": "server_error"}, "server"),
    ],
)
async def test_errors_are_classified_without_leaking_the_key(
    mocked: tuple[respx.MockRouter, httpx2.AsyncClient],
    status: int,
    error: dict[str, str],
    kind: str,
) -> None:
    router, client = mocked
    router.post("https://api.openai.test/v1/chat/completions").mock(
        return_value=httpx.Response(status, json={"error": error}, headers={"retry-after": "2"})
    )
    adapter = OpenAICompatProvider("openai", "https://api.openai.test/v1", KEY, http_client=client)
    with pytest.raises(ProviderError) as caught:
        await adapter.complete(LLMRequest("coder", "s", (Message.user("x"),)), "gpt-4.1")
    assert caught.value.kind == kind
    assert KEY not in str(caught.value) and KEY not in repr(caught.value)
    assert caught.value.retry_after == 2.0


async def test_a_named_endpoint_gets_its_own_base_url_and_key(
    mocked: tuple[respx.MockRouter, httpx2.AsyncClient],
) -> None:
    router, client = mocked
    route = router.post("https://gateway.corp.test/llm/v1/chat/completions").mock(
        return_value=completion({"role": "assistant", "content": "ok"})
    )
    gateway_key = "gw-" + "g" * 30
    settings = Settings(
        llm_endpoints={
            "gateway": {"base_url": "https://gateway.corp.test/llm/v1", "api_key": gateway_key}
        }
    )
    adapter = ProviderRegistry(settings, client).for_model(ModelId("gateway", "big-model"))
    response = await adapter.complete(LLMRequest("coder", "s", (Message.user("x"),)), "big-model")
    assert response.text == "ok"
    assert route.calls.last.request.headers["authorization"] == f"Bearer {gateway_key}"
    assert sent(route)["model"] == "big-model"
