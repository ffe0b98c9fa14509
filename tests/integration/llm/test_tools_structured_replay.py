"""Tool calls and structured output through both APIs; replay of a recorded run offline."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from app.llm import (
    LLMRequest,
    Message,
    ReplayMiss,
    StructuredOutputError,
    ToolSpec,
)
from app.llm.replay import recorded_calls, replay_router
from app.llm.router import LLMRouter
from app.llm.types import Role
from app.store import Database
from app.store.llm_calls import llm_calls_of_run
from tests.integration.llm.conftest import TenantRun
from tests.sim.llm_sim import LLMSimulator, structured, text, tool_call

READ_FILE = ToolSpec(
    "read_file",
    "Read a file.",
    {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)


class Plan(BaseModel):
    summary: str
    files: list[str]


async def tool_loop(router: LLMRouter, role: Role) -> str:
    """A minimal tool loop, as the implement workflow will run it."""
    request = LLMRequest(role, "You fix bugs.", (Message.user("Fix a.py"),), tools=(READ_FILE,))
    for _ in range(5):
        completion = await router.complete(request)
        request = request.with_messages(completion.response.as_message())
        if not completion.response.tool_calls:
            return completion.text
        for call in completion.response.tool_calls:
            request = request.with_messages(
                Message.tool_result(call.id, f"contents of {call.arguments['path']}")
            )
    raise AssertionError("the loop did not end")


@pytest.mark.parametrize(
    ("role", "model", "api"), [("coder", "claude-a", "anthropic"), ("cheap", "gpt-a", "openai")]
)
async def test_a_tool_loop_round_trips_calls_and_results(
    routed: tuple[LLMRouter, object], sim: LLMSimulator, role: Role, model: str, api: str
) -> None:
    router, _ = routed
    sim.script(model, tool_call("read_file", {"path": "a.py"}), text("Fixed."))
    assert await tool_loop(router, role) == "Fixed."
    second = sim.requests_for(model)[1].body
    assert second["messages"][-1] == (
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_0001",
                    "content": "contents of a.py",
                    "is_error": False,
                    "cache_control": {"type": "ephemeral"},
                }
            ],
        }
        if api == "anthropic"
        else {"role": "tool", "tool_call_id": "call_0001", "content": "contents of a.py"}
    )


@pytest.mark.parametrize(("role", "model"), [("planner", "claude-a"), ("cheap", "gpt-a")])
async def test_structured_output_is_validated_and_repaired_once(
    routed: tuple[LLMRouter, object], sim: LLMSimulator, role: Role, model: str
) -> None:
    router, _ = routed
    sim.script(model, structured({"summary": "s"}), structured({"summary": "s", "files": ["a"]}))
    request = LLMRequest(role, "Plan.", (Message.user("plan it"),))
    result = await router.complete_structured(request, Plan)
    assert result.value == Plan(summary="s", files=["a"])
    repair = sim.requests_for(model)[1].body["messages"][-1]
    assert "files" in repr(repair) and "Field required" in repr(repair)


async def test_structured_output_invalid_twice_is_a_clear_error(
    routed: tuple[LLMRouter, object], sim: LLMSimulator
) -> None:
    router, _ = routed
    sim.script("claude-a", text("I would rather chat."), text("Still chatting."))
    with pytest.raises(StructuredOutputError, match="no valid Plan even after one repair"):
        await router.complete_structured(
            LLMRequest("planner", "Plan.", (Message.user("plan it"),)), Plan
        )


async def test_a_recorded_run_replays_without_network(
    routed: tuple[LLMRouter, object],
    sim: LLMSimulator,
    db: Database,
    tenant_run: TenantRun,
) -> None:
    router, _ = routed
    sim.script("claude-a", tool_call("read_file", {"path": "a.py"}), text("Fixed."))
    assert await tool_loop(router, "coder") == "Fixed."
    async with db.tenant(tenant_run.tenant_id) as tc:
        calls = recorded_calls(await llm_calls_of_run(tc, tenant_run.run_id))
    assert len(calls) == 2

    received_before = len(sim.requests)
    replaying, provider = replay_router(calls)
    assert await tool_loop(replaying, "coder") == "Fixed."
    assert len(sim.requests) == received_before  # nothing went to the network
    assert provider.unused == 0

    with pytest.raises(ReplayMiss, match="no recorded answer"):
        await replaying.complete(LLMRequest("coder", "Something else.", (Message.user("?"),)))
