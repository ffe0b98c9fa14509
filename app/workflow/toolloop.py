"""The bounded conversation in which the model reads, edits and tests until it finishes.

Limits on turns and tokens come from `.agentops.yml` (`limits:`); the token limit counts
tokens as they are billed (a cache read is a fraction of a new input token: see
`billed_tokens`); cost is bounded by the router's budgets. When the model calls
`finish`, `verify` judges its tests and says why in its report; a result it does not
accept goes back to the model, a bounded number of times.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from app.llm.router import LLMRouter
from app.llm.types import Completion, LLMRequest, Message, Usage
from app.step_records import Changed
from app.workflow.condense import condensed_history
from app.workflow.tools import Toolbox, ToolResult

Verifier = Callable[[list[str]], Awaitable[tuple[bool, str]]]


class LoopObserver(Protocol):
    """Told of each turn, tool call and verdict (the run's live log, app/workflow/recorder.py).
    Its methods never raise."""

    async def model_turn(self, completion: Completion) -> None: ...

    async def tool_called(
        self, name: str, arguments: dict[str, Any], result: ToolResult, seconds: float
    ) -> None: ...

    async def verified(self, proven: bool, report: str) -> None: ...


@dataclass(frozen=True)
class LoopLimits:
    max_turns: int = 30
    max_tokens: int = 400_000
    max_verifications: int = 3
    history_tokens: int = 30_000  # beyond this, old tool results are condensed


@dataclass
class LoopOutcome:
    finished: bool
    reason: str
    summary: str = ""
    tests: list[str] = field(default_factory=list)
    turns: int = 0
    usage: Usage = field(default_factory=Usage)
    billed_tokens: int = 0
    cost_usd: float = 0.0
    verification: str = ""
    models: list[str] = field(default_factory=list)

    def change(self, diff: str, test_command: str, unproven: str | None = None) -> Changed:
        """What a finished change step records: the diff and how it was proven."""
        return Changed(
            diff=diff,
            summary=self.summary,
            tests=self.tests,
            verification=self.verification,
            turns=self.turns,
            cost_usd=round(self.cost_usd, 6),
            models=self.models,
            test_command=test_command,
            unproven=unproven,
        )


async def run_tool_loop(
    router: LLMRouter,
    request: LLMRequest,
    toolbox: Toolbox,
    limits: LoopLimits,
    verify: Verifier | None = None,
    observer: LoopObserver | None = None,
) -> LoopOutcome:
    outcome = LoopOutcome(finished=False, reason="")
    nudged = False
    verifications = 0
    while outcome.turns < limits.max_turns:
        if outcome.billed_tokens >= limits.max_tokens:
            outcome.reason = f"the token limit ({limits.max_tokens}) was reached"
            return outcome
        request = replace(
            request, messages=condensed_history(request.messages, limits.history_tokens)
        )
        completion = await router.complete(request)
        if observer is not None:
            await observer.model_turn(completion)
        outcome.turns += 1
        outcome.usage = outcome.usage + completion.response.usage
        outcome.billed_tokens += completion.billed_tokens
        outcome.cost_usd += completion.cost_usd
        if completion.model_id not in outcome.models:
            outcome.models.append(completion.model_id)
        response = completion.response
        if response.text or response.tool_calls:
            # an empty turn (at max_tokens, or from a small model) stays out of the
            # history: every provider refuses an empty assistant message
            request = request.with_messages(response.as_message())
        if not response.tool_calls:
            if nudged:
                outcome.reason = "the model stopped without calling finish"
                return outcome
            nudged = True
            request = request.with_messages(Message.user(_nudge(response.stop_reason)))
            continue
        results: list[Message] = []
        for call in response.tool_calls:
            started = time.monotonic()
            result = await toolbox.call(call.name, call.arguments)
            if observer is not None:
                seconds = time.monotonic() - started
                await observer.tool_called(call.name, call.arguments, result, seconds)
            if result.finished:
                tests = [str(t) for t in result.detail.get("tests", [])]
                outcome.summary = str(result.detail.get("summary", ""))
                outcome.tests = tests
                if verify is None:
                    outcome.finished, outcome.reason = True, "finished"
                    return outcome
                verifications += 1
                proven, report = await verify(tests)
                outcome.verification = report
                if observer is not None:
                    await observer.verified(proven, report)
                if proven:
                    outcome.finished, outcome.reason = True, "finished with proven tests"
                    return outcome
                if verifications >= limits.max_verifications:
                    outcome.reason = f"the tests were not proven after {verifications} attempts"
                    return outcome
                results.append(
                    Message.tool_result(call.id, "Not finished. " + report, is_error=True)
                )
                continue
            results.append(Message.tool_result(call.id, result.text, result.is_error))
        request = request.with_messages(*results)
    outcome.reason = f"the turn limit ({limits.max_turns}) was reached"
    return outcome


def _nudge(stop_reason: str) -> str:
    if stop_reason == "max_tokens":
        return (
            "Your answer was cut off at the output limit. Make smaller steps: one tool call "
            "at a time, short edits; call `finish` when the change is done."
        )
    return "Use the tools to make the change, then call `finish`."
