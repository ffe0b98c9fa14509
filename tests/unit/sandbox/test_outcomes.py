"""What a test command's output says beyond pass or fail (pure): a runner that cannot
start, tests that need what the sandbox never gives, single tests' outcomes."""

from __future__ import annotations

import pytest

from app.sandbox import (
    CapturedOutput,
    RedGreenResult,
    Runner,
    SandboxResult,
    TestProof,
    Verdict,
    environment_error,
    judge,
    nothing_ran,
    outside_cause,
    per_test_outcomes,
)


def result(code: int | None, text: str = "") -> SandboxResult:
    return SandboxResult(("pytest",), code, 0.1, CapturedOutput(text, len(text), 0), True)


@pytest.mark.parametrize(
    ("code", "output"),
    [
        (1, "/deps/venv/bin/python: No module named pytest\n"),
        (127, "setpriv: failed to execute vendor/bin/phpunit: No such file or directory\n"),
        (127, "sh: 1: vitest: not found\n"),
        (127, "env: 'pytest': No such file or directory\n"),
        (1, "npm error could not determine executable to run\n"),
        (1, "Could not open input file: vendor/bin/phpunit\n"),
        (127, ""),
    ],
)
def test_a_runner_that_cannot_start_is_an_environment_error(code: int, output: str) -> None:
    assert environment_error(result(code, output)) is not None


@pytest.mark.parametrize(
    ("code", "output"),
    [
        (0, "/deps/venv/bin/python: No module named pytest\n"),  # passed: whatever it says
        (1, "E   ModuleNotFoundError: No module named 'calc'\n"),  # the usual red
        (1, "E   AssertionError: user not found\n"),  # a test's own words
        (2, "tests/test_x.py::test_y FAILED\n"),
    ],
)
def test_failing_tests_are_not_environment_errors(code: int, output: str) -> None:
    assert environment_error(result(code, output)) is None


@pytest.mark.parametrize(
    ("output", "needs"),
    [
        ("E   socket.gaierror: [Errno -3] Temporary failure in name resolution", "the network"),
        ("requests.exceptions.ConnectionError: ... NameResolutionError", "the network"),
        ("Error: getaddrinfo EAI_AGAIN registry.example.com", "the network"),
        ("dial tcp: lookup api.example.com: no such host", "the network"),
        (
            "psycopg2.OperationalError: could not connect to server: Connection refused\n"
            '\tIs the server running on host "localhost"',
            "a service",
        ),
        ("redis.exceptions.ConnectionError: Error 111 connecting to localhost:6379.", "a service"),
        ("_tkinter.TclError: no display name and no $DISPLAY environment variable", "a display"),
    ],
)
def test_tests_that_need_what_the_sandbox_lacks_say_what(output: str, needs: str) -> None:
    cause = outside_cause(result(1, "line before\n" + output + "\nline after\n"))
    assert cause is not None
    assert cause.needs == needs
    assert all(line in output for line in cause.evidence)
    assert needs in cause.describe()


def test_a_passing_run_or_a_plain_failure_has_no_outside_cause() -> None:
    assert outside_cause(result(0, "Temporary failure in name resolution")) is None
    assert outside_cause(result(1, "E   assert 2 == 3")) is None


def test_pytest_and_go_name_each_tests_outcome() -> None:
    pytest_out = (
        "PASSED tests/test_calc.py::test_add\n"
        "FAILED tests/test_calc.py::test_sub - assert 1 == -1\n"
        "PASSED tests/test_calc.py::test_mul\n"
        "ERROR tests/test_calc.py::test_mul - teardown\n"
    )
    assert per_test_outcomes(Runner.PYTEST, pytest_out) == {
        "tests/test_calc.py::test_add": True,
        "tests/test_calc.py::test_sub": False,
        "tests/test_calc.py::test_mul": False,
    }
    go_out = "=== RUN   TestArea\n--- PASS: TestArea (0.00s)\n--- FAIL: TestPerimeter (0.00s)\n"
    assert per_test_outcomes(Runner.GO, go_out) == {"TestArea": True, "TestPerimeter": False}
    assert per_test_outcomes(Runner.JEST, "✓ adds") is None


