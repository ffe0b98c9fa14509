"""Keeping a long tool loop's conversation within a token budget.

When the messages outgrow the budget, the bulky results of tool calls older than the last
few turns (files read, search hits, test output) are condensed to what they were (which
tool, which arguments, how long) with their first and last lines: the model can call the
tool again. The task, the plan, the model's own words and its edits (the arguments of its
calls) are never touched, and every result still answers its call. Once condensed, a
result stays as it is, so the conversation's prefix is stable until the budget is crossed
again and the providers' prompt caches keep working in between.
"""

from __future__ import annotations

import json
from dataclasses import replace

from app.llm.prices import CHARS_PER_TOKEN
from app.llm.types import Message, ToolCall

KEEP_RECENT_TURNS = 4  # the last assistant turns whose results stay whole
CONDENSED = "[condensed]"
_LONG = 600  # characters: a result shorter than this is kept whole
_EDGE_LINES = 3


def history_tokens(messages: tuple[Message, ...]) -> int:
    chars = sum(
        len(m.text) + sum(len(json.dumps(c.arguments)) for c in m.tool_calls) for m in messages
    )
    return chars // CHARS_PER_TOKEN


def condensed_history(messages: tuple[Message, ...], budget_tokens: int) -> tuple[Message, ...]:
    """`messages` as they are while within `budget_tokens`, else with the old bulky tool
    results condensed (see the module's docstring)."""
    if history_tokens(messages) <= budget_tokens:
        return messages
    turns = [i for i, m in enumerate(messages) if m.role == "assistant"]
    if len(turns) <= KEEP_RECENT_TURNS:
        return messages
    cut = turns[-KEEP_RECENT_TURNS]
    calls = {c.id: c for m in messages[:cut] for c in m.tool_calls}
    return tuple(
        replace(m, text=condense(calls.get(m.tool_call_id or ""), m.text))
        if i < cut and m.role == "tool" and _bulky(m.text)
        else m
        for i, m in enumerate(messages)
    )


def _bulky(text: str) -> bool:
    return len(text) > _LONG and not text.startswith(CONDENSED)


def condense(call: ToolCall | None, text: str) -> str:
    lines = text.splitlines()
    what = "a tool" if call is None else f"{call.name} {json.dumps(call.arguments)[:200]}"
    edges = lines
    if len(lines) > 2 * _EDGE_LINES:
        edges = [*lines[:_EDGE_LINES], "…", *lines[-_EDGE_LINES:]]
    return (
        f"{CONDENSED} {what} gave {len(lines)} lines ({len(text)} characters), condensed to "
        "keep the conversation short; call it again if you need them. First and last lines:\n"
        + "\n".join(line[:200] for line in edges)
    )
