"""Output truncation, limit classification and red/green verdicts (pure)."""

from __future__ import annotations

import signal

import pytest

from app.sandbox import (
    CapturedOutput,
    LimitHit,
    OutputCapture,
    RedGreenResult,
    Runner,
    SandboxResult,
    Verdict,
    judge,
    nothing_ran,
)
from app.sandbox.execution import classify_limits


def test_short_output_is_kept_whole() -> None:
    capture = OutputCapture(head=10, tail=10)
    capture.feed(b"hello ")
    capture.feed(b"world")
    assert capture.result() == CapturedOutput("hello world", 11, 0)


def test_long_output_keeps_head_and_tail_and_says_what_was_cut() -> None:
    capture = OutputCapture(head=4, tail=3)
    for chunk in (b"ab", b"cdefgh", b"ijklmnopq", b"rstuvwxyz"):
        capture.feed(chunk)
    result = capture.result()
    assert result.total_bytes == 26
    assert result.omitted_bytes == 19
    assert result.text == "abcd\n[… 19 bytes of output omitted …]\nxyz"


def test_broken_utf8_is_replaced() -> None:
    capture = OutputCapture(head=100, tail=0)
    capture.feed("é".encode()[:1])
    assert capture.result().text == "\ufffd"


@pytest.mark.parametrize(
    ("code", "timed_out", "output", "sig", "hits"),
    [
        (0, False, b"MemoryError in a passing test name", None, ()),
        (1, False, b"E   MemoryError", None, (LimitHit.MEMORY,)),
        (
            1,
            False,
            b"BlockingIOError: [Errno 11] Resource temporarily unavailable",
            None,
            (LimitHit.PROCESSES,),
        ),
        (128 + signal.SIGXCPU, False, b"", signal.SIGXCPU, (LimitHit.CPU_TIME,)),
        (-signal.SIGXCPU, False, b"", signal.SIGXCPU, (LimitHit.CPU_TIME,)),
        (137, False, b"", signal.SIGKILL, ()),
        (None, True, b"", None, (LimitHit.WALL_TIME,)),
        (2, False, b"usage", None, ()),
    ],
)
def test_classify_limits(
    code: int | None, timed_out: bool, output: bytes, sig: int | None, hits: tuple[LimitHit, ...]
) -> None:
    assert classify_limits(code, timed_out, output) == (sig, hits)


def result(code: int | None, text: str = "", timed_out: bool = False) -> SandboxResult:
    return SandboxResult(
        ("pytest",), code, 0.1, CapturedOutput(text, len(text), 0), True, timed_out=timed_out
    )


def test_verdicts() -> None:
    assert judge(Runner.PYTEST, "t", result(1), result(0)).verdict is Verdict.PROVEN
    assert judge(Runner.PYTEST, "t", result(2), result(0)).verdict is Verdict.PROVEN  # import
    assert judge(Runner.PYTEST, "t", result(0), result(0)).verdict is Verdict.PASSES_ON_BASE
    assert judge(Runner.PYTEST, "t", result(1), result(1)).verdict is Verdict.FAILS_ON_CHANGE
    timed = result(None, timed_out=True)
    assert judge(Runner.PYTEST, "t", result(1), timed).verdict is Verdict.FAILS_ON_CHANGE
    assert judge(Runner.PYTEST, "t", result(5), result(0)).verdict is Verdict.NOT_RUN
    assert judge(Runner.PYTEST, "t", result(1), result(4)).verdict is Verdict.NOT_RUN


def test_nothing_ran_per_runner() -> None:
    assert nothing_ran(Runner.GO, result(0, "testing: warning: no tests to run\nok"))
    assert nothing_ran(Runner.JEST, result(1, "No tests found, exiting with code 1"))
    assert nothing_ran(Runner.CARGO, result(0, "running 0 tests\nrunning 0 tests"))
    assert not nothing_ran(Runner.CARGO, result(0, "running 0 tests\nrunning 1 test"))
    assert nothing_ran(Runner.PHPUNIT, result(0, "No tests executed!"))
    assert not nothing_ran(Runner.PYTEST, result(1))


def test_markdown_report() -> None:
    proof = judge(
        Runner.PYTEST,
        "tests/test_a.py::test_x",
        result(1, "E assert 1 == 2"),
        result(0, "1 passed"),
    )
    text = RedGreenResult((proof,), ("tests/test_a.py",)).to_markdown()
    assert "| `tests/test_a.py::test_x` | proven | exit 1 | exit 0 |" in text
    assert "E assert 1 == 2" in text
    assert RedGreenResult((proof,), ()).proven
    assert not RedGreenResult((), ()).proven


def test_a_new_test_whose_module_does_not_exist_yet_is_red_not_missing() -> None:
    import_error = (
        "ERROR collecting pkg/test_feature.py\nModuleNotFoundError: No module "
        "named 'pkg.feature'\nERROR: found no collectors for pkg/test_feature.py"
    )
    red = result(4, import_error)
    assert not nothing_ran(Runner.PYTEST, red)
    assert judge(Runner.PYTEST, "t", red, result(0)).verdict is Verdict.PROVEN
    no_such_test = "ERROR: not found: /workspace/tests/test_a.py::test_gone"
    assert nothing_ran(Runner.PYTEST, result(4, no_such_test))
