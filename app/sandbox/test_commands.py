"""A test command: the runner it uses, its argv, and how `.agentops.yml` writes one (pure).

`test:` is read as a person writes it in a shell: leading `NAME=value` words (or
`env NAME=value …`) set variables (`PYTHONPATH=src python -m pytest`), `python -W error -m
pytest` is still pytest, and a line with shell syntax (`make deps && pytest`) runs whole
through `sh -c` in the sandbox. `test_select:` gives a runner we do not know a way to run
single tests: a command with the placeholder `{tests}` (see `parse_select_template`).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath

PLACEHOLDER = "{tests}"


class Runner(StrEnum):
    PYTEST = "pytest"
    UNITTEST = "unittest"  # python -m unittest
    DJANGO = "django"  # Django's tests/runtests.py, or manage.py test
    JEST = "jest"
    VITEST = "vitest"
    NPM = "npm"  # `npm test` whose runner we could not tell
    PHPUNIT = "phpunit"
    PEST = "pest"
    GO = "go"
    CARGO = "cargo"
    CUSTOM = "custom"  # a command from `.agentops.yml` we do not recognise


@dataclass(frozen=True)
class TestCommand:
    """A test command as argv (no shell), the runner it uses and where it came from."""

    __test__ = False  # not a pytest test class

    runner: Runner
    argv: tuple[str, ...]
    source: str = "detected"  # "detected" or "config"
    reason: str = ""  # why detection chose it, for the check run
    select: tuple[str, ...] = ()  # `test_select:`: argv with PLACEHOLDER for the test ids

    def display(self) -> str:
        return shlex.join(self.argv)


class SelectionUnsupported(ValueError):
    """This runner cannot run single tests; run the whole command instead."""


def command_from_config(command: str | Sequence[str], select: str | None = None) -> TestCommand:
    """A test command written in `.agentops.yml` (a shell-like string or an argv list),
    with its `test_select:` template when there is one. ValueError says what is wrong."""
    template = parse_select_template(select) if select is not None and select.strip() else ()
    if isinstance(command, str) and _SHELL_SYNTAX.search(command):
        # `make deps && pytest`: a shell line runs as one (inside the sandbox), whole
        return TestCommand(
            Runner.CUSTOM, ("sh", "-c", command), "config", ".agentops.yml", template
        )
    argv = _words(command) if isinstance(command, str) else tuple(command)
    if not argv:
        raise ValueError("the test command in .agentops.yml is empty")
    assignments, program = split_assignments(argv)
    if not program:
        raise ValueError("the test command in .agentops.yml sets variables but runs nothing")
    if assignments:  # `PYTHONPATH=src pytest`, as a shell would run it: through env(1)
        argv = ("env", *assignments, *program)
    runner = runner_of(program)
    return TestCommand(runner, argv, source="config", reason=".agentops.yml", select=template)


def parse_select_template(text: str) -> tuple[str, ...]:
    """`test_select:` as argv: `{tests}` alone is one word per test id, inside a word the
    ids joined by spaces (`TESTS={tests}`). Never a shell: ids are data, not syntax."""
    if _SHELL_SYNTAX.search(text):
        raise ValueError("test_select must be one command without shell syntax (&&, |, ;, $…)")
    argv = _words(text)
    if not any(PLACEHOLDER in word for word in argv):
        raise ValueError(f"test_select must hold the placeholder {PLACEHOLDER} for the tests")
    _assignments, program = split_assignments(argv)
    if not program or PLACEHOLDER in program[0]:
        raise ValueError(f"test_select must start with a program, not with {PLACEHOLDER}")
    return argv


def _words(text: str) -> tuple[str, ...]:
    try:
        return tuple(shlex.split(text))
    except ValueError as exc:  # an unclosed quote
        raise ValueError(f"the test command in .agentops.yml cannot be read: {exc}") from None


_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_SHELL_SYNTAX = re.compile(r"&&|\|\||[;|<>`]|\$[({A-Za-z_]")


def split_assignments(argv: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(`NAME=value` words, the program and its arguments) of `[env] [NAME=value …] prog …`."""
    words = argv[1:] if argv and PurePosixPath(argv[0]).name == "env" else argv
    count = 0
    while count < len(words) and _ASSIGNMENT.match(words[count]):
        count += 1
    return tuple(words[:count]), tuple(words[count:])


def env_prefix(argv: tuple[str, ...]) -> tuple[str, ...]:
    """`("env", "A=1")` of `env A=1 go test ./...` (as `command_from_config` writes it)."""
    assignments, _program = split_assignments(argv)
    return ("env", *assignments) if assignments else ()


def runner_of(argv: tuple[str, ...]) -> Runner:
    words = [PurePosixPath(w).name for w in module_run(argv)[:4]]
    if "pytest" in words or "py.test" in words:
        return Runner.PYTEST
    if words[:1] == ["unittest"]:
        return Runner.UNITTEST
    if django_label_root(argv) is not None:
        return Runner.DJANGO
    if words[:2] == ["go", "test"]:
        return Runner.GO
    if words[:2] == ["cargo", "test"]:
        return Runner.CARGO
    for runner in (Runner.VITEST, Runner.JEST, Runner.PEST, Runner.PHPUNIT):
        if runner.value in words:
            return runner
    if words[:2] in (["npm", "test"], ["npm", "t"]):
        return Runner.NPM
    return Runner.CUSTOM


def version_argv(command: TestCommand) -> tuple[str, ...] | None:
    """A quick run that fails the way the command would when its runner is missing (its
    `--version`), for runners that have one; None for the others."""
    prefix = env_prefix(command.argv)
    if command.runner in (Runner.PYTEST, Runner.JEST, Runner.PHPUNIT, Runner.PEST):
        return (*command.argv, "--version")
    if command.runner is Runner.VITEST:
        return (*prefix, "npx", "vitest", "--version")
    if command.runner is Runner.GO:
        return (*prefix, "go", "version")
    return None


def module_run(argv: tuple[str, ...]) -> tuple[str, ...]:
    """`python [-W error …] -m pytest -q` → `pytest -q`: the module a Python command runs
    and its arguments (other commands as they are)."""
    _assignments, argv = split_assignments(argv)
    if not argv or not _is_python(argv[0]):
        return argv
    for index, word in enumerate(argv[1:], 1):
        if word == "-m" and index + 1 < len(argv):
            return argv[index + 1 :]
        if not word.startswith("-") and argv[index - 1] not in ("-W", "-X"):
            return argv  # a script, not a module
    return argv


def python_script(argv: tuple[str, ...]) -> tuple[str, ...]:
    """`python [options] script.py args…` → `script.py args…`; () when not a script run."""
    _assignments, argv = split_assignments(argv)
    if not argv or not _is_python(argv[0]):
        return ()
    for index, word in enumerate(argv[1:], 1):
        if word == "-m":
            return ()
        if not word.startswith("-") and argv[index - 1] not in ("-W", "-X"):
            return argv[index:]
    return ()


def django_label_root(argv: tuple[str, ...]) -> str | None:
    """Where Django's test labels start for this command: the directory of
    `tests/runtests.py` (Django's own suite), or of `manage.py` for `manage.py test`."""
    script = python_script(argv)
    if not script:
        return None
    path = PurePosixPath(script[0])
    if path.name == "runtests.py" and path.parent.name == "tests":
        return path.parent.as_posix()
    if path.name == "manage.py" and script[1:2] == ("test",):
        return path.parent.as_posix()
    return None


def _is_python(word: str) -> bool:
    return re.fullmatch(r"python[0-9.]*", PurePosixPath(word).name) is not None
