"""Which test command a repository uses, and how to run only some of its tests (pure).

`read_repo_facts` is the only function here that touches the disk; everything else
works on the `RepoFacts` it returns, so detection is tested without I/O.

Test ids follow pytest's `path::name` shape in every ecosystem:

| runner  | test id                         | invocation for one id                          |
|---------|---------------------------------|------------------------------------------------|
| pytest  | `tests/test_x.py::test_y`       | `python -m pytest tests/test_x.py::test_y`     |
| jest    | `src/a.test.js` or `…::name`    | `npx jest src/a.test.js -t name`               |
| vitest  | `src/a.test.ts` or `…::name`    | `npx vitest run src/a.test.ts -t name`         |
| go      | `pkg/dir::TestName` or `Test…`  | `go test ./pkg/dir -run '^TestName$'`          |
| cargo   | `module::test_name`             | `cargo test -- --exact module::test_name`      |
| phpunit | `tests/XTest.php::testY`        | `vendor/bin/phpunit --filter testY tests/XTest.php` |
| pest    | same as phpunit                 | `vendor/bin/pest --filter testY tests/XTest.php` |

A command that names no runner we know (`npm test`, `make test`, a shell line from
`.agentops.yml`) cannot select tests: `select_tests` raises `SelectionUnsupported`.
"""

from __future__ import annotations

import configparser
import json
import re
import shlex
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath

from app import repo_files


class Runner(StrEnum):
    PYTEST = "pytest"
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

    def display(self) -> str:
        return shlex.join(self.argv)


class SelectionUnsupported(ValueError):
    """This runner cannot run single tests; run the whole command instead."""


@dataclass(frozen=True)
class RepoFacts:
    """What detection needs to know about a checkout: top-level names and a few files."""

    names: frozenset[str] = field(default_factory=frozenset)  # top-level files and dirs
    test_dir_has_python: bool = False  # tests/ or test/ holds test_*.py or *_test.py
    pyproject_toml: str | None = None
    setup_cfg: str | None = None
    tox_ini: str | None = None
    package_json: str | None = None
    composer_json: str | None = None


_FACT_FILES = {
    "pyproject.toml": "pyproject_toml",
    "setup.cfg": "setup_cfg",
    "tox.ini": "tox_ini",
    "package.json": "package_json",
    "composer.json": "composer_json",
}
_MAX_FACT_BYTES = 512 * 1024


def read_repo_facts(checkout: Path) -> RepoFacts:
    """Read the few files detection looks at (I/O; everything after this is pure), by the
    safe reader: a link or a special file counts as absent."""
    names = frozenset(
        e.name for e in repo_files.list_directory(checkout) or [] if e.kind in ("file", "dir")
    )
    texts: dict[str, str | None] = {}
    for name, attr in _FACT_FILES.items():
        try:
            texts[attr] = repo_files.read_text(checkout, name, max_bytes=_MAX_FACT_BYTES)
        except repo_files.RepositoryFileRefused:
            texts[attr] = None
    has_python_tests = any(
        _is_python_test_name(path.rsplit("/", 1)[-1])
        for test_dir in ("tests", "test")
        if test_dir in names
        for path, _entry in repo_files.walk_files(checkout, test_dir)
    )
    return RepoFacts(names=names, test_dir_has_python=has_python_tests, **texts)


def _is_python_test_name(name: str) -> bool:
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


# --- detection ------------------------------------------------------------------------

PYTEST_ARGV = ("python", "-m", "pytest")
_NPM_DEFAULT_TEST = 'echo "Error: no test specified" && exit 1'


def detect_test_commands(facts: RepoFacts) -> list[TestCommand]:
    """Every test command the checkout suggests, strongest signal first."""
    found: list[TestCommand] = []
    python = _detect_pytest(facts)
    if python is not None and python.reason != "tests/ directory with test_*.py":
        found.append(python)
    for detect in (_detect_cargo, _detect_go, _detect_php, _detect_node):
        command = detect(facts)
        if command is not None:
            found.append(command)
    if python is not None and python not in found:
        found.append(python)
    return found


def detect_test_command(facts: RepoFacts) -> TestCommand | None:
    """The test command to run when `.agentops.yml` names none, or None."""
    commands = detect_test_commands(facts)
    return commands[0] if commands else None


def _detect_pytest(facts: RepoFacts) -> TestCommand | None:
    def make(reason: str) -> TestCommand:
        return TestCommand(Runner.PYTEST, PYTEST_ARGV, reason=reason)

    if "pytest.ini" in facts.names:
        return make("pytest.ini")
    if "conftest.py" in facts.names:
        return make("conftest.py")
    if facts.pyproject_toml is not None and _pyproject_uses_pytest(facts.pyproject_toml):
        return make("pyproject.toml [tool.pytest.ini_options]")
    if facts.setup_cfg is not None and _ini_has_section(facts.setup_cfg, "tool:pytest"):
        return make("setup.cfg [tool:pytest]")
    if facts.tox_ini is not None and _ini_has_section(facts.tox_ini, "pytest"):
        return make("tox.ini [pytest]")
    if facts.test_dir_has_python:
        return make("tests/ directory with test_*.py")
    return None


