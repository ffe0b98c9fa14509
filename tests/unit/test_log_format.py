"""JSON log lines: their fields, the work's ids from context, one line per exception,
and secrets redacted as in text lines (the same handler filter runs before either)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from app.log_format import (
    JsonLogFormatter,
    current_work_fields,
    formatter_for,
    set_work_fields,
    work_fields,
)
from app.redaction import REDACTED, install_log_redaction

TOKEN = "ghs_" + "R" * 36
CONFIGURED = "configured-webhook-secret-77"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """A root handler as `agentops serve` makes it for `AGENTOPS_LOG_FORMAT=json`."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter_for("json"))
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    install_log_redaction([CONFIGURED])
    # as in a new process: another test here may have run uvicorn with its own dictConfig,
    # which disables loggers that existed then
    others = [logging.getLogger(name) for name in ("uvicorn", "uvicorn.error", "arq.worker")]
    saved = [(lg.disabled, lg.propagate, lg.level, lg.handlers[:]) for lg in others]
    for lg in others:
        lg.disabled, lg.propagate, lg.handlers = False, True, []
        lg.setLevel(logging.NOTSET)
    yield stream
    for lg, (disabled, propagate, level, handlers) in zip(others, saved, strict=True):
        lg.disabled, lg.propagate, lg.handlers = disabled, propagate, handlers
        lg.setLevel(level)
    root.removeHandler(handler)
    root.setLevel(old_level)


def _records(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_line_is_one_json_object_with_the_work_of_its_context(json_lines: io.StringIO) -> None:
    log = logging.getLogger("app.test")
    log.info("outside any work")
    with work_fields(run_id=12, tenant_id=3, delivery_id="d-9"), work_fields(step="plan"):
        log.warning("in step %s", "plan")
    log.info("after it")
    outside, inside, after = _records(json_lines)
    assert outside.keys() == {"time", "level", "logger", "message"}
    assert inside == {
        "time": inside["time"],
        "level": "WARNING",
        "logger": "app.test",
        "message": "in step plan",
        "run_id": 12,
        "delivery_id": "d-9",
        "tenant_id": 3,
        "step": "plan",
    }
    assert str(inside["time"]).endswith("+00:00") and "T" in str(inside["time"])
    assert after.keys() == outside.keys()


def test_an_exception_is_one_field_of_one_line(json_lines: io.StringIO) -> None:
    try:
        raise RuntimeError("push failed\nsecond line")
    except RuntimeError:
        logging.getLogger("jobs.test").exception("run %s failed", 4)
    [line] = json_lines.getvalue().splitlines()
    record = json.loads(line)
    assert record["message"] == "run 4 failed"
    assert record["exception"].startswith("Traceback")
    assert "RuntimeError: push failed\nsecond line" in record["exception"]


def test_secrets_are_redacted_from_json_lines_too(json_lines: io.StringIO) -> None:
    log = logging.getLogger("app.test")
    log.info("token %s and secret %s", TOKEN, CONFIGURED)
    try:
        raise ValueError(f"clone of https://x-access-token:{TOKEN}@github.com/o/r failed")
    except ValueError:
        log.exception("clone failed")
    output = json_lines.getvalue()
    assert TOKEN not in output and CONFIGURED not in output
    first, second = _records(json_lines)
    assert first["message"] == f"token {REDACTED} and secret {REDACTED}"
    assert REDACTED in str(second["exception"])


def test_uvicorn_and_arq_lines_take_the_same_path(json_lines: io.StringIO) -> None:
    logging.getLogger("uvicorn.error").info("started with %s", TOKEN)
    logging.getLogger("arq.worker").info("job run_workflow(7)")
    records = _records(json_lines)
    assert [r["logger"] for r in records] == ["uvicorn.error", "arq.worker"]
    assert records[0]["message"] == f"started with {REDACTED}"


async def test_a_task_has_the_ids_of_its_own_work() -> None:
    async def delivery(delivery_id: str) -> dict[str, int | str]:
        set_work_fields(delivery_id=delivery_id)
        await asyncio.sleep(0)
        return current_work_fields()

    first, second = await asyncio.gather(delivery("a"), delivery("b"))
    assert first == {"delivery_id": "a"} and second == {"delivery_id": "b"}
    assert current_work_fields() == {}


def test_text_is_the_default_format() -> None:
    assert not isinstance(formatter_for("text"), JsonLogFormatter)
    assert isinstance(formatter_for("json"), JsonLogFormatter)
