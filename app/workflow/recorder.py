"""The run's live log (issue 15 §1): what the workflow did, event by event, for the run
page. Steps starting and ending, the plan, the files the code map chose and why, every
tool call of the loop (an edit as its diff, a test run with the tail of its output), the
model's turns with tokens and cost, the red → green verdict, refusals and errors.

Payloads are redacted (app/redaction.py) and size-capped before they are stored (they
hold model text and test output: untrusted, and maybe a leaked secret). Recording never
fails a run: a database fault costs the event, logged, and the run goes on.
"""

from __future__ import annotations

import logging
from typing import Any

from app.llm.call_log import CallRecord
from app.llm.types import Completion
from app.redaction import redact, registered_secrets
from app.step_records import Changed, Located, Planned, Reviewed, StepRecord
from app.store import DATABASE_ERRORS, UNSTORABLE_VALUE_ERRORS, Database
from app.store import run_events as event_store
from app.workflow.tools import ToolResult

log = logging.getLogger(__name__)

MAX_TEXT = 6_000  # characters of one string field (the tail of test output, a diff's head)
MAX_TAIL = 3_000  # characters of test output kept: its end, where the verdict is
MAX_LIST = 50  # items of one list field


def capped(
    text: str, limit: int = MAX_TEXT, tail: bool = False, secrets: tuple[str, ...] | None = None
) -> str:
    """`text`, redacted, in at most about `limit` characters, saying how much was left out.

    Redacted before it is cut: a cut through a token leaves a piece that neither a token
    pattern (its prefix gone) nor a registered secret's fragments may recognise."""
    text = redact(text, registered_secrets() if secrets is None else secrets)
    if len(text) <= limit:
        return text
    left = len(text) - limit
    if tail:
        return f"… ({left} characters before)\n" + text[-limit:]
    return text[:limit] + f"\n… ({left} more characters)"


def sanitized(value: Any, secrets: tuple[str, ...] = ()) -> Any:
    """`value` as stored JSON: every string redacted and capped, lists capped, keys text."""
    if isinstance(value, str):
        return capped(value, secrets=secrets)
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, dict):
        items = list(value.items())[:MAX_LIST]  # keys too are the model's words: redacted
        return {capped(str(k), 100, secrets=secrets): sanitized(v, secrets) for k, v in items}
    if isinstance(value, list | tuple):
        return [sanitized(v, secrets) for v in list(value)[:MAX_LIST]]
    return capped(str(value), secrets=secrets)


def record_events(name: str, record: StepRecord) -> list[tuple[str, dict[str, Any]]]:
    """What a finished step's record adds to the log (kind, payload): the plan, the files
    chosen and why, the change."""
    if isinstance(record, Planned):
        return [("plan", {"plan": record.plan, "model": record.model, "cost_usd": record.cost_usd})]
    if isinstance(record, Located):
        files = [{"path": f.path, "score": f.score, "reasons": f.reasons} for f in record.files]
        tests = [{"path": t.path, "score": t.score, "reasons": t.reasons} for t in record.tests]
        found = {"files": files, "tests": tests}
        return [("files", {**found, "indexed": record.indexed, "seconds": record.seconds})]
    if isinstance(record, Changed):
        change = {
            "diff": capped(record.diff),
            "summary": record.summary,
            "tests": record.tests,
            "verification": capped(record.verification, MAX_TAIL, tail=True),
            "turns": record.turns,
            "cost_usd": record.cost_usd,
            "models": record.models,
            "unproven": record.unproven,
        }
        return [("change", change)]
    if isinstance(record, Reviewed):
        return [("review", {"comments": record.comments, "cost_usd": record.cost_usd})]
    return []


def tool_payload(
    name: str, arguments: dict[str, Any], result: ToolResult, seconds: float
) -> dict[str, Any]:
    """A tool call as the log shows it: an edit as its diff, a test run as the tail of
    its output and whether it passed."""
    payload: dict[str, Any] = {"tool": name, "error": result.is_error, "seconds": round(seconds, 3)}
    if name == "apply_edits":
        payload["diff"] = capped(result.text)
    elif name == "run_tests":
        payload["test_ids"] = arguments.get("test_ids") or []
        passed = result.text.startswith("PASSED")
        payload["passed"] = passed and not result.is_error
        payload["output"] = capped(result.text, MAX_TAIL, tail=True)
    else:
        payload["arguments"] = {k: v for k, v in arguments.items() if k != "edits"}
        payload["result"] = capped(result.text, 1_500)
    return payload


