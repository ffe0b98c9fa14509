"""What the real LLM APIs refuse with a 400, as the simulator enforces it.

Anthropic Messages: every message has content (a text block is never empty; only a final
assistant turn may be empty), tool_use ids match `^[a-zA-Z0-9_-]+$`, every tool_use is
answered by a tool_result in the next user turn and every tool_result answers a tool_use
of the turn before, at most four blocks carry `cache_control`, tool names match
`^[a-zA-Z0-9_-]{1,128}$`.
Chat Completions (OpenAI, Mistral, Ollama): an assistant message has content or tool calls,
every tool call is answered by a `tool` message before the next turn, a `tool` message
answers a call of the assistant message before it; OpenAI's ids are at most 40
characters, Mistral's are exactly nine letters or digits; tool names match
`^[a-zA-Z0-9_-]{1,64}$`.
"""

from __future__ import annotations

import re
from typing import Any

_ANTHROPIC_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
_ANTHROPIC_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
_CHAT_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_MISTRAL_ID = re.compile(r"^[a-zA-Z0-9]{9}$")
_MAX_CACHE_BREAKPOINTS = 4
_OPENAI_MAX_ID = 40


def is_mistral(model: str) -> bool:
    return model.startswith(("mistral", "codestral", "devstral", "magistral"))


def _blocks(content: object) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def validate_anthropic(body: dict[str, Any]) -> str | None:
    messages = body.get("messages") or []
    if not messages:
        return "messages: at least one message is required"
    for index, tool in enumerate(body.get("tools") or []):
        if not _ANTHROPIC_TOOL_NAME.match(str(tool.get("name"))):
            return (
                f"tools.{index}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'"
            )
    if messages[0].get("role") != "user":
        return 'messages: first message must use the "user" role'
    marked = sum(1 for b in _blocks(body.get("system") or []) if "cache_control" in b)
    pending: set[str] = set()
    for index, message in enumerate(messages):
        blocks = _blocks(message.get("content"))
        final_assistant = index == len(messages) - 1 and message.get("role") == "assistant"
        if not blocks and not final_assistant:
            return (
                f"messages.{index}: all messages must have non-empty content except for the "
                "optional final assistant message"
            )
        marked += sum(1 for b in blocks if "cache_control" in b)
        answered = {b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"}
        if message.get("role") == "user":
            if answered - pending:
                return (
                    f"messages.{index}.content: unexpected `tool_use_id` found in "
                    "`tool_result` blocks; each must answer a `tool_use` of the previous message"
                )
            if pending - answered:
                return (
                    f"messages.{index}: `tool_use` ids were found without `tool_result` blocks "
                    f"immediately after: {', '.join(sorted(pending - answered))}"
                )
            pending = set()
        for block in blocks:
            if block.get("type") == "text" and not block.get("text"):
                return f"messages.{index}: text content blocks must be non-empty"
            if block.get("type") == "tool_use":
                if not _ANTHROPIC_ID.match(str(block.get("id"))):
                    return (
                        f"messages.{index}.content: tool_use.id: String should match pattern "
                        "'^[a-zA-Z0-9_-]+$'"
                    )
                pending.add(str(block.get("id")))
    if pending and messages[-1].get("role") != "assistant":
        return "`tool_use` ids were found without `tool_result` blocks immediately after"
    if marked > _MAX_CACHE_BREAKPOINTS:
        return f"A maximum of {_MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided"
    return None


def validate_chat(body: dict[str, Any]) -> str | None:
    mistral = is_mistral(str(body.get("model")))
    for index, tool in enumerate(body.get("tools") or []):
        if not _CHAT_TOOL_NAME.match(str((tool.get("function") or {}).get("name"))):
            return (
                f"Invalid 'tools[{index}].function.name': string does not match pattern. "
                "Expected a string that matches the pattern '^[a-zA-Z0-9_-]{1,64}$'."
            )
    pending: set[str] = set()
    for index, message in enumerate(body.get("messages") or []):
        role = message.get("role")
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in pending:
                return (
                    f"Invalid parameter: messages with role 'tool' must be a response to a "
                    f"preceeding message with 'tool_calls' (messages[{index}])"
                )
            pending.discard(call_id)
            continue
        if pending:
            return (
                "An assistant message with 'tool_calls' must be followed by tool messages "
                f"responding to each 'tool_call_id'. Missing: {', '.join(sorted(pending))}"
            )
        if role == "assistant":
            calls = message.get("tool_calls") or []
            if not message.get("content") and not calls:
                return (
                    f"Invalid 'messages[{index}]': an assistant message must have either "
                    "content or tool_calls"
                )
            for call in calls:
                call_id = str(call.get("id"))
                if mistral and not _MISTRAL_ID.match(call_id):
                    return (
                        "Tool call id was " + call_id + " but must be a-z, A-Z, 0-9, "
                        "with a length of 9."
                    )
                if len(call_id) > _OPENAI_MAX_ID:
                    return (
                        f"Invalid 'messages[{index}].tool_calls[0].id': string too long. "
                        f"Expected a string with maximum length {_OPENAI_MAX_ID}"
                    )
                pending.add(call_id)
        elif role in ("user", "system") and not message.get("content"):
            return f"Invalid 'messages[{index}].content': empty content"
    return None