def _pyproject_uses_pytest(text: str) -> bool:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return "[tool.pytest" in text
    tool = data.get("tool", {})
    return isinstance(tool, dict) and "pytest" in tool


def _ini_has_section(text: str, section: str) -> bool:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return f"[{section}]" in text
    return parser.has_section(section)


def _detect_cargo(facts: RepoFacts) -> TestCommand | None:
    if "Cargo.toml" in facts.names:
        return TestCommand(Runner.CARGO, ("cargo", "test"), reason="Cargo.toml")
    return None


def _detect_go(facts: RepoFacts) -> TestCommand | None:
    if "go.mod" in facts.names:
        return TestCommand(Runner.GO, ("go", "test", "./..."), reason="go.mod")
    return None


def _load_json_object(text: str | None) -> dict[str, object]:
    if text is None:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _keys(data: dict[str, object], *sections: str) -> set[str]:
    names: set[str] = set()
    for section in sections:
        value = data.get(section)
        if isinstance(value, dict):
            names.update(str(k) for k in value)
    return names


def _detect_php(facts: RepoFacts) -> TestCommand | None:
    composer = _load_json_object(facts.composer_json)
    dev = _keys(composer, "require", "require-dev")
    if "pestphp/pest" in dev:
        return TestCommand(Runner.PEST, ("vendor/bin/pest",), reason="composer.json pestphp/pest")
    if "phpunit/phpunit" in dev:
        return TestCommand(
            Runner.PHPUNIT, ("vendor/bin/phpunit",), reason="composer.json phpunit/phpunit"
        )
    for name in ("phpunit.xml", "phpunit.xml.dist"):
        if name in facts.names:
            return TestCommand(Runner.PHPUNIT, ("vendor/bin/phpunit",), reason=name)
    return None


def _detect_node(facts: RepoFacts) -> TestCommand | None:
    if facts.package_json is None:
        return None
    package = _load_json_object(facts.package_json)
    deps = _keys(package, "dependencies", "devDependencies")
    scripts = package.get("scripts")
    script = scripts.get("test") if isinstance(scripts, dict) else None
    if isinstance(script, str) and script.strip() not in ("", _NPM_DEFAULT_TEST):
        runner = Runner.NPM  # e.g. mocha, react-scripts: runs whole, cannot select
        if re.search(r"\bvitest\b", script):
            runner = Runner.VITEST
        elif re.search(r"\bjest\b", script):
            runner = Runner.JEST
        return TestCommand(runner, ("npm", "test"), reason=f"package.json scripts.test: {script}")
    if "vitest" in deps:
        return TestCommand(Runner.VITEST, ("npx", "vitest", "run"), reason="package.json vitest")
    if "jest" in deps:
        return TestCommand(Runner.JEST, ("npx", "jest"), reason="package.json jest")
    return None


def resolve_test_command(
    checkout: Path, configured: str | Sequence[str] | None = None
) -> TestCommand | None:
    """`.agentops.yml`'s test command when it names one, else what the checkout suggests."""
    if configured is not None and (
        configured.strip() if isinstance(configured, str) else configured
    ):
        return command_from_config(configured)
    return detect_test_command(read_repo_facts(checkout))


def command_from_config(command: str | Sequence[str]) -> TestCommand:
    """A test command written in `.agentops.yml`: a shell-like string or an argv list."""
    if isinstance(command, str) and _SHELL_SYNTAX.search(command):
        # `make deps && pytest`: a shell line runs as one (inside the sandbox), whole
        return TestCommand(Runner.CUSTOM, ("sh", "-c", command), "config", ".agentops.yml")
    argv = tuple(shlex.split(command)) if isinstance(command, str) else tuple(command)
    if not argv:
        raise ValueError("the test command in .agentops.yml is empty")
    assignments, program = _split_assignments(argv)
    if not program:
        raise ValueError("the test command in .agentops.yml sets variables but runs nothing")
    if assignments:  # `PYTHONPATH=src pytest`, as a shell would run it: through env(1)
        argv = ("env", *assignments, *program)
    return TestCommand(_runner_of(program), argv, source="config", reason=".agentops.yml")


_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


