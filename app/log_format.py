"""Log lines as JSON objects (`AGENTOPS_LOG_FORMAT=json`), and the ids of the work a line
is about, carried in context variables so that every line of that work has them.

The intake sets `delivery_id` (and `tenant_id`, `run_id` once known) for its delivery, the
worker `run_id`, `tenant_id`, `delivery_id` for a run and `step` for each step; a task
started meanwhile inherits them. The JSON formatter adds them to every line; secrets are
redacted before any formatter sees a record (`app/redaction.py`'s handler filter).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime

RUN_ID: ContextVar[int | str | None] = ContextVar("agentops_log_run_id", default=None)
DELIVERY_ID: ContextVar[int | str | None] = ContextVar("agentops_log_delivery_id", default=None)
TENANT_ID: ContextVar[int | str | None] = ContextVar("agentops_log_tenant_id", default=None)
STEP: ContextVar[int | str | None] = ContextVar("agentops_log_step", default=None)
_WORK = {"run_id": RUN_ID, "delivery_id": DELIVERY_ID, "tenant_id": TENANT_ID, "step": STEP}


def set_work_fields(**fields: int | str | None) -> None:
    """Name the work of the current task (and of tasks it starts from now on); for code
    that ends with its task, as one request of the intake does (whose hot path sets the
    variables themselves: `DELIVERY_ID.set(…)`)."""
    for name, value in fields.items():
        _WORK[name].set(value)


@contextlib.contextmanager
def work_fields(**fields: int | str | None) -> Iterator[None]:
    """`set_work_fields` for the lines logged inside the block only."""
    tokens = [(_WORK[name], _WORK[name].set(value)) for name, value in fields.items()]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current_work_fields() -> dict[str, int | str]:
    """The ids set for the current work (those unset left out)."""
    found: dict[str, int | str] = {}
    for name, var in _WORK.items():
        value = var.get()
        if value is not None:
            found[name] = value
    return found


class JsonLogFormatter(logging.Formatter):
    """One JSON object per record, on one line: `time` (ISO 8601, UTC), `level`, `logger`,
    `message`, the work's ids, and `exception` (the traceback as one string)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **current_work_fields(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def formatter_for(log_format: str) -> logging.Formatter:
    """The formatter of `AGENTOPS_LOG_FORMAT` (`text` or `json`)."""
    return JsonLogFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
