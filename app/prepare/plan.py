"""What the prepare phase installs for a repository, read from its files (no I/O but reads).

Detected by default from the files each ecosystem keeps at the repository's root:

- `requirements*.txt`, `requirements/*.txt`: a venv at /deps/venv, `pip install -r …`;
- `pyproject.toml` (`[project]`, PEP 735 groups, Poetry) or `setup.cfg`: the same, the
  dependencies and test extras, with `uv.lock` / `poetry.lock` pins as constraints;
- `package-lock.json` / `npm-shrinkwrap.json`: `npm ci`; `pnpm-lock.yaml`, `yarn.lock`:
  `corepack pnpm|yarn install --frozen-lockfile`; a bare `package.json`: `npm install`;
- `composer.json` (+ `composer.lock`): `composer install`;
- `go.mod` (+ `go.sum`): `go mod download`.

`setup:` in `.agentops.yml` replaces detection. The project itself is never installed
(its build backend would run outside the tests' reach of the change); a `src/` layout is
put on PYTHONPATH for the tests instead. A plan whose inputs point at files of the
repository itself (`file:` dependencies, Composer path repositories, `-e .`) is not
cached: its result depends on more than the lockfile.
"""

from __future__ import annotations

import ast
import configparser
import hashlib
import json
import re
import shlex
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app import repo_files
from app.sandbox.test_commands import Runner