def _split_assignments(argv: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(`NAME=value` words, the program and its arguments) of `[env] [NAME=value …] prog …`."""
    words = argv[1:] if PurePosixPath(argv[0]).name == "env" else argv
    count = 0
    while count < len(words) and _ASSIGNMENT.match(words[count]):
        count += 1
    return tuple(words[:count]), tuple(words[count:])


_SHELL_SYNTAX = re.compile(r"&&|\|\||[;|<>`]|\$[({A-Za-z_]")


def _runner_of(argv: tuple[str, ...]) -> Runner:
    words = [PurePosixPath(w).name for w in _module_run(argv)[:4]]
    if "pytest" in words or "py.test" in words:
        return Runner.PYTEST
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


def _module_run(argv: tuple[str, ...]) -> tuple[str, ...]:
    """`python [-W error …] -m pytest -q` → `pytest -q`: the module a Python command runs
    and its arguments (other commands as they are)."""
    if not re.fullmatch(r"python[0-9.]*", PurePosixPath(argv[0]).name):
        return argv
    for index, word in enumerate(argv[1:], 1):
        if word == "-m" and index + 1 < len(argv):
            return argv[index + 1 :]
        if not word.startswith("-") and argv[index - 1] not in ("-W", "-X"):
            return argv  # a script, not a module
    return argv


# --- selecting tests --------------------------------------------------------------------


def select_tests(command: TestCommand, test_ids: Sequence[str]) -> tuple[str, ...]:
    """argv that runs only `test_ids` with this command's runner (see the module table)."""
    if not test_ids:
        raise ValueError("no test ids to select")
    for test_id in test_ids:
        if not test_id or test_id.startswith("-") or "\n" in test_id:
            raise ValueError(f"not a test id: {test_id!r}")
    runner = command.runner
    if runner is Runner.PYTEST:
        return (*command.argv, *test_ids)
    # these runners get an argv of their own; the command's `env NAME=value` stays in front
    prefix = _env_prefix(command.argv)
    if runner in (Runner.JEST, Runner.VITEST):
        return (*prefix, *_select_js(command, test_ids))
    if runner is Runner.GO:
        return (*prefix, *_select_go(test_ids))
    if runner is Runner.CARGO:
        return (*prefix, "cargo", "test", "--", "--exact", *test_ids)
    if runner in (Runner.PHPUNIT, Runner.PEST):
        return _select_php(command, test_ids)
    raise SelectionUnsupported(
        f"cannot run single tests with {command.display()!r}; the whole command runs instead"
    )


def _env_prefix(argv: tuple[str, ...]) -> tuple[str, ...]:
    """`("env", "A=1")` of `env A=1 go test ./...` (as `command_from_config` writes it)."""
    assignments, _program = _split_assignments(argv)
    return ("env", *assignments) if assignments else ()


def _split_id(test_id: str) -> tuple[str, str]:
    path, sep, name = test_id.partition("::")
    return (path, name) if sep else (test_id, "")


def _select_js(command: TestCommand, test_ids: Sequence[str]) -> tuple[str, ...]:
    base = ("npx", "vitest", "run") if command.runner is Runner.VITEST else ("npx", "jest")
    paths = [p for p, _ in map(_split_id, test_ids)]
    names = [n for _, n in map(_split_id, test_ids) if n]
    argv = [*base, *dict.fromkeys(paths)]
    if names:
        argv += ["-t", "|".join(f"^{re.escape(n)}$" for n in names)]
    return tuple(argv)


def _select_go(test_ids: Sequence[str]) -> tuple[str, ...]:
    packages: list[str] = []
    names: list[str] = []
    for test_id in test_ids:
        path, name = _split_id(test_id)
        if not name:  # a bare TestName
            path, name = "", path
        packages.append("./" + path.strip("/") if path not in ("", ".") else ".")
        names.append(re.escape(name))
    pattern = "^(" + "|".join(names) + ")$"
    return ("go", "test", *dict.fromkeys(packages), "-run", pattern)


def _select_php(command: TestCommand, test_ids: Sequence[str]) -> tuple[str, ...]:
    paths = [p for p, _ in map(_split_id, test_ids) if p.endswith(".php")]
    names = [n or p for p, n in map(_split_id, test_ids) if n or not p.endswith(".php")]
    argv = list(command.argv)
    if names:
        argv += ["--filter", "|".join(re.escape(n) for n in names)]
    argv += list(dict.fromkeys(paths))[:1]  # phpunit takes one path argument
    return tuple(argv)


# --- which files are tests --------------------------------------------------------------

_TEST_PATH = re.compile(
    r"""(
        (^|/)tests?/                      # a tests/ or test/ directory
      | (^|/)__tests__/
      | (^|/)conftest\.py$
      | (^|/)test_[^/]*\.py$ | _test\.py$ # pytest
      | _test\.go$                        # go
      | \.(test|spec)\.[cm]?[jt]sx?$      # jest, vitest
      | Test\.php$                        # phpunit
    )""",
    re.VERBOSE,
)


def is_test_path(path: str) -> bool:
    """True for a file that holds tests by the usual conventions of the runners above."""
    return bool(_TEST_PATH.search(path.replace("\\", "/")))


def files_of_test_ids(test_ids: Iterable[str]) -> list[str]:
    """The files named in `path::name` test ids (pytest, jest, vitest, phpunit)."""
    files = []
    for test_id in test_ids:
        path, _ = _split_id(test_id)
        path = path.split("[", 1)[0]
        if PurePosixPath(path).suffix:
            files.append(path)
    return list(dict.fromkeys(files))
