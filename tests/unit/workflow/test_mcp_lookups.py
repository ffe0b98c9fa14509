"""A reviewer's lookups with the MCP tools before its one answer (`look_up_first`): the
calls and what they answered, a bounded number of turns, and a model that cannot take
tools costs the lookups, not the review."""

from __future__ import annotations

from typing import Any, cast

import pytest

from app.agent_mcp.toolset import McpToolset
from app.llm.errors import AllModelsFailed, BudgetExhausted
from app.llm.router import LLMRouter
from app.llm.types import Attempt, Completion, LLMRequest, LLMResponse, Message, ToolCall, ToolSpec
from app.workflow.mcp_tools import look_up_first, tools_note
from app.workflow.tools import ToolResult

LOOKUP = ToolSpec("docs.lookup", "house rules", {"type": "object"})
REQUEST = LLMRequest(role="reviewer", system="review", messages=(Message.user("the diff"),))


class Docs(McpToolset):
    def __init__(self) -> None:
        super().__init__(specs=(LOOKUP,))
        self.calls: list[dict[str, Any]] = []

    def handles(self, name: str) -> bool:
        return name == "docs.lookup"

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        self.calls.append(arguments)
        return ToolResult(f"<untrusted-data>rule on {arguments.get('topic')}</untrusted-data>")


class Scripted:
    def __init__(self, *answers: LLMResponse | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[LLMRequest] = []

    async def complete(self, request: LLMRequest) -> Completion:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return Completion(answer, "sim:m", "sim", (), cost_usd=0.01)


def asks(*topics: str) -> LLMResponse:
    calls = tuple(ToolCall(f"c{n}", "docs.lookup", {"topic": t}) for n, t in enumerate(topics))
    return LLMResponse("", calls, "tool_use")


async def test_the_lookups_come_back_as_one_message_with_their_cost() -> None:
    docs = Docs()
    router = Scripted(asks("errors", "tests"), asks("style"), LLMResponse("ready"))
    found = await look_up_first(cast(LLMRouter, router), REQUEST, docs)
    assert docs.calls == [{"topic": "errors"}, {"topic": "tests"}, {"topic": "style"}]
    assert found.text.startswith("What you looked up:")
    assert '`docs.lookup` {"topic": "tests"}:\n<untrusted-data>rule on tests' in found.text
    assert found.cost_usd == pytest.approx(0.03)
    first = router.requests[0]
    assert first.tools == (LOOKUP,) and "`docs.lookup`" in first.messages[0].text
    assert len(router.requests[2].messages) == 6  # task, call, 2 results, call, 1 result


async def test_the_turns_are_bounded_and_an_unknown_tool_is_an_error_result() -> None:
    docs = Docs()
    stray = LLMResponse("", (ToolCall("x", "read_file", {"path": "a"}),), "tool_use")
    router = Scripted(stray, asks("a"), asks("b"), asks("c"))
    found = await look_up_first(cast(LLMRouter, router), REQUEST, docs, max_turns=2)
    assert len(router.requests) == 2 and docs.calls == [{"topic": "a"}]
    assert "unknown tool 'read_file'" in found.text


async def test_a_model_that_fails_ends_the_lookups_but_a_spent_budget_ends_the_run() -> None:
    failed = AllModelsFailed("reviewer", (Attempt("sim:m", "bad_request"),))
    found = await look_up_first(cast(LLMRouter, Scripted(asks("a"), failed)), REQUEST, Docs())
    assert "rule on a" in found.text
    spent = BudgetExhausted.__new__(BudgetExhausted)
    with pytest.raises(BudgetExhausted):
        await look_up_first(cast(LLMRouter, Scripted(spent)), REQUEST, Docs())


def test_the_system_prompt_names_only_the_mcp_tools() -> None:
    assert tools_note((ToolSpec("read_file", "", {}),)) == ""
    assert "`docs.lookup`" in tools_note((ToolSpec("read_file", "", {}), LOOKUP))