def test_judge_names_environment_and_unprovable_before_fails_on_change() -> None:
    missing = result(1, "/deps/venv/bin/python: No module named pytest\n")
    assert judge(Runner.PYTEST, "t", missing, missing).verdict is Verdict.ENVIRONMENT
    offline = result(1, "E   socket.gaierror: [Errno -3] Temporary failure in name resolution")
    proof = judge(Runner.PYTEST, "t", result(1), offline)
    assert proof.verdict is Verdict.UNPROVABLE
    assert "needs the network" in proof.explanation
    assert "Temporary failure in name resolution" in proof.explanation
    assert judge(Runner.PYTEST, "t", result(1), result(1)).verdict is Verdict.FAILS_ON_CHANGE


def test_a_result_is_unprovable_only_when_nothing_else_is_wrong() -> None:
    def proofs(*verdicts: Verdict) -> RedGreenResult:
        return RedGreenResult(
            tuple(TestProof(f"t{i}", v, "", None, None) for i, v in enumerate(verdicts)), ()
        )

    assert proofs(Verdict.PROVEN, Verdict.UNPROVABLE).unprovable
    assert not proofs(Verdict.UNPROVABLE, Verdict.FAILS_ON_CHANGE).unprovable
    assert not proofs(Verdict.PROVEN).unprovable
    assert proofs(Verdict.ENVIRONMENT, Verdict.PROVEN).environment_error == ""
    assert proofs(Verdict.PROVEN).environment_error is None


def test_unittest_and_django_report_each_test_and_nothing_ran() -> None:
    verbose = (
        "test_add (tests.test_calc.CalcTest.test_add) ... ok\n"
        "test_sub (tests.test_calc.CalcTest)\nSubtracts. ... FAIL\n"
        "test_skip (tests.test_calc.CalcTest.test_skip) ... skipped 'later'\n"
        "test_err (basic.tests.ModelTests.test_err) ... ERROR\n"
    )
    assert per_test_outcomes(Runner.DJANGO, verbose) == {
        "tests.test_calc.CalcTest.test_add": True,
        "tests.test_calc.CalcTest.test_sub": False,
        "basic.tests.ModelTests.test_err": False,
    }
    empty = result(5, "\n----------------------------------------------------------------------\n"
                      "Ran 0 tests in 0.000s\n\nNO TESTS RAN\n")  # fmt: skip
    assert nothing_ran(Runner.UNITTEST, empty)
    assert not nothing_ran(Runner.DJANGO, result(1, "Ran 10 tests in 0.1s\n\nFAILED (errors=1)"))


def test_a_suite_that_cannot_load_on_either_side_is_the_environment() -> None:
    unloadable = result(
        4,
        "ImportError while loading conftest '/workspace/tests/conftest.py'.\n"
        "tests/conftest.py:9: in <module>\n    from flask import Flask\n"
        "E   ImportError: cannot import name 'url_quote' from 'werkzeug.urls'\n",
    )
    proof = judge(Runner.PYTEST, "t", unloadable, unloadable)
    assert proof.verdict is Verdict.ENVIRONMENT
    assert "cannot import name 'url_quote'" in proof.explanation
    # only with the change: the change broke it, and the model is told
    assert judge(Runner.PYTEST, "t", result(1), unloadable).verdict is Verdict.NOT_RUN


def test_pytest_failing_inside_itself_on_both_sides_is_the_environment() -> None:
    crashed = result(
        3,
        "INTERNALERROR> Traceback (most recent call last):\n"
        "INTERNALERROR>     assert False\nINTERNALERROR> AssertionError\n",
    )
    proof = judge(Runner.PYTEST, "t", crashed, crashed)
    assert proof.verdict is Verdict.ENVIRONMENT
    assert "pytest failed internally: AssertionError" in proof.explanation
