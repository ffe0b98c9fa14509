"""Tokens and cost of a 20-turn `implement` tool loop, per provider, priced with prices.json.

The loop is the real one (`run_tool_loop`, the real implement system prompt, the real
repository context of the code map, the real tools on a copy of this repository's `app/`),
the model is scripted (the same 20 answers for every provider: reads, searches, a test
run, an edit, `finish`) and served by the LLM simulator on loopback, which counts tokens
as ~4 characters each and caches as the providers do (Anthropic: prefixes ending at
`cache_control` breakpoints, 20-block lookback; OpenAI and Mistral: the longest earlier
prefix, from 1024 tokens, in steps of 128). What the figures compare is what we send,
not the simulator's token arithmetic.

    .venv/bin/python bench/loop_tokens.py [--turns 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.config import Settings  # noqa: E402
from app.edits import EditPolicy  # noqa: E402
from app.llm import LLMRequest, MemoryCallLog, Message, build_router  # noqa: E402
from app.llm.prompt_safety import fence_untrusted  # noqa: E402
from app.workflow.analysis import analyse  # noqa: E402
from app.workflow.prompts import render_prompt  # noqa: E402
from app.workflow.toolloop import LoopLimits, run_tool_loop  # noqa: E402
from app.workflow.tools import TOOL_SPECS, Toolbox  # noqa: E402
from tests.sim.llm_sim import LLMSimulator, Reply  # noqa: E402
from tests.sim.serve import serve_app  # noqa: E402

TASK = "The tool loop should stop when a model answers with an empty turn twice in a row."
PROVIDERS = {
    "anthropic": "claude-sonnet-4-5",
    "openai": "gpt-4.1",
    "mistral": "mistral-large-latest",
}
TEST_OUTPUT = "\n".join(
    f"tests/unit/test_{i}.py::test_case_{j} PASSED" for i in range(20) for j in range(6)
)


def script(turns: int) -> list[Reply]:
    """The same model answers for every provider: read and search, test, edit, finish."""
    reads: list[tuple[str, dict[str, Any]]] = [
        ("read_file", {"path": "workflow/toolloop.py"}),
        ("search_code", {"query": "run_tool_loop"}),
        ("read_file", {"path": "workflow/implement.py"}),
        ("find_symbol", {"name": "LoopLimits"}),
        ("read_file", {"path": "workflow/tools.py"}),
        ("list_dir", {"path": "workflow"}),
        ("read_file", {"path": "llm/router.py"}),
        ("search_code", {"query": "nudge"}),
        ("read_file", {"path": "workflow/pr_work.py"}),
        ("run_tests", {"test_ids": []}),
        ("read_file", {"path": "llm/types.py"}),
        ("search_code", {"query": "stop_reason"}),
        ("read_file", {"path": "workflow/context.py"}),
        ("read_file", {"path": "llm/prices.py"}),
        ("run_tests", {"test_ids": []}),
        ("read_file", {"path": "workflow/proving.py"}),
        ("search_code", {"query": "Message.user"}),
    ]
    edit = (
        "workflow/toolloop.py\n<<<<<<< SEARCH\n@dataclass(frozen=True)\nclass LoopLimits:\n"
        "=======\n@dataclass(frozen=True)\nclass LoopLimits:  # two empty turns end a loop\n"
        ">>>>>>> REPLACE\n"
    )
    replies = [
        Reply(
            text="Let me look at how this works." if i % 3 == 0 else "",
            tool_calls=((name, arguments),),
            output_tokens=180,
        )
        for i, (name, arguments) in enumerate((reads * 2)[: turns - 2])
    ]
    replies.append(Reply(tool_calls=(("apply_edits", {"edits": edit}),), output_tokens=400))
    replies.append(
        Reply(tool_calls=(("finish", {"summary": "done", "tests": []}),), output_tokens=120)
    )
    return replies


async def _tests(test_ids: Sequence[str]) -> tuple[bool, str]:
    return True, TEST_OUTPUT


async def one_provider(sim: LLMSimulator, url: str, provider: str, turns: int) -> dict[str, object]:
    model = PROVIDERS[provider]
    workdir = Path(tempfile.mkdtemp(prefix="loop-tokens-"))
    try:
        repo = workdir / "app"
        shutil.copytree(ROOT / "app", repo)
        found = analyse(repo, TASK, workdir / "cache")
        settings = Settings.model_validate(
            {
                "anthropic_api_key": SecretStr("sk-ant-bench"),
                "anthropic_base_url": url,
                "openai_api_key": SecretStr("sk-bench"),
                "openai_base_url": f"{url}/v1",
                "mistral_api_key": SecretStr("bench"),
                "mistral_base_url": f"{url}/v1",
                "llm_models": {
                    r: [f"{provider}:{model}"] for r in ("planner", "coder", "reviewer", "cheap")
                },
            }
        )
        router, registry = build_router(settings, MemoryCallLog())
        sim.script(model, *script(turns))
        before = len(sim.requests)
        request = LLMRequest(
            role="coder",
            system=render_prompt(
                "implement_system",
                repo="acme/app",
                edit_format=render_prompt("edit_format"),
                test_command="pytest -q",
                test_conventions=render_prompt("runners/pytest"),
            ),
            context=fence_untrusted("repository code", found.context.text),
            messages=(
                Message.user(
                    render_prompt(
                        "implement_task", repo="acme/app", issue=TASK, plan="1. Change the loop."
                    )
                ),
            ),
            tools=TOOL_SPECS,
            max_tokens=8192,
        )
        toolbox = Toolbox(repo, EditPolicy(), _tests, find_symbols=found.find_symbols)
        try:
            outcome = await run_tool_loop(router, request, toolbox, LoopLimits(max_turns=turns + 2))
        finally:
            await registry.close()
        sent = sim.requests[before:]
        usage = outcome.usage
        return {
            "provider": provider,
            "model": model,
            "turns": outcome.turns,
            "finished": outcome.finished,
            "reason": outcome.reason,
            "context_chars": len(found.context.text),
            "chars_sent": sum(len(json.dumps(r.body)) for r in sent),
            "input": usage.input_tokens,
            "cache_read": usage.cached_tokens,
            "cache_write": usage.cache_write_tokens,
            "output": usage.output_tokens,
            "billed_tokens": outcome.billed_tokens,
            "cost_usd": round(outcome.cost_usd, 4),
            "refused": list(sim.refused),
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def main(turns: int) -> None:
    sim = LLMSimulator()
    with serve_app(sim.app) as url:
        rows = [await one_provider(sim, url, p, turns) for p in PROVIDERS]
    print(
        "| provider | model | turns | chars sent | input | cache read | cache write | output "
        "| billed tokens | cost (USD) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['provider']} | {row['model']} | {row['turns']} | {row['chars_sent']:,} "
            f"| {row['input']:,} | {row['cache_read']:,} | {row['cache_write']:,} "
            f"| {row['output']:,} | {row['billed_tokens']:,} | {row['cost_usd']:.4f} |"
        )
    for row in rows:
        if not row["finished"] or row["refused"]:
            print(f"{row['provider']}: not finished ({row['reason']}); refused: {row['refused']}")
    print(f"repository context: {rows[0]['context_chars']:,} characters")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20)
    asyncio.run(main(parser.parse_args().turns))
