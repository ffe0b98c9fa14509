"""The intake as a web process uses it, for tests that accept one delivery at a time."""

from __future__ import annotations

from app.events import Outcome
from app.intake import Intake, IntakeResult
from app.queue import RunQueue
from app.store import Database


async def accept_once(
    db: Database, queue: RunQueue, outcome: Outcome, delivery_id: str, event: str
) -> IntakeResult:
    """Accept, then wait until its job is enqueued (or left to the sweep), as a web
    process does before it stops."""
    intake = Intake(db, queue)
    try:
        return await intake.accept(outcome, delivery_id, event)
    finally:
        await intake.close()
