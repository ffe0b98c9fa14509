"""Pure pieces of the GitHub forge (github_format.py): truncation and the check run payload."""

from __future__ import annotations

from app.forges.base import CheckAction, CheckUpdate
from app.forges.github.format import (
    CHECK_TEXT_MAX_BYTES,
    COMMENT_MAX_CHARS,
    check_run_payload,
    truncate_bytes,
    truncate_chars,
)


def test_truncate_chars() -> None:
    assert truncate_chars("short", 10) == "short"
    cut = truncate_chars("x" * 70_000, COMMENT_MAX_CHARS)
    assert len(cut) == COMMENT_MAX_CHARS and cut.endswith("GitHub allows)")


def test_truncate_bytes_never_splits_a_character() -> None:
    cut = truncate_bytes("€" * 30_000, CHECK_TEXT_MAX_BYTES)  # 3 bytes each
    assert len(cut.encode()) <= CHECK_TEXT_MAX_BYTES
    assert cut.startswith("€€€") and "truncated" in cut
    assert truncate_bytes("é" * 10, 20) == "é" * 10


def test_check_payload_limits() -> None:
    actions = tuple(
        CheckAction(f"label-{i}-" + "l" * 30, f"id{i}" + "i" * 30, "d" * 60) for i in range(5)
    )
    payload = check_run_payload(
        CheckUpdate("in_progress", "t" * 400, "s" * 70_000, text="x" * 70_000, actions=actions)
    )
    assert len(payload["actions"]) == 3
    assert all(
        len(a["label"]) <= 20 and len(a["identifier"]) <= 20 and len(a["description"]) <= 40
        for a in payload["actions"]
    )
    assert len(payload["output"]["summary"].encode()) <= CHECK_TEXT_MAX_BYTES
    assert len(payload["output"]["text"].encode()) <= CHECK_TEXT_MAX_BYTES
    assert len(payload["output"]["title"]) <= 255
    assert payload["status"] == "in_progress" and "conclusion" not in payload


def test_check_payload_conclusion_completes() -> None:
    payload = check_run_payload(
        CheckUpdate(
            "in_progress",
            "Done",
            "ok",
            conclusion="failure",
            details_url="https://x.example/runs/1",
        )
    )
    assert payload["status"] == "completed" and payload["conclusion"] == "failure"
    assert payload["details_url"] == "https://x.example/runs/1"
    assert "text" not in payload["output"]


def test_completed_without_conclusion_is_neutral() -> None:
    payload = check_run_payload(CheckUpdate("completed", "Done", "ok"))
    assert payload["status"] == "completed" and payload["conclusion"] == "neutral"
