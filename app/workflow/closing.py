"""How a run ends, recorded before its close touches the forge.

A run's close completes its check run (GitLab: commit status and note), then marks the
run finished, then may tell the person why it failed. A worker stopped or killed between
those leaves the next worker the run still `running`: going over its work again would set
the check run back in progress and complete it a second time. So the outcome is recorded
first (in the run's result under `closing`, until `finish_run` removes it) and the check
run's completion after it: the next worker only does what is left, with the same outcome.
Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from app.store.runs import Run

CLOSING = "closing"  # the key of the run's result that holds it


@dataclass(frozen=True)
class Closing:
    status: str  # the run's final status
    conclusion: str  # the check run's
    error: str | None  # what people are told
    record: str | None  # what the run's record keeps
    tell: bool = False  # a comment says why it failed
    said: str = "failed"  # ... that it "failed" or "stopped"
    check_closed: bool = False  # the check run is completed

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def recorded(cls, run: Run) -> Closing | None:
        """The close an earlier try of `run` began, if any."""
        stored = run.result.get(CLOSING)
        if not isinstance(stored, dict):
            return None
        names = {f.name for f in dataclasses.fields(cls)}
        try:
            return cls(**{k: v for k, v in stored.items() if k in names})
        except TypeError:  # a record missing its status or conclusion: none to go on from
            return None
