"""The Anthropic adapter against the Messages API's documented request and answer shapes."""

from __future__ import annotations

import json
from typing import Any

import httpx
import httpx2
import pytest
import respx

from app.llm.errors import ProviderError
from app.llm.providers.anthropic import AnthropicProvider
from app.llm.types import LLMRequest, Message, ToolCall, ToolSpec

KEY = "sk-ant-api03-" + "k" * 40
URL = "https://anthropic.test/v1/messages"
READ_FILE = ToolSpec(
    "read_file",
    "Read a file of the repository.",
    {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)


def answer(content: list[dict[str, Any]], stop: str = "end_turn", **usage: int) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 5, **usage},
        },
    )


def provider(client: httpx2.AsyncClient) -> AnthropicProvider:
    return AnthropicProvider("anthropic", KEY, "https://anthropic.test", 5, client)


def sent(route: respx.Route) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(route.calls.last.request.content)
    return body


async def test_stable_prefix_is_cached_and_tool_turns_use_the_documented_blocks(
    mocked: tuple[respx.MockRouter, httpx2.AsyncClient],
) -> None:
    router, client = mocked
    route = router.post(URL).mock(
        return_value=answer(
            [{"type": "text", "text": "Done."}],
            cache_read_input_tokens=9000,
            cache_creation_input_tokens=0,
        )
    )
    request = LLMRequest(
        "coder",
        system="You are a careful engineer.",
        context="<repository map>",
        messages=(
            Message.user("Fix the bug."),
            Message.assistant("Reading.", (ToolCall("toolu_1", "read_file", {"path": "a.py"}),)),
            Message.tool_result("toolu_1", "print('hi')"),
        ),
        tools=(READ_FILE,),
        max_tokens=1000,
    )
    response = await provider(client).complete(request, "claude-sonnet-4-6")

    body = sent(route)
    assert body["model"] == "claude-sonnet-4-6"
    assert body["max_tokens"] == 1000
    assert body["system"] == [
        {"type": "text", "text": "You are a careful engineer."},
        {"type": "text", "text": "<repository map>", "cache_control": {"type": "ephemeral"}},
    ]
    assert body["messages"] == [
        {
            "role": "user",  # the last two user turns carry the moving breakpoints
            "content": [
                {"type": "text", "text": "Fix the bug.", "cache_control": {"type": "ephemeral"}}
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Reading."},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "read_file",
                    "input": {"path": "a.py"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": "print('hi')",
                    "is_error": False,
                    "cache_control": {"type": "ephemeral"},
                },
            ],
        },
    ]
    assert body["tools"] == [
        {
            "name": "read_file",
            "description": "Read a file of the repository.",
            "input_schema": READ_FILE.parameters,
        },
    ]
    headers = route.calls.last.request.headers
    assert KEY in headers.get("x-api-key", headers.get("authorization", ""))
    assert "anthropic-version" in headers
    assert response.text == "Done."
    assert response.usage.cached_tokens == 9000
    assert response.usage.input_tokens == 10 and response.usage.output_tokens == 5


async def test_tool_use_answers_become_tool_calls(
    mocked: tuple[respx.MockRouter, httpx2.AsyncClient],
) -> None:
    router, client = mocked
    router.post(URL).mock(
        return_value=answer(
            [{"type": "tool_use", "id": "toolu_9", "name": "read_file", "input": {"path": "b.py"}}],
            stop="tool_use",
        )
    )
    request = LLMRequest("coder", "s", (Message.user("go"),), tools=(READ_FILE,))
    response = await provider(client).complete(request, "claude-sonnet-4-6")
    assert response.stop_reason == "tool_use"
    assert response.tool_calls == (ToolCall("toolu_9", "read_file", {"path": "b.py"}),)


async def test_json_output_uses_output_config_json_schema(
    mocked: tuple[respx.MockRouter, httpx2.AsyncClient],
) -> None:
    router, client = mocked
    route = router.post(URL).mock(
        return_value=answer([{"type": "text", "text": '{"summary": "ok"}'}])
    )
    schema = {"type": "object", "properties": {"summary": {"type": "string"}}}
    request = LLMRequest("planner", "s", (Message.user("plan"),), json_schema=schema)
    response = await provider(client).complete(request, "claude-sonnet-4-6")
    body = sent(route)
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": schema}}
    assert "tools" not in body
    assert json.loads(response.text) == {"summary": "ok"}


@pytest.mark.parametrize(
    ("status", "error", "headers", "kind"),
    [
        (
            429,
            {"type": "rate_limit_error", "message": "slow down"},
            {"retry-after": "3"},
            "rate_limited",
        ),
        (529, {"type": "overloaded_error", "message": "Overloaded"}, {}, "overloaded"),
        (500, {"type": "api_error", "message": "Internal"}, {}, "server"),
        (
            400,
            {
                "type": "invalid_request_error",
                "message": "prompt is too long: 250000 tokens > 200000 maximum",
            },
            {},
            "context_length",
        ),
        (401, {"type": "authentication_error", "message": f"invalid x-api-key {KEY}"}, {}, "auth"),
    ],
)
async def test_errors_are_classified_without_leaking_the_key(
    mocked: tuple[respx.MockRouter, httpx2.AsyncClient],
    status: int,
    error: dict[str, str],
    headers: dict[str, str],
    kind: str,
) -> None:
    router, client = mocked
    router.post(URL).mock(
        return_value=httpx.Response(status, json={"type": "error", "error": error}, headers=headers)
    )
    with pytest.raises(ProviderError) as caught:
        await provider(client).complete(LLMRequest("coder", "s", (Message.user("x"),)), "m")
    assert caught.value.kind == kind
    assert caught.value.status == status
    assert KEY not in str(caught.value)
    if headers:
        assert caught.value.retry_after == 3.0


async def test_no_key_is_a_configuration_problem_without_a_request(
    mocked: tuple[respx.MockRouter, httpx2.AsyncClient],
) -> None:
    router, client = mocked
    route = router.post(URL).mock(return_value=answer([]))
    adapter = AnthropicProvider(
        "anthropic",
        None,
        "https://anthropic.test",
        http_client=client,
        key_setting="AGENTOPS_ANTHROPIC_API_KEY",
    )
    with pytest.raises(ProviderError, match="AGENTOPS_ANTHROPIC_API_KEY") as caught:
        await adapter.complete(LLMRequest("coder", "s", (Message.user("x"),)), "m")
    assert caught.value.kind == "auth" and not route.called


def test_an_empty_system_prompt_sends_no_empty_block() -> None:
    from app.llm.providers.anthropic import build_messages_body

    body = build_messages_body(LLMRequest("cheap", "", (Message.user("hi"),)), "m")
    assert "system" not in body
    body = build_messages_body(LLMRequest("cheap", "", (Message.user("hi"),), context="ctx"), "m")
    assert body["system"] == [
        {"type": "text", "text": "ctx", "cache_control": {"type": "ephemeral"}}
    ]