def turn_payload(completion: Completion) -> dict[str, Any]:
    response = completion.response
    usage = response.usage
    return {
        "model": completion.model_id,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cached_tokens": usage.cached_tokens,
        "cost_usd": round(completion.cost_usd, 6),
        "billed_tokens": completion.billed_tokens,
        "text": capped(response.text, 2_000),
        "tool_calls": [c.name for c in response.tool_calls],
        "stop_reason": response.stop_reason,
    }


class RunRecorder:
    """Appends one run's events; every method swallows (and logs) recording faults."""

    def __init__(self, db: Database, tenant_id: int, run_id: int) -> None:
        self.db = db
        self.tenant_id = tenant_id
        self.run_id = run_id
        self.step: str | None = None  # the step under way, named on each event
        self.failures = 0

    async def record(self, kind: str, payload: dict[str, Any], step: str | None = None) -> None:
        try:
            stored = sanitized(payload, registered_secrets())
            async with self.db.tenant(self.tenant_id) as tc:
                await event_store.append_event(
                    tc, self.run_id, kind, step if step is not None else self.step, stored
                )
        except (*DATABASE_ERRORS, *UNSTORABLE_VALUE_ERRORS) as exc:
            self.failures += 1
            log.warning("run %s: event %s not recorded: %s", self.run_id, kind, exc)
        except Exception:  # never a run's failure
            self.failures += 1
            log.exception("run %s: event %s not recorded", self.run_id, kind)

    # --- steps -----------------------------------------------------------------------
    async def step_started(self, name: str, position: int, again: bool) -> None:
        self.step = name
        await self.record("step_started", {"name": name, "position": position, "again": again})

    async def step_ended(
        self,
        name: str,
        status: str,
        seconds: float | None,
        record: StepRecord | None = None,
        failure: str | None = None,
    ) -> None:
        if record is not None:
            for kind, found in record_events(name, record):
                await self.record(kind, found, name)
        payload: dict[str, Any] = {"name": name, "status": status}
        if seconds is not None:
            payload["seconds"] = round(seconds, 3)
        if failure:
            payload["failure"] = failure
        await self.record("step_ended", payload, name)
        if self.step == name:
            self.step = None

    # --- every model call attempt (app/llm/call_log.py's on_record) --------------------
    async def llm_call(self, record: CallRecord) -> None:
        payload: dict[str, Any] = {
            "role": record.role,
            "model": record.model_id,
            "attempt": record.attempt,
            "outcome": record.outcome,
            "input_tokens": record.usage.input_tokens,
            "output_tokens": record.usage.output_tokens,
            "cached_tokens": record.usage.cached_tokens,
            "cost_usd": round(record.cost_usd, 6),
            "latency_ms": record.latency_ms,
        }
        if record.outcome != "ok" and record.detail:
            payload["detail"] = capped(record.detail, 500)
        await self.record("model_call", payload)

    # --- the tool loop (app/workflow/toolloop.py's LoopObserver) ----------------------
    async def model_turn(self, completion: Completion) -> None:
        await self.record("model_turn", turn_payload(completion))

    async def tool_called(
        self, name: str, arguments: dict[str, Any], result: ToolResult, seconds: float
    ) -> None:
        await self.record("tool_call", tool_payload(name, arguments, result, seconds))

    async def verified(self, proven: bool, report: str) -> None:
        payload = {"proven": proven, "report": capped(report, MAX_TAIL, tail=True)}
        await self.record("verdict", payload)

    # --- the end -----------------------------------------------------------------------
    async def refused_or_failed(self, kind: str, text: str) -> None:
        await self.record(kind, {"text": text})

    async def run_ended(self, status: str) -> None:
        self.step = None
        await self.record("run_ended", {"status": status})
