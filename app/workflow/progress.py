"""Rendering a run's steps for people: the check run checklist and `/agentops status`."""

from __future__ import annotations

from app.commands import SPEC
from app.forges.base import CheckAction, CheckUpdate
from app.store.runs import Run
from app.store.steps import Step

RETRY = CheckAction("Retry", "retry", "Run this command again")
CANCEL = CheckAction("Cancel", "cancel", "Stop this run")

_MARKS = {
    "succeeded": "[x]",
    "failed": "[ ] ❌",
    "running": "[ ] ⏳",
    "cancelled": "[ ] ⏹",
    "skipped": "[ ] ⏭",
}


def title_for(run: Run) -> str:
    spec = SPEC.get(run.command)
    return spec.title if spec is not None and spec.title else "Working"


def checklist(steps: list[Step]) -> str:
    lines = []
    for step in steps:
        if step.name.startswith("reply:"):
            continue
        mark = _MARKS.get(step.status, "[ ]")
        timing = f" ({step.seconds:.1f} s)" if step.seconds is not None else ""
        # what people are told; the step's error (the detail) stays in the run's record
        note = step.detail.get("failure") if step.status == "failed" else None
        error = f": {note}" if note else ""
        lines.append(f"- {mark} {step.name}{timing}{error}")
    return "\n".join(lines)


def details(steps: list[Step]) -> str:
    """What the finished steps found: files chosen and why, the plan, tests, cost."""
    found = {step.name: step.detail for step in steps if step.status == "succeeded"}
    parts: list[str] = []
    if files := found.get("locate", {}).get("files"):
        lines = [
            f"- `{f['path']}`: {'; '.join(f.get('reasons', [])[:2]) or 'content'}"
            for f in files[:8]
        ]
        parts.append("### Files chosen\n" + "\n".join(lines))
    if plan := found.get("plan", {}).get("plan"):
        parts.append(f"### Plan\n{plan}")
    if installed := found.get("install"):  # app/workflow/dependencies.py
        parts.append("### Dependencies\n" + dependencies_text(installed))
    if capped := found.get("limits", {}).get("capped"):  # sandbox_policy.within_caps
        parts.append("### Limits capped\n" + "\n".join(f"- {line}" for line in capped))
    for detail in found.values():
        if verification := detail.get("verification"):
            parts.append(f"### Tests\n{verification}")
    cost = sum(float(d.get("cost_usd", 0.0)) for d in found.values())
    if cost:
        parts.append(f"### Cost\n${cost:.4f}")
    return "\n\n".join(parts)


def dependencies_text(detail: dict[str, object]) -> str:
    """The prepare phase's line: what, from where, how long, cache hit or not."""
    cache = {"hit": "from the cache", "stored": "installed and cached"}.get(
        str(detail.get("cache")), f"installed, not cached ({detail.get('not_cached')})"
    )
    sources = detail.get("from") or []
    line = f"- {detail.get('installed')}: {cache} in {detail.get('seconds')} s"
    if sources and isinstance(sources, list):
        size = int(str(detail.get("downloaded_bytes") or 0)) / 1024**2
        line += f", {size:.1f} MiB from " + ", ".join(f"`{s}`" for s in sources)
    refused = detail.get("refused") or []
    if refused and isinstance(refused, list):
        line += "\n- refused by the egress proxy: " + ", ".join(f"`{r}`" for r in refused)
    return line


def _text(steps: list[Step]) -> str:
    extra = details(steps)
    return checklist(steps) + (f"\n\n{extra}" if extra else "")


def in_progress(run: Run, steps: list[Step], title: str) -> CheckUpdate:
    return CheckUpdate(
        status="in_progress",
        title=title,
        summary=f"`/agentops {run.command}` requested by @{run.requested_by} (run {run.id})",
        text=_text(steps),
        actions=(CANCEL,),
        external_id=str(run.id),
    )


def finished(
    run: Run, steps: list[Step], conclusion: str, title: str, detail: str = ""
) -> CheckUpdate:
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
    )


def public_reason(run: Run) -> str | None:
    """Why the run failed, as people were told (its record's error may say more)."""
    failure = run.result.get("failure")
    if isinstance(failure, dict) and failure.get("text"):
        return str(failure["text"])
    return run.error  # closed without a failure: the error is the text people were told


def status_report(runs: list[tuple[Run, list[Step]]]) -> str:
    if not runs:
        return "No AgentOps runs here yet. Write `/agentops help` to see the commands."
    lines = ["AgentOps runs here, newest first:", ""]
    for run, steps in runs:
        when = run.created_at.strftime("%Y-%m-%d %H:%M UTC")
        lines.append(
            f"**Run {run.id}**: `/agentops {run.command}` by @{run.requested_by}, "
            f"{run.status} ({when})"
        )
        if reason := public_reason(run):
            lines.append(f"  reason: {reason}")
        shown = [s for s in steps if not s.name.startswith("reply:")]
        for step in shown:
            timing = f" {step.seconds:.1f} s" if step.seconds is not None else ""
            lines.append(f"  - {step.name}: {step.status}{timing}")
        lines.append("")
    return "\n".join(lines).rstrip()
