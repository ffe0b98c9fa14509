"""What the run tools answer: their output schemas (structured content)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from app.store.runs import Run
from app.store.steps import Step


class RunSummary(BaseModel):
    id: int
    forge: str
    repo: str
    target_kind: str
    target_number: int
    command: str
    status: str
    requested_by: str
    trigger: str
    created_at: str
    finished_at: str | None
    page: str = Field(description="the run's page")

    @classmethod
    def of(cls, run: Run, public_url: str) -> RunSummary:
        return cls(
            id=run.id,
            forge=run.forge,
            repo=run.repo,
            target_kind=run.target_kind,
            target_number=run.target_number,
            command=run.command,
            status=run.status,
            requested_by=run.requested_by,
            trigger=run.trigger,
            created_at=run.created_at.isoformat(),
            finished_at=run.finished_at.isoformat() if run.finished_at else None,
            page=f"{public_url.rstrip('/')}/runs/{run.id}",
        )


class RunList(BaseModel):
    runs: list[RunSummary] = Field(description="newest first")
    next_before: int | None = Field(description="pass as `before` for the next page")


class StepSummary(BaseModel):
    name: str
    status: str
    seconds: float | None
    failure: str | None

    @classmethod
    def of(cls, step: Step) -> StepSummary:
        return cls(name=step.name, status=step.status, seconds=step.seconds, failure=step.failure)


class RunStatus(BaseModel):
    run: RunSummary
    steps: list[StepSummary]
    cost_usd: float = Field(description="what its model calls cost")
    model_calls: int
    error: str | None
    links: dict[str, str] = Field(description="page, pull request, log and diff resources")
    result: dict[str, Any]


class Filed(BaseModel):
    run_id: int | None = Field(description="the new run (None when it was not filed)")
    outcome: str = Field(description="what the intake said")
    requested_by: str
    page: str | None
