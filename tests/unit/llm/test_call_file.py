"""A local run's call file: written as the router records, read back for replay."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from app.llm.call_file import FileCallLog, UnreadableRecording, read_call_file
from app.llm.call_log import CallRecord
from app.llm.types import LLMRequest, LLMResponse, Message, Usage, request_fingerprint


def _record(outcome: str, request: LLMRequest) -> CallRecord:
    return CallRecord(
        call_id=uuid.uuid4(),
        attempt=1,
        role="coder",
        provider="anthropic",
        model_id="anthropic:claude-a",
        outcome=outcome,
        detail="",
        usage=Usage(10, 5),
        cost_usd=0.001,
        latency_ms=12,
        fingerprint=request_fingerprint(request),
        request=request,
        response=LLMResponse("hello") if outcome == "ok" else None,
    )


async def test_answered_calls_are_read_back_in_order(tmp_path: Path) -> None:
    log = FileCallLog(tmp_path / "runs" / "one.jsonl")
    asked = LLMRequest("coder", "sys", (Message.user("hi"),))
    await log.record(_record("server", asked))
    await log.record(_record("ok", asked))
    calls = read_call_file(log.path)
    assert [(c.model_id, c.response.text) for c in calls] == [("anthropic:claude-a", "hello")]
    assert calls[0].request == asked and log.path.stat().st_mode & 0o777 == 0o600


def test_a_file_that_is_not_a_recording_is_one_clear_error(tmp_path: Path) -> None:
    other = tmp_path / "notes.jsonl"
    other.write_text('{"hello": 1}\n')
    with pytest.raises(UnreadableRecording, match=r"notes.jsonl:1: not a recorded model call"):
        read_call_file(other)
    with pytest.raises(UnreadableRecording, match="cannot read"):
        read_call_file(tmp_path / "missing.jsonl")
