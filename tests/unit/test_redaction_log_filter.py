"""The log redaction filter as installed in a process: tracebacks, handlers, late secrets.

(`redact` itself and a basic filter call are covered in tests/unit/forges/test_redaction.py.)
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from app.redaction import REDACTED, RedactingFilter, install_log_redaction, register_secret

TOKEN = "ghs_" + "Q" * 36


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """A root handler writing to a string, removed afterwards."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_tracebacks_are_redacted(captured: io.StringIO) -> None:
    install_log_redaction()
    try:
        raise RuntimeError(f"push failed for https://x-access-token:{TOKEN}@github.com/o/r")
    except RuntimeError:
        logging.getLogger("agentops.test").exception("delivery %s failed", "d-1")
    output = captured.getvalue()
    assert "delivery d-1 failed" in output
    assert "Traceback" in output and "RuntimeError" in output
    assert TOKEN not in output
    assert REDACTED in output


def test_configured_and_late_secrets_are_redacted(captured: io.StringIO) -> None:
    install_log_redaction(["webhook-secret-value-1"])
    log = logging.getLogger("agentops.test")
    log.info("secret is %s", "webhook-secret-value-1")
    fresh = "an-installation-token-learned-later"
    log.info("before: %s", fresh)
    register_secret(fresh)
    log.info("after: %s", fresh)
    lines = captured.getvalue().splitlines()
    assert lines[0] == f"INFO secret is {REDACTED}"
    assert lines[1] == f"INFO before: {fresh}"  # not known yet, and not a token format
    assert lines[2] == f"INFO after: {REDACTED}"


def test_installing_twice_adds_the_filter_once(captured: io.StringIO) -> None:
    install_log_redaction()
    install_log_redaction()
    [handler] = [h for h in logging.getLogger().handlers if getattr(h, "stream", None) is captured]
    assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1


def test_messages_are_rendered_once_and_stay_renderable() -> None:
    record = logging.LogRecord(
        "t", logging.INFO, __file__, 1, "%d%% done, token %s", (50, TOKEN), None
    )
    redacting = RedactingFilter()
    assert redacting.filter(record)
    assert redacting.filter(record)  # a second handler sees the same record
    assert record.getMessage() == f"50% done, token {REDACTED}"


def test_short_literal_secrets_are_not_replaced_everywhere() -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "state is abc", None, None)
    RedactingFilter(["abc"]).filter(record)
    assert record.getMessage() == "state is abc"
