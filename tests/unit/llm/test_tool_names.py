"""An MCP server's tool, `server.tool`, reaches the providers under a name they accept and
comes back under its own; the built-in tools keep their names."""

from __future__ import annotations

import re

from app.llm.providers.anthropic import build_messages_body, parse_messages_response
from app.llm.providers.openai_compat import build_chat_body, parse_chat_response
from app.llm.providers.tool_names import tool_name_from_wire, wire_tool_name
from app.llm.types import LLMRequest, Message, ToolCall, ToolSpec

ACCEPTED = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")  # Anthropic's and OpenAI's rule


def test_names_go_to_the_wire_and_back() -> None:
    for name in ("docs.lookup", "docs.get_page", "my-docs.get-page", "a.b__c", "read_file"):
        wire = wire_tool_name(name)
        assert ACCEPTED.match(wire), wire
        assert tool_name_from_wire(wire) == name
    assert wire_tool_name("read_file") == "read_file"
    assert tool_name_from_wire("apply_edits") == "apply_edits"
    assert tool_name_from_wire("Unknown__Thing") == "Unknown__Thing"  # not a server's


REQUEST = LLMRequest(
    role="coder",
    system="s",
    messages=(
        Message.user("go"),
        Message(role="assistant", text="", tool_calls=(ToolCall("c1", "docs.lookup", {}),)),
        Message.tool_result("c1", "rule E1"),
    ),
    tools=(ToolSpec("docs.lookup", "house rules", {"type": "object"}),),
)


def test_anthropic_gets_wire_names_and_answers_are_read_back() -> None:
    body = build_messages_body(REQUEST, "claude")
    assert [t["name"] for t in body["tools"]] == ["docs__lookup"]
    assert body["messages"][1]["content"][0]["name"] == "docs__lookup"
    answer = parse_messages_response(
        {"content": [{"type": "tool_use", "id": "t1", "name": "docs__lookup", "input": {}}]}
    )
    assert answer.tool_calls[0].name == "docs.lookup"


def test_chat_completions_get_wire_names_and_answers_are_read_back() -> None:
    body = build_chat_body(REQUEST, "gpt")
    assert [t["function"]["name"] for t in body["tools"]] == ["docs__lookup"]
    assert body["messages"][2]["tool_calls"][0]["function"]["name"] == "docs__lookup"
    call = {"id": "c9", "type": "function", "function": {"name": "docs__lookup", "arguments": "{}"}}
    answer = parse_chat_response(
        {"choices": [{"message": {"content": None, "tool_calls": [call]}, "finish_reason": "x"}]}
    )
    assert answer.tool_calls[0].name == "docs.lookup"
