"""Rendering a run's steps for people: the check run checklist and `/agentops status`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from app.commands import SPEC
from app.config import Settings
from app.forges.base import CheckAction, CheckUpdate
from app.step_records import (
    Changed,
    CostedRecord,
    Installed,
    LimitsCapped,
    Located,
    Planned,
    StepRecord,
)
from app.store.runs import Run
from app.store.steps import RunSnapshot, Step

R = TypeVar("R", bound=StepRecord)

RETRY = CheckAction("Retry", "retry", "Run this command again")
CANCEL = CheckAction("Cancel", "cancel", "Stop this run")

_MARKS = {
    "succeeded": "[x]",
    "failed": "[ ] ❌",
    "running": "[ ] ⏳",
    "cancelled": "[ ] ⏹",
    "skipped": "[ ] ⏭",
}


def run_page_url(settings: Settings, run_id: int) -> str | None:
    """The run page (`{AGENTOPS_PUBLIC_URL}/runs/{id}`) when the operator set the public
    URL; None otherwise (a check run's link to an address the forge's users cannot open
    helps nobody)."""
    if "public_url" not in settings.model_fields_set or not settings.public_url:
        return None
    return f"{settings.public_url.rstrip('/')}/runs/{int(run_id)}"


def title_for(run: Run) -> str:
    spec = SPEC.get(run.command)
    return spec.title if spec is not None and spec.title else "Working"


def checklist(steps: Sequence[Step]) -> str:
    lines = []
    for step in steps:
        if not step.shown:
            continue
        mark = _MARKS.get(step.status, "[ ]")
        timing = f" ({step.seconds:.1f} s)" if step.seconds is not None else ""
        # what people are told; the step's error (the detail) stays in the run's record
        error = f": {step.failure}" if step.failure else ""
        lines.append(f"- {mark} {step.name}{timing}{error}")
    return "\n".join(lines)


def details(steps: Sequence[Step]) -> str:
    """What the finished steps found: files chosen and why, the plan, tests, cost."""
    found: list[StepRecord] = [step.record for step in steps if step.record is not None]
    parts: list[str] = []
    for located in (r for r in _of(found, Located) if r.files):
        lines = [
            f"- `{f.path}`: {'; '.join(f.reasons[:2]) or 'content'}" for f in located.files[:8]
        ]
        parts.append("### Files chosen\n" + "\n".join(lines))
        if located.tests:
            tests = [
                f"- `{t.path}`: {'; '.join(t.reasons[:2]) or 'content'}" for t in located.tests[:8]
            ]
            parts.append("### Existing tests that exercise them\n" + "\n".join(tests))
    parts.extend(f"### Plan\n{p.plan}" for p in _of(found, Planned) if p.plan)
    # the prepare phase (app/workflow/dependencies.py) and the operator's caps (within_caps)
    parts.extend("### Dependencies\n" + dependencies_text(i) for i in _of(found, Installed))
    for limits in _of(found, LimitsCapped):
        parts.append("### Limits capped\n" + "\n".join(f"- {c}" for c in limits.capped))
    parts.extend(f"### Tests\n{c.verification}" for c in _of(found, Changed) if c.verification)
    cost = sum(r.cost_usd for r in found if isinstance(r, CostedRecord))
    if cost:
        parts.append(f"### Cost\n${cost:.4f}")
    return "\n\n".join(parts)


def _of(records: list[StepRecord], kind: type[R]) -> list[R]:
    return [r for r in records if isinstance(r, kind)]


def dependencies_text(installed: Installed) -> str:
    """The prepare phase's line: what, from where, how long, cache hit or not."""
    cache = {"hit": "from the cache", "stored": "installed and cached"}.get(
        installed.cache, f"installed, not cached ({installed.not_cached})"
    )
    line = f"- {installed.installed}: {cache} in {installed.seconds} s"
    if installed.hosts:
        size = installed.downloaded_bytes / 1024**2
        line += f", {size:.1f} MiB from " + ", ".join(f"`{s}`" for s in installed.hosts)
    if installed.refused:
        line += "\n- refused by the egress proxy: " + ", ".join(f"`{r}`" for r in installed.refused)
    return line


def _text(steps: Sequence[Step]) -> str:
    extra = details(steps)
    return checklist(steps) + (f"\n\n{extra}" if extra else "")


def in_progress(now: RunSnapshot, title: str, details_url: str | None = None) -> CheckUpdate:
    run, steps = now.run, now.steps
    return CheckUpdate(
        status="in_progress",
        title=title,
        summary=f"`/agentops {run.command}` requested by @{run.requested_by} (run {run.id})",
        text=_text(steps),
        actions=(CANCEL,),
        external_id=str(run.id),
        details_url=details_url,
    )


def finished(
    now: RunSnapshot,
    conclusion: str,
    title: str,
    detail: str = "",
    details_url: str | None = None,
) -> CheckUpdate:
    run, steps = now.run, now.steps
    summary = f"`/agentops {run.command}` requested by @{run.requested_by} (run {run.id})"
    if detail:
        summary += f"\n\n{detail}"
    actions = (RETRY,) if conclusion in ("failure", "cancelled", "timed_out") else ()
    return CheckUpdate(
        status="completed",
        conclusion=conclusion,  # type: ignore[arg-type]
        title=title,
        summary=summary,
        text=_text(steps),
        actions=actions,
        external_id=str(run.id),
        details_url=details_url,
    )


def public_reason(run: Run) -> str | None:
    """Why the run failed, as people were told (its record's error may say more)."""
    failure = run.result.get("failure")
    if isinstance(failure, dict) and failure.get("text"):
        return str(failure["text"])
    return run.error  # closed without a failure: the error is the text people were told


def status_report(runs: Sequence[RunSnapshot]) -> str:
    if not runs:
        return "No AgentOps runs here yet. Write `/agentops help` to see the commands."
    lines = ["AgentOps runs here, newest first:", ""]
    for run, steps in ((r.run, r.steps) for r in runs):
        when = run.created_at.strftime("%Y-%m-%d %H:%M UTC")
        lines.append(
            f"**Run {run.id}**: `/agentops {run.command}` by @{run.requested_by}, "
            f"{run.status} ({when})"
        )
        if reason := public_reason(run):
            lines.append(f"  reason: {reason}")
        for step in filter(lambda s: s.shown, steps):
            timing = f" {step.seconds:.1f} s" if step.seconds is not None else ""
            lines.append(f"  - {step.name}: {step.status}{timing}")
        lines.append("")
    return "\n".join(lines).rstrip()
