"""What redacting every outgoing prompt costs over a 20-turn tool loop.

The router redacts each request whole before sending it (`redact_request`): the system
prompt, the repository context and every message so far. This builds the 20 requests of a
loop that reads this repository's own files (as `bench/loop_tokens.py` does) and times
redacting all of them through one router's redactor, as a run does, and redacting the last
one alone. Prints the medians of `--repeat` runs.

    .venv/bin/python bench/redaction_speed.py [--turns 20] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.llm import prompt_safety  # noqa: E402
from app.llm.types import LLMRequest, Message, ToolCall  # noqa: E402

SECRETS = ["sk-ant-api03-" + "s" * 40, "ghp_" + "g" * 36]


def requests(turns: int) -> list[LLMRequest]:
    files = sorted((ROOT / "app").rglob("*.py"))
    context = "\n".join(p.read_text() for p in files[:12])[:40_000]
    messages = [Message.user("Make the loop stop on two empty turns.\n\nPLAN: 1. change it")]
    built = []
    for turn in range(turns):
        path = files[(turn * 7) % len(files)]
        call = ToolCall(f"call_{turn}", "read_file", {"path": str(path.relative_to(ROOT))})
        built.append(LLMRequest("coder", "You write code." * 40, tuple(messages), context))
        messages.append(Message.assistant(f"Reading {path.name}.", (call,)))
        messages.append(Message.tool_result(call.id, path.read_text()[:16_000]))
    return built


def seconds(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main(turns: int, repeat: int) -> None:
    loop = requests(turns)
    chars = sum(len(r.system) + len(r.context) + sum(len(m.text) for m in r.messages) for r in loop)

    def whole_loop() -> None:
        # what one router does (before RequestRedactor existed: redact_request each time)
        redactor = getattr(prompt_safety, "RequestRedactor", None)
        redact = redactor(SECRETS) if redactor else None
        for request in loop:
            if redact is None:
                prompt_safety.redact_request(request, SECRETS)
            else:
                redact(request)

    def last_only() -> None:
        prompt_safety.redact_request(loop[-1], SECRETS)

    loop_times = [seconds(whole_loop) for _ in range(repeat)]
    last_times = [seconds(last_only) for _ in range(repeat)]
    print(f"{turns} requests, {chars:,} characters in all, the last {len(str(loop[-1])):,}")
    print(f"redact every request of the loop: median {statistics.median(loop_times):.3f} s")
    print(f"redact the last request alone:    median {statistics.median(last_times):.3f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    main(args.turns, args.repeat)
