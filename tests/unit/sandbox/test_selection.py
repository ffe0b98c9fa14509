"""Invocations that run only chosen tests, and which files count as tests (pure)."""

from __future__ import annotations

import pytest

from app.sandbox import (
    Runner,
    SelectionUnsupported,
    TestCommand,
    files_of_test_ids,
    select_tests,
)


def cmd(runner: Runner, *argv: str) -> TestCommand:
    return TestCommand(runner, argv)


def test_pytest_node_ids_are_passed_as_they_are() -> None:
    command = cmd(Runner.PYTEST, "python", "-m", "pytest")
    ids = ["tests/test_a.py::test_x", "tests/test_a.py::TestK::test_y[1-2]"]
    assert select_tests(command, ids) == ("python", "-m", "pytest", *ids)


def test_jest_and_vitest_by_file_and_name() -> None:
    jest = select_tests(cmd(Runner.JEST, "npm", "test"), ["src/a.test.js::adds one"])
    assert jest == ("npx", "jest", "src/a.test.js", "-t", r"^adds\ one$")
    vitest = select_tests(cmd(Runner.VITEST, "npx", "vitest", "run"), ["src/b.test.ts"])
    assert vitest == ("npx", "vitest", "run", "src/b.test.ts")


def test_go_by_package_and_name() -> None:
    go = cmd(Runner.GO, "go", "test", "./...")
    assert select_tests(go, ["pkg/calc::TestAdd"]) == (
        "go",
        "test",
        "./pkg/calc",
        "-run",
        "^(TestAdd)$",
    )
    assert select_tests(go, ["TestAdd", "TestSub"]) == (
        "go",
        "test",
        ".",
        "-run",
        "^(TestAdd|TestSub)$",
    )


def test_cargo_exact_paths() -> None:
    argv = select_tests(cmd(Runner.CARGO, "cargo", "test"), ["calc::tests::adds"])
    assert argv == ("cargo", "test", "--", "--exact", "calc::tests::adds")


def test_phpunit_and_pest_filter() -> None:
    argv = select_tests(cmd(Runner.PHPUNIT, "vendor/bin/phpunit"), ["tests/CalcTest.php::testAdd"])
    assert argv == ("vendor/bin/phpunit", "--filter", "testAdd", "tests/CalcTest.php")
    assert select_tests(cmd(Runner.PEST, "vendor/bin/pest"), ["tests/CalcTest.php"]) == (
        "vendor/bin/pest",
        "tests/CalcTest.php",
    )


@pytest.mark.parametrize("runner", [Runner.NPM, Runner.CUSTOM])
def test_unknown_runners_cannot_select(runner: Runner) -> None:
    with pytest.raises(SelectionUnsupported, match="cannot run single tests"):
        select_tests(cmd(runner, "npm", "test"), ["x"])


@pytest.mark.parametrize("bad", ["", "--rootdir=/", "a\nb"])
def test_ids_that_look_like_options_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="test id"):
        select_tests(cmd(Runner.PYTEST, "pytest"), [bad])


def test_files_named_by_ids() -> None:
    ids = ["tests/test_a.py::test_x", "tests/test_a.py::test_y[p]", "src/b.test.js", "TestGo"]
    assert files_of_test_ids(ids) == ["tests/test_a.py", "src/b.test.js"]
