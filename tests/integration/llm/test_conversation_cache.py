"""Long loops read the conversation so far from the provider's cache instead of paying for
it again on every turn (the simulator caches as the providers do)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from app.edits import EditPolicy
from app.llm import LLMRequest, MemoryCallLog, Message, build_router
from app.workflow.toolloop import LoopLimits, run_tool_loop
from app.workflow.tools import TOOL_SPECS, Toolbox
from tests.integration.llm.conftest import sim_settings
from tests.sim.llm_sim import LLMSimulator, tool_call

BIG = "".join(f"def function_{n}(value):\n    return value * {n}\n\n" for n in range(400))
EDIT = "a.py\n<<<<<<< SEARCH\ndef function_0(value):\n=======\ndef function_0(value=0):\n>>>>>>> REPLACE\n"  # noqa: E501


async def _no_tests(test_ids: Sequence[str]) -> tuple[bool, str]:
    return True, "1 passed"


@pytest.mark.parametrize(("model", "provider"), [("claude-a", "anthropic"), ("gpt-a", "openai")])
async def test_each_turn_reads_the_turns_before_from_the_cache(
    sim_url: str, sim: LLMSimulator, tmp_path: Path, model: str, provider: str
) -> None:
    for name in "abcde":
        (tmp_path / f"{name}.py").write_text(BIG)
    settings = sim_settings(sim_url, llm_models={"coder": [f"{provider}:{model}"]})
    router, registry = build_router(settings, MemoryCallLog())
    sim.script(
        model,
        *[tool_call("read_file", {"path": f"{n}.py"}) for n in "abcde"],
        tool_call("apply_edits", {"edits": EDIT}),
        tool_call("finish", {"summary": "done", "tests": []}),
    )
    request = LLMRequest(
        "coder", "You fix bugs.", (Message.user("Fix a.py."),), context="<map>" * 300,
        tools=TOOL_SPECS,
    )  # fmt: skip
    try:
        outcome = await run_tool_loop(
            router, request, Toolbox(tmp_path, EditPolicy(), _no_tests), LoopLimits()
        )
    finally:
        await registry.close()
    assert outcome.finished and outcome.turns == 7
    assert sim.refused == []
    # every turn but the first reads the turns before it from the cache; only the newest
    # turn is new input (written to Anthropic's cache for the next turn)
    usage = outcome.usage
    assert usage.cached_tokens > 2.5 * (usage.input_tokens + usage.cache_write_tokens)
    if provider == "anthropic":
        sent = usage.input_tokens + usage.cached_tokens + usage.cache_write_tokens
        assert outcome.billed_tokens < 0.4 * sent
