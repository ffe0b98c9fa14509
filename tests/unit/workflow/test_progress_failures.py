"""The checklist and `/agentops status` show what people were told, never the record's
detail of a failure."""

from __future__ import annotations

import dataclasses
from typing import Any

from app.store.runs import Run
from app.store.steps import RunSnapshot, Step
from app.workflow.progress import checklist, public_reason, status_report
from tests.unit.workflow.made_runs import NOW, failed, made_run

DETAIL = (
    "ProviderConfigError: anthropic:sim: the provider refused the credentials (401): "
    "invalid x-api-key sk-ant-api03-[REDACTED]; check AGENTOPS_ANTHROPIC_API_KEY"
)
TOLD = "The model provider is unavailable to AgentOps. Write `/agentops retry` later."


def make_run(**changes: Any) -> Run:
    """A run that failed on the model provider, as the runner stores it."""
    failure = {"failure": {"kind": "model_provider", "text": TOLD}}
    told = {"status": "failed", "result": failure, "error": f"{TOLD}\n\n{DETAIL}"}
    return made_run(**{"repo": "o/r", "finished_at": NOW, **told, **changes})


def failed_step() -> Step:
    return dataclasses.replace(
        failed("plan", "The model provider is unavailable to AgentOps.", DETAIL), position=3
    )


def test_the_checklist_shows_the_public_note_of_a_failed_step() -> None:
    text = checklist([failed_step()])
    assert text == "- [ ] ❌ plan (2.0 s): The model provider is unavailable to AgentOps."


def test_a_failed_step_without_a_note_shows_no_detail() -> None:
    step = dataclasses.replace(failed_step(), failure=None)
    assert "AGENTOPS_" not in checklist([step]) and "401" not in checklist([step])


def test_status_gives_the_reason_people_were_told() -> None:
    run = make_run()
    assert public_reason(run) == TOLD
    report = status_report([RunSnapshot(run, (failed_step(),))])
    assert f"reason: {TOLD}" in report
    assert "AGENTOPS_" not in report and "x-api-key" not in report
    # a run closed without a failure (a timeout) was told its error as it is
    timed_out = make_run(result={}, error="the run took longer than the job timeout")
    assert public_reason(timed_out) == "the run took longer than the job timeout"
