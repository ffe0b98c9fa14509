"""The model is told the conventions of the repository's test runner."""

from __future__ import annotations

import pytest

from app.sandbox import Runner, TestCommand
from app.workflow.prompts import render_prompt, runner_prompt_values


@pytest.mark.parametrize(
    ("runner", "argv", "told"),
    [
        (Runner.PYTEST, ("python", "-m", "pytest"), "tests/test_x.py::test_name"),
        (Runner.VITEST, ("npx", "vitest", "run"), "src/x.test.ts::adds two numbers"),
        (Runner.JEST, ("npx", "jest"), "__tests__/"),
        (Runner.PHPUNIT, ("vendor/bin/phpunit",), "tests/Unit/XTest.php::testSomething"),
        (Runner.PEST, ("vendor/bin/pest",), "it adds two numbers"),
        (Runner.GO, ("go", "test", "./..."), "pkg/shapes::TestArea"),
        (Runner.CARGO, ("cargo", "test"), "#[test]"),
        (Runner.CUSTOM, ("make", "check"), "Follow the conventions of the tests already"),
    ],
)
def test_each_runner_has_its_conventions(runner: Runner, argv: tuple[str, ...], told: str) -> None:
    values = runner_prompt_values(TestCommand(runner, argv))
    assert told in values["test_conventions"]
    assert values["test_command"] == " ".join(argv)


@pytest.mark.parametrize("name", ["implement_system", "test_system", "fix_system"])
def test_every_system_prompt_carries_them(name: str) -> None:
    command = TestCommand(Runner.GO, ("go", "test", "./..."))
    text = render_prompt(name, repo="acme/x", edit_format="EDITS", **runner_prompt_values(command))
    assert "The repository's tests run with `go test ./...`." in text
    assert "func TestXxx(t *testing.T)" in text
