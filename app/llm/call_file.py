"""A local run's model calls, recorded in a JSON-lines file that `agentops replay FILE` reads.

Local mode (`agentops run`) has no database; its calls are kept like a run's `llm_calls`
rows, one attempt per line, in a file only its owner can read (requests hold repository
code, redacted of secrets like everything the router sends).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from app.llm.call_log import CallRecord, MemoryCallLog, Reservation
from app.llm.replay import RecordedCall
from app.llm.types import request_from_json, request_to_json, response_from_json, response_to_json


class FileCallLog(MemoryCallLog):
    """`MemoryCallLog` (budgets within the process) that also appends each attempt to
    `path`."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.close(fd)

    async def record(self, record: CallRecord, settles: Reservation | None = None) -> None:
        await super().record(record, settles)
        line: dict[str, Any] = {
            "call_id": str(record.call_id),
            "attempt": record.attempt,
            "role": record.role,
            "provider": record.provider,
            "model": record.model_id,
            "outcome": record.outcome,
            "detail": record.detail,
            "usage": asdict(record.usage),
            "cost_usd": record.cost_usd,
            "latency_ms": record.latency_ms,
            "fingerprint": record.fingerprint,
            "request": request_to_json(record.request),
            "response": None if record.response is None else response_to_json(record.response),
        }
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(line, separators=(",", ":")) + "\n")


class UnreadableRecording(ValueError):
    pass


def read_call_file(path: Path) -> list[RecordedCall]:
    """The answered calls recorded in `path`, in order."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UnreadableRecording(f"cannot read {path}: {exc.strerror}") from None
    calls: list[RecordedCall] = []
    for number, line in enumerate(lines, start=1):
        try:
            entry = json.loads(line)
            if entry["outcome"] != "ok" or entry["response"] is None:
                continue
            calls.append(
                RecordedCall(
                    str(entry["fingerprint"]),
                    str(entry["model"]),
                    request_from_json(entry["request"]),
                    response_from_json(entry["response"]),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError, ValidationError):
            raise UnreadableRecording(
                f"{path}:{number}: not a recorded model call (agentops run writes them)"
            ) from None
    return calls
