"""Runs and steps as the store hands them to the workflow, for tests without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app.step_records import StepRecord
from app.store.runs import Run
from app.store.steps import RunSnapshot, Step

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def made_run(**changes: Any) -> Run:
    fields: dict[str, Any] = {
        "id": 7,
        "tenant_id": 1,
        "forge": "github",
        "repo": "acme/calc",
        "target_kind": "issue",
        "target_number": 3,
        "command": "implement",
        "args": "",
        "requested_by": "alice",
        "trigger": "comment",
        "trigger_key": "k",
        "comment_id": 1,
        "context": {},
        "status": "running",
        "cancel_requested": False,
        "retry_of": None,
        "attempts": 1,
        "check_ref": None,
        "result": {},
        "error": None,
        "created_at": NOW,
        "started_at": NOW,
        "finished_at": None,
    }
    return Run(**{**fields, **changes})


def snapshot(run: Run, steps: list[Step]) -> RunSnapshot:
    return RunSnapshot(run, tuple(steps))


def succeeded(name: str, record: StepRecord, position: int = 0, seconds: float = 1.0) -> Step:
    return Step(
        name=name,
        position=position,
        status="succeeded",
        record=record,
        failure=None,
        error=None,
        started_at=NOW,
        finished_at=NOW + timedelta(seconds=seconds),
    )


def failed(name: str, failure: str, error: str = "the record's detail") -> Step:
    return Step(
        name=name,
        position=9,
        status="failed",
        record=None,
        failure=failure,
        error=error,
        started_at=NOW,
        finished_at=NOW + timedelta(seconds=2),
    )


def running(name: str) -> Step:
    return Step(
        name=name,
        position=9,
        status="running",
        record=None,
        failure=None,
        error=None,
        started_at=NOW,
        finished_at=None,
    )
