"""A tool loop that moves Anthropic → Mistral → an OpenAI-compatible server → Anthropic in
the middle of its work, through the real SDKs, against a simulator that refuses what the
real APIs refuse (empty messages, foreign tool-call ids, unanswered or unmatched calls)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import SecretStr

from app.edits import EditPolicy
from app.llm import LLMRequest, MemoryCallLog, Message, build_router
from app.workflow.toolloop import LoopLimits, run_tool_loop
from app.workflow.tools import TOOL_SPECS, Toolbox
from tests.integration.llm.conftest import sim_settings
from tests.sim.llm_sim import LLMSimulator, Reply, empty, fault, overloaded, tool_call

MISTRAL_KEY = "mistral-key-" + "m" * 20


async def _no_tests(test_ids: Sequence[str]) -> tuple[bool, str]:
    return True, "1 passed"


def _down(times: int = 3) -> list[Reply]:
    return [overloaded()] * times


async def test_a_conversation_moves_between_four_providers_and_back(
    sim_url: str, sim: LLMSimulator, tmp_path: Path
) -> None:
    (tmp_path / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    settings = sim_settings(
        sim_url,
        mistral_api_key=SecretStr(MISTRAL_KEY),
        mistral_base_url=f"{sim_url}/v1",
        llm_endpoints={"vllm": {"base_url": f"{sim_url}/v1"}},
        llm_models={
            role: ["anthropic:claude-a", "mistral:mistral-small-latest", "vllm:qwen-coder"]
            for role in ("planner", "coder", "reviewer", "cheap")
        },
        llm_max_retries=2,
        llm_cooldown_failures=100,  # every turn starts at Anthropic again
    )
    router, registry = build_router(settings, MemoryCallLog())
    read = {"path": "calc.py"}
    edit = {
        "edits": "calc.py\n<<<<<<< SEARCH\n    return a - b\n=======\n"
        "    return a + b\n>>>>>>> REPLACE\n"
    }
    # turn: who answers
    # 1 Anthropic  2 Anthropic  3 Mistral  4 vLLM  5 vLLM (empty, at max_tokens)
    # 6 vLLM  7 Anthropic (edit)  8 Anthropic (finish)
    sim.script(
        "claude-a",
        tool_call("read_file", read, say="Reading the code."),
        tool_call("search_code", {"query": "add"}),
        *_down(),  # turn 3
        *_down(),  # turn 4
        *_down(),  # turn 5
        *_down(),  # turn 6
        tool_call("apply_edits", edit),
        tool_call("finish", {"summary": "add adds", "tests": []}),
    )
    sim.script(
        "mistral-small-latest",
        tool_call("list_dir", {}),  # turn 3
        fault(503), fault(503), fault(503),  # turn 4
        fault(503), fault(503), fault(503),  # turn 5
        fault(503), fault(503), fault(503),  # turn 6
    )  # fmt: skip
    sim.script(
        "qwen-coder",
        tool_call("read_file", read),  # turn 4
        empty(stop="length"),  # turn 5
        tool_call("find_symbol", {"name": "add"}),  # turn 6
    )
    toolbox = Toolbox(tmp_path, EditPolicy(), _no_tests)
    request = LLMRequest(
        "coder", "You fix bugs.", (Message.user("add() subtracts; fix it."),), tools=TOOL_SPECS
    )
    try:
        outcome = await run_tool_loop(router, request, toolbox, LoopLimits(max_turns=12))
    finally:
        await registry.close()

    assert sim.refused == []  # no request was one a real API refuses
    assert outcome.finished, outcome.reason
    assert outcome.turns == 8
    assert outcome.models == ["anthropic:claude-a", "mistral:mistral-small-latest",
                              "vllm:qwen-coder"]  # fmt: skip
    assert (tmp_path / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"

    mistral_ids = [
        call["id"]
        for r in sim.requests_for("mistral-small-latest")
        for m in r.body["messages"]
        for call in m.get("tool_calls") or []
    ]
    assert mistral_ids and all(len(i) == 9 and i.isalnum() for i in mistral_ids)
    last_anthropic = sim.requests_for("claude-a")[-1].body["messages"]
    assert all(m["content"] for m in last_anthropic)  # the empty turn was left out
    uses = [b["id"] for m in last_anthropic for b in m["content"] if b["type"] == "tool_use"]
    results = [
        b["tool_use_id"] for m in last_anthropic for b in m["content"] if b["type"] == "tool_result"
    ]
    assert uses == results and len(uses) == 6  # every call of four providers, paired
    assert "cut off at the output limit" in str(last_anthropic)  # the nudge that replaced it
