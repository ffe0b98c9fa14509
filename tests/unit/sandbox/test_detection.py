"""Test command detection for each ecosystem, from `RepoFacts` alone (no I/O)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.sandbox import (
    RepoFacts,
    Runner,
    command_from_config,
    detect_test_command,
    detect_test_commands,
    read_repo_facts,
    resolve_test_command,
    select_tests,
)


def facts(*names: str, **texts: str) -> RepoFacts:
    # file texts by field name; mypy cannot tell them from RepoFacts' bool fields
    return RepoFacts(names=frozenset(names), **texts)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("repo", "reason"),
    [
        (facts("pytest.ini"), "pytest.ini"),
        (facts("conftest.py"), "conftest.py"),
        (
            facts("pyproject.toml", pyproject_toml="[tool.pytest.ini_options]\naddopts='-q'\n"),
            "pyproject.toml [tool.pytest.ini_options]",
        ),
        (
            facts("setup.cfg", setup_cfg="[tool:pytest]\ntestpaths = tests\n"),
            "setup.cfg [tool:pytest]",
        ),
        (
            facts("tox.ini", tox_ini="[tox]\nenvlist=py311\n[pytest]\naddopts=-q\n"),
            "tox.ini [pytest]",
        ),
        (
            RepoFacts(names=frozenset({"tests"}), test_dir_has_python=True),
            "tests/ directory with test_*.py",
        ),
    ],
)
def test_pytest_signals(repo: RepoFacts, reason: str) -> None:
    command = detect_test_command(repo)
    assert command is not None
    assert command.runner is Runner.PYTEST
    assert command.argv == ("python", "-m", "pytest")
    assert command.reason == reason


def test_pyproject_without_pytest_and_setup_cfg_without_section_are_not_pytest() -> None:
    repo = facts(
        "pyproject.toml",
        "setup.cfg",
        pyproject_toml="[project]\nname='x'\n",
        setup_cfg="[metadata]\nname = x\n",
    )
    assert detect_test_command(repo) is None


def package(**content: object) -> str:
    return json.dumps(content)


@pytest.mark.parametrize(
    ("package_json", "runner", "argv"),
    [
        (package(scripts={"test": "vitest run"}), Runner.VITEST, ("npm", "test")),
        (package(scripts={"test": "jest --ci"}), Runner.JEST, ("npm", "test")),
        (package(scripts={"test": "mocha"}), Runner.NPM, ("npm", "test")),
        (
            package(scripts={"test": "mocha"}, devDependencies={"vitest": "^2"}),
            Runner.NPM,
            ("npm", "test"),
        ),
        (package(devDependencies={"vitest": "^2"}), Runner.VITEST, ("npx", "vitest", "run")),
        (package(devDependencies={"jest": "^29"}), Runner.JEST, ("npx", "jest")),
        (
            package(
                scripts={"test": 'echo "Error: no test specified" && exit 1'},
                devDependencies={"jest": "^29"},
            ),
            Runner.JEST,
            ("npx", "jest"),
        ),
    ],
)
def test_node(package_json: str, runner: Runner, argv: tuple[str, ...]) -> None:
    command = detect_test_command(facts("package.json", package_json=package_json))
    assert command is not None
    assert (command.runner, command.argv) == (runner, argv)


def test_node_default_npm_script_and_no_runner_is_nothing() -> None:
    text = package(scripts={"test": 'echo "Error: no test specified" && exit 1'})
    assert detect_test_command(facts("package.json", package_json=text)) is None
    assert detect_test_command(facts("package.json", package_json="{not json")) is None


@pytest.mark.parametrize(
    ("repo", "runner", "argv"),
    [
        (
            facts(
                "composer.json", composer_json=package(**{"require-dev": {"pestphp/pest": "^2"}})
            ),
            Runner.PEST,
            ("vendor/bin/pest",),
        ),
        (
            facts(
                "composer.json",
                composer_json=package(**{"require-dev": {"phpunit/phpunit": "^10"}}),
            ),
            Runner.PHPUNIT,
            ("vendor/bin/phpunit",),
        ),
        (facts("phpunit.xml.dist"), Runner.PHPUNIT, ("vendor/bin/phpunit",)),
        (facts("go.mod"), Runner.GO, ("go", "test", "./...")),
        (facts("Cargo.toml"), Runner.CARGO, ("cargo", "test")),
    ],
)
def test_php_go_rust(repo: RepoFacts, runner: Runner, argv: tuple[str, ...]) -> None:
    command = detect_test_command(repo)
    assert command is not None
    assert (command.runner, command.argv) == (runner, argv)


def test_strong_python_signal_wins_over_frontend_package_json() -> None:
    repo = facts("pytest.ini", "package.json", package_json=package(scripts={"test": "jest"}))
    assert [c.runner for c in detect_test_commands(repo)] == [Runner.PYTEST, Runner.JEST]


def test_a_bare_tests_dir_is_the_weakest_signal() -> None:
    repo = RepoFacts(names=frozenset({"go.mod", "tests"}), test_dir_has_python=True)
    assert [c.runner for c in detect_test_commands(repo)] == [Runner.GO, Runner.PYTEST]


def test_empty_repository() -> None:
    assert detect_test_command(RepoFacts()) is None


@pytest.mark.parametrize(
    ("line", "runner", "argv"),
    [
        ("pytest -q tests", Runner.PYTEST, ("pytest", "-q", "tests")),
        ("python -m pytest", Runner.PYTEST, ("python", "-m", "pytest")),
        ("go test ./...", Runner.GO, ("go", "test", "./...")),
        ("cargo test --all", Runner.CARGO, ("cargo", "test", "--all")),
        ("npx vitest run", Runner.VITEST, ("npx", "vitest", "run")),
        ("./vendor/bin/phpunit", Runner.PHPUNIT, ("./vendor/bin/phpunit",)),
        ("npm test", Runner.NPM, ("npm", "test")),
        ("make check", Runner.CUSTOM, ("make", "check")),
        # as a person writes them: variables first, interpreter flags before -m
        (
            "PYTHONPATH=src python -m pytest -q",
            Runner.PYTEST,
            ("env", "PYTHONPATH=src", "python", "-m", "pytest", "-q"),
        ),
        ("env PYTHONPATH=src pytest", Runner.PYTEST, ("env", "PYTHONPATH=src", "pytest")),
        ("python -W error -m pytest", Runner.PYTEST, ("python", "-W", "error", "-m", "pytest")),
        ("python3.12 -X dev -m pytest", Runner.PYTEST, ("python3.12", "-X", "dev", "-m", "pytest")),
        ("CGO_ENABLED=0 go test ./...", Runner.GO, ("env", "CGO_ENABLED=0", "go", "test", "./...")),
        ("python run_tests.py", Runner.CUSTOM, ("python", "run_tests.py")),
        ("python -m unittest", Runner.UNITTEST, ("python", "-m", "unittest")),
        ("python tests/runtests.py", Runner.DJANGO, ("python", "tests/runtests.py")),
        ("python manage.py test", Runner.DJANGO, ("python", "manage.py", "test")),
        ("python manage.py runserver", Runner.CUSTOM, ("python", "manage.py", "runserver")),
    ],
)
def test_command_from_config(line: str, runner: Runner, argv: tuple[str, ...]) -> None:
    command = command_from_config(line)
    assert (command.runner, command.argv, command.source) == (runner, argv, "config")


@pytest.mark.parametrize(
    "line", ["make deps && pytest", "pytest | tee log", "cd src; go test ./...", "pytest $ARGS"]
)
def test_shell_lines_from_config_run_whole(line: str) -> None:
    command = command_from_config(line)
    assert (command.runner, command.argv) == (Runner.CUSTOM, ("sh", "-c", line))


def test_selection_keeps_the_commands_variables() -> None:
    pytest_command = command_from_config("PYTHONPATH=src python -m pytest -q")
    assert select_tests(pytest_command, ["tests/test_a.py::test_x"]) == (
        *pytest_command.argv,
        "tests/test_a.py::test_x",
    )
    go = select_tests(command_from_config("CGO_ENABLED=0 go test ./..."), ["TestX"])
    assert go == ("env", "CGO_ENABLED=0", "go", "test", ".", "-run", "^(TestX)$")


def test_a_command_that_only_sets_variables_is_refused() -> None:
    with pytest.raises(ValueError, match="runs nothing"):
        command_from_config("PYTHONPATH=src")


def test_config_command_as_list_and_empty() -> None:
    assert command_from_config(["pytest", "-x"]).argv == ("pytest", "-x")
    with pytest.raises(ValueError, match="empty"):
        command_from_config("  ")


def test_read_repo_facts(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    (tmp_path / "tests" / "unit").mkdir(parents=True)
    (tmp_path / "tests" / "unit" / "test_x.py").write_text("")
    found = read_repo_facts(tmp_path)
    assert found.names == frozenset({"pyproject.toml", "tests"})
    assert found.test_dir_has_python
    assert found.pyproject_toml == "[tool.pytest.ini_options]\n"
    assert found.package_json is None


def test_configured_command_wins_over_detection(tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text("module x\n")
    assert resolve_test_command(tmp_path, "make test") == command_from_config("make test")
    detected = resolve_test_command(tmp_path, None)
    assert detected is not None and detected.runner is Runner.GO
    assert resolve_test_command(tmp_path, "  ") == detected
    assert resolve_test_command(tmp_path / "never-read", "go test ./...") is not None
