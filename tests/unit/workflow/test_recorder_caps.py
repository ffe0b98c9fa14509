"""The run log's payloads are redacted before they are cut to size: a cut through a token
must not leave a piece of it that no pattern or registered secret recognises any more."""

from __future__ import annotations

import json

import pytest

from app.workflow.recorder import MAX_TAIL, capped, sanitized, tool_payload, turn_payload
from app.workflow.tools import ToolResult

TOKEN = "ghp_" + "Zq9Xw8Vu7Ts6Rp5On4Ml3Kj2Ih1Gf0EdCbA9z"
BODY = TOKEN[4:]  # what would show of the token with its prefix cut away


@pytest.mark.parametrize("into", [1, 6, 20])
def test_a_test_runs_tail_cut_through_a_token_keeps_none_of_it(into: int) -> None:
    # the tail kept starts `into` characters inside the token
    output = (
        "FAILED\n" + "y" * 5000 + "\n" + TOKEN + "\n" + "z" * (MAX_TAIL - len(TOKEN) - 1 + into)
    )
    stored = sanitized(tool_payload("run_tests", {}, ToolResult(output), 1.0))
    shown = json.dumps(stored)
    assert BODY[into:] not in shown and BODY[-12:] not in shown
    assert stored["output"].endswith("z" * 10)  # still the tail, where the verdict is


def test_a_read_results_head_cut_through_a_token_keeps_none_of_it() -> None:
    result = "x" * (1500 - 11) + "\n" + TOKEN + " and more"
    stored = sanitized(tool_payload("read_file", {"path": "conf.py"}, ToolResult(result), 0.1))
    assert TOKEN[:10] not in json.dumps(stored)


def test_a_configured_secret_cut_at_the_edge_is_redacted_whole() -> None:
    secret = "s3cr3t-Value-of-the-operator-0123456789"
    text = "a" * 5980 + " " + secret + " tail"
    shown = capped(text, 6000, secrets=(secret,))
    assert secret[:9] not in shown and "[REDACTED]" in shown


def test_a_model_turns_text_is_redacted_before_it_is_cut() -> None:
    class _Usage:
        input_tokens = output_tokens = cached_tokens = 1

    class _Response:
        text = "w" * 1995 + " " + TOKEN
        usage = _Usage()
        tool_calls: tuple[object, ...] = ()
        stop_reason = "end_turn"

    class _Completion:
        model_id = "m"
        cost_usd = 0.0
        billed_tokens = 2
        response = _Response()

    payload = turn_payload(_Completion())  # type: ignore[arg-type]
    assert TOKEN[:8] not in json.dumps(payload)


def test_a_token_the_model_used_as_a_key_is_redacted() -> None:
    stored = json.dumps(sanitized({"args": {TOKEN: "x", "path": TOKEN}}))
    assert BODY not in stored
