"""Which test command a repository uses (pure, but for `read_repo_facts`).

`read_repo_facts` is the only function here that touches the disk; everything else
works on the `RepoFacts` it returns, so detection is tested without I/O. How a command is
written and parsed is app/sandbox/test_commands.py; running single tests,
app/sandbox/selection.py.
"""

from __future__ import annotations

import configparser
import json
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app import repo_files
from app.sandbox.test_commands import Runner, TestCommand, command_from_config


@dataclass(frozen=True)
class RepoFacts:
    """What detection needs to know about a checkout: top-level names and a few files."""

    names: frozenset[str] = field(default_factory=frozenset)  # top-level files and dirs
    test_dir_has_python: bool = False  # tests/ or test/ holds test_*.py or *_test.py
    django_runtests: bool = False  # tests/runtests.py is a regular file
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
    return RepoFacts(
        names=names,
        test_dir_has_python=has_python_tests,
        django_runtests="tests" in names and _is_file(checkout, "tests/runtests.py"),
        **texts,
    )


def _is_file(checkout: Path, rel: str) -> bool:
    try:
        return repo_files.read_bytes(checkout, rel, max_bytes=_MAX_FACT_BYTES) is not None
    except (repo_files.RepositoryFileRefused, OSError):
        return False


def _is_python_test_name(name: str) -> bool:
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


# --- detection ------------------------------------------------------------------------

PYTEST_ARGV = ("python", "-m", "pytest")
_NPM_DEFAULT_TEST = 'echo "Error: no test specified" && exit 1'


def detect_test_commands(facts: RepoFacts) -> list[TestCommand]:
    """Every test command the checkout suggests, strongest signal first."""
    found: list[TestCommand] = []
    if (django := _detect_django(facts)) is not None:
        found.append(django)
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
    if any(_is_python_test_name(name) for name in facts.names):
        return make("test_*.py at the top level")  # pytest runs unittest cases too
    return None


def _detect_django(facts: RepoFacts) -> TestCommand | None:
    """Django's own suite (`tests/runtests.py` beside the `django` package), or a project's
    `manage.py test`; pytest wins where the project configures it."""
    if facts.django_runtests and "django" in facts.names:
        return TestCommand(
            Runner.DJANGO,
            ("env", "PYTHONPATH=.", "python", "tests/runtests.py"),
            reason="tests/runtests.py (Django's test runner)",
        )
    if "manage.py" in facts.names and _detect_pytest(facts) is None:
        return TestCommand(
            Runner.DJANGO, ("python", "manage.py", "test"), reason="manage.py (Django project)"
        )
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
    checkout: Path, configured: str | Sequence[str] | None = None, select: str | None = None
) -> TestCommand | None:
    """`.agentops.yml`'s test command (and `test_select:`) when it names one, else what the
    checkout suggests."""
    if configured is not None and (
        configured.strip() if isinstance(configured, str) else configured
    ):
        return command_from_config(configured, select)
    return detect_test_command(read_repo_facts(checkout))