DEPS = "/deps"  # inside the sandbox: the prepare phase's output, read-only for the tests
VENV = f"{DEPS}/venv"
GOMODCACHE = f"{DEPS}/go/mod"
LOCK_MAX_BYTES = 64 * 1024 * 1024
TEST_EXTRAS = ("test", "tests", "testing", "dev")
_REQUIREMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,\s-]*\])?\s*([<>=!~;@ (]|$)")
_PY_REQ_FILES = (
    "requirements.txt",
    "requirements-dev.txt",
    "requirements_dev.txt",
    "requirements-test.txt",
    "requirements_test.txt",
    "requirements-tests.txt",
    "dev-requirements.txt",
    "test-requirements.txt",
    "requirements/base.txt",
    "requirements/dev.txt",
    "requirements/test.txt",
    "requirements/tests.txt",
    "requirements/testing.txt",
)


@dataclass(frozen=True)
class PrepareStep:
    tool: str  # "pip", "npm", "pnpm", "yarn", "composer", "go" or "setup"
    commands: tuple[str, ...]  # shell lines, run in /workspace of the prepare sandbox
    inputs: tuple[str, ...]  # the repository's files it installs from
    files: dict[str, str] = field(default_factory=dict)  # generated files, under /deps

    def describe(self) -> str:
        what = self.commands[-1] if self.tool == "setup" else self.tool
        return f"{what} ({', '.join(self.inputs)})" if self.inputs else what


@dataclass(frozen=True)
class PreparePlan:
    steps: tuple[PrepareStep, ...] = ()
    source: str = "detected"  # or ".agentops.yml"
    not_cached: str = ""  # why the result may not be cached, when it may not
    test_env: dict[str, str] = field(default_factory=dict)  # for the tests, not the install

    @property
    def empty(self) -> bool:
        return not self.steps

    def describe(self) -> str:
        return "; ".join(step.describe() for step in self.steps) or "nothing to install"

    def cache_key(self, root: Path, toolchain: str) -> str:
        """A hash of everything the install reads: commands, generated files, inputs'
        bytes and the toolchain (versions of the interpreters and package managers)."""
        digest = hashlib.sha256(toolchain.encode())
        for step in self.steps:
            digest.update(json.dumps([step.tool, step.commands, step.files]).encode())
            for name in step.inputs:
                data = repo_files.read_bytes(root, name, max_bytes=LOCK_MAX_BYTES) or b""
                digest.update(f"\0{name}\0{len(data)}\0".encode() + data)
        return digest.hexdigest()[:40]


# What each test runner needs installed; a runner we do not know gets everything found.
RUNNER_ECOSYSTEMS: dict[Runner, tuple[str, ...]] = {
    Runner.PYTEST: ("python",),
    Runner.UNITTEST: ("python",),
    Runner.DJANGO: ("python",),
    Runner.JEST: ("node",),
    Runner.VITEST: ("node",),
    Runner.NPM: ("node",),
    Runner.PHPUNIT: ("php",),
    Runner.PEST: ("php",),
    Runner.GO: ("go",),
    Runner.CARGO: (),
}
ECOSYSTEMS = ("python", "node", "php", "go")


def plan_for(
    root: Path,
    setup: Sequence[str] = (),
    python: str = "python3",
    own_python: bool = False,
    runner: Runner | None = None,
) -> PreparePlan:
    """The plan for the checkout at `root` and the tests of `runner` (None: every
    ecosystem found); `python` is the interpreter for a venv, which is made even with
    nothing to install when `own_python` (the repository asked for it)."""
    test_env = _src_layout_env(root)
    if setup:
        step = PrepareStep("setup", tuple(setup), ())
        return PreparePlan((step,), ".agentops.yml", "setup commands may read any file", test_env)
    steps: list[PrepareStep] = []
    why_not: list[str] = []
    wanted = RUNNER_ECOSYSTEMS.get(runner, ECOSYSTEMS) if runner is not None else ECOSYSTEMS
    detectors = {"python": _python, "node": _node, "php": _php, "go": _go}
    for name in wanted:
        detect = detectors[name]
        found = _python(root, python, own_python) if detect is _python else detect(root, python)
        if found is not None:
            step, local = found
            steps.append(step)
            if local:
                why_not.append(local)
    return PreparePlan(tuple(steps), "detected", "; ".join(why_not), test_env)


def _read(root: Path, name: str) -> str | None:
    try:
        return repo_files.read_text(root, name, max_bytes=LOCK_MAX_BYTES)
    except repo_files.RepositoryFileRefused:
        return None  # a link or a directory: not an input we install from


def _src_layout_env(root: Path) -> dict[str, str]:
    """`src/` holding a package and no `src/__init__.py`: importable by the tests."""
    try:
        entries = repo_files.list_directory(root, "src")
    except (repo_files.RepositoryFileRefused, OSError):
        return {}
    if entries is None or any(e.name == "__init__.py" for e in entries):
        return {}
    for entry in entries:
        if entry.kind == "dir" and _read(root, f"src/{entry.name}/__init__.py") is not None:
            return {"PYTHONPATH": "/workspace/src"}
    return {}


# --- Python -------------------------------------------------------------------------------


def _python(root: Path, python: str, own_python: bool = False) -> tuple[PrepareStep, str] | None:
    req_files = [name for name in _PY_REQ_FILES if _read(root, name) is not None]
    requirements: list[str] = []
    inputs = list(req_files)
    local = ""
    pyproject = _toml(_read(root, "pyproject.toml"))
    if pyproject:
        inputs.append("pyproject.toml")
        requirements += _pyproject_requirements(pyproject)
    elif (cfg := _read(root, "setup.cfg")) is not None:
        found = _setup_cfg_requirements(cfg)
        if found:
            inputs.append("setup.cfg")
            requirements += found
    if not requirements and (script := _read(root, "setup.py")) is not None:
        found = setup_py_requirements(script)
        if found:
            inputs.append("setup.py")
            requirements += found
    pins: list[str] = []
    for lock in ("uv.lock", "poetry.lock"):
        locked = _toml(_read(root, lock))
        if locked:
            inputs.append(lock)
            pins += _lock_pins(locked)
    for name in req_files:
        text = _read(root, name) or ""
        if re.search(r"^\s*(-e|--editable)\b|^\s*\.{1,2}(/|\s*$)|file:", text, re.M):
            local = f"{name} installs files of the repository"
    if not req_files and not requirements and not own_python:
        return None
    files: dict[str, str] = {}
    args = [f"-r {shlex.quote(name)}" for name in req_files]
    if requirements:
        files["requirements.txt"] = "\n".join(requirements) + "\n"
        args.append(f"-r {DEPS}/.agentops/requirements.txt")
    if pins:
        files["constraints.txt"] = "\n".join(pins) + "\n"
        args.append(f"-c {DEPS}/.agentops/constraints.txt")
    install = [f"{VENV}/bin/python -m pip install --no-input {' '.join(args)}"] if args else []
    commands = (
        f"{shlex.quote(python)} -m venv {VENV}",
        *install,
        # the repository's own pytest when it pins one; else the runner the tests need
        f"{VENV}/bin/python -c 'import pytest' 2>/dev/null || "
        f"{VENV}/bin/python -m pip install --no-input pytest",
    )
    return PrepareStep("pip", commands, tuple(inputs), files), local


def _toml(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}


def _requirement(text: object) -> str | None:
    """A PEP 508 requirement that names a package (never a pip option or a path)."""
    if not isinstance(text, str) or "\n" in text or "\r" in text:
        return None
    text = text.strip()
    return text if _REQUIREMENT.match(text) and "file:" not in text else None


def _pyproject_requirements(data: dict[str, Any]) -> list[str]:
    found: list[object] = []
    project = data.get("project") if isinstance(data.get("project"), dict) else {}
    assert isinstance(project, dict)
    found += _list(project.get("dependencies"))
    extras = project.get("optional-dependencies")
    if isinstance(extras, dict):
        for name in TEST_EXTRAS:
            found += _list(extras.get(name))
    groups = data.get("dependency-groups")  # PEP 735
    if isinstance(groups, dict):
        for name in TEST_EXTRAS:
            found += [g for g in _list(groups.get(name)) if isinstance(g, str)]
    poetry = _dig(data, "tool", "poetry")
    for table in (
        poetry.get("dependencies"),
        poetry.get("dev-dependencies"),
        *(_dig(poetry, "group", name).get("dependencies") for name in TEST_EXTRAS),
    ):
        if isinstance(table, dict):
            found += [name for name in table if name.lower() != "python"]
    return list(dict.fromkeys(r for r in map(_requirement, found) if r))


def setup_py_requirements(text: str) -> list[str]:
    """`install_requires` (and the test extras) of a `setup(...)` call, read as literals
    from the syntax tree: a setup.py is code, and it is never run outside the sandbox; a
    list built by code is not read at all."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    lines: list[object] = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setup"):
            continue
        for keyword in node.keywords:
            try:
                value = ast.literal_eval(keyword.value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                continue
            if keyword.arg == "install_requires" and isinstance(value, list | tuple):
                lines += value
            elif keyword.arg == "extras_require" and isinstance(value, dict):
                for name in TEST_EXTRAS:
                    extra = value.get(name)
                    lines += extra if isinstance(extra, list | tuple) else []
    return list(dict.fromkeys(r for r in map(_requirement, lines) if r))


def _setup_cfg_requirements(text: str) -> list[str]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    lines: list[str] = []
    if parser.has_option("options", "install_requires"):
        lines += parser.get("options", "install_requires").splitlines()
    for name in TEST_EXTRAS:
        if parser.has_option("options.extras_require", name):
            lines += parser.get("options.extras_require", name).splitlines()
    return list(dict.fromkeys(r for r in map(_requirement, lines) if r))


def _lock_pins(data: dict[str, Any]) -> list[str]:
    """`name==version` of each package a uv or Poetry lock takes from a registry."""
    pins = []
    for package in _list(data.get("package")):
        if not isinstance(package, dict):
            continue
        name, version = package.get("name"), package.get("version")
        source = package.get("source")
        # uv: `source = { registry = … }` (else editable, virtual, git, path); Poetry: no
        # source table, or one of type "legacy" (a private index)
        from_registry = (
            not isinstance(source, dict) or "registry" in source or source.get("type") == "legacy"
        )
        pin = _requirement(f"{name}=={version}") if isinstance(name, str) else None
        if pin and isinstance(version, str) and from_registry:
            pins.append(pin)
    return list(dict.fromkeys(pins))


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


def _dig(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    for key in keys:
        value = data.get(key)
        data = value if isinstance(value, dict) else {}
    return data


# --- JavaScript ---------------------------------------------------------------------------


def _node(root: Path, python: str) -> tuple[PrepareStep, str] | None:
    manifest = _read(root, "package.json")
    if manifest is None:
        return None
    local = ""
    try:
        data = json.loads(manifest)
    except json.JSONDecodeError:
        data = {}
    if isinstance(data, dict):
        for section in ("dependencies", "devDependencies", "optionalDependencies"):
            deps = data.get(section)
            if isinstance(deps, dict) and any(
                isinstance(v, str) and v.startswith(("file:", "link:", "workspace:"))
                for v in deps.values()
            ):
                local = "package.json depends on files of the repository"
        if data.get("workspaces"):
            local = "package.json declares workspaces"
    flags = "--no-audit --no-fund"
    for lock, tool, command in (
        ("package-lock.json", "npm", f"npm ci {flags}"),
        ("npm-shrinkwrap.json", "npm", f"npm ci {flags}"),
        ("pnpm-lock.yaml", "pnpm", "corepack pnpm install --frozen-lockfile"),
        ("yarn.lock", "yarn", "corepack yarn install --frozen-lockfile"),
    ):
        if _read(root, lock) is not None:
            return PrepareStep(tool, (command,), ("package.json", lock)), local
    return PrepareStep("npm", (f"npm install {flags}",), ("package.json",)), local


# --- PHP and Go ---------------------------------------------------------------------------


def _php(root: Path, python: str) -> tuple[PrepareStep, str] | None:
    manifest = _read(root, "composer.json")
    if manifest is None:
        return None
    local = ""
    if re.search(r'"type"\s*:\s*"path"', manifest):
        local = "composer.json has a path repository"
    inputs = ["composer.json"] + (["composer.lock"] if _read(root, "composer.lock") else [])
    command = "composer install --no-interaction --no-progress --prefer-dist"
    return PrepareStep("composer", (command,), tuple(inputs)), local


def _go(root: Path, python: str) -> tuple[PrepareStep, str] | None:
    if _read(root, "go.mod") is None:
        return None
    inputs = ["go.mod"] + (["go.sum"] if _read(root, "go.sum") is not None else [])
    return PrepareStep("go", ("go mod download",), tuple(inputs)), ""
