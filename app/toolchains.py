"""The toolchains repositories' tests run with: which Pythons this worker offers and which
one a repository asks for, and the versions of Node.js, PHP, Composer and Go.

Discovery runs each program once per process (`X --version`); choosing is pure. A
repository asks for a Python by `requires-python` (pyproject.toml), `.python-version`, or
`python_requires` (setup.cfg); it gets the newest offered interpreter that satisfies it,
and the worker's default when nothing is asked or nothing offered fits (said in the
check run). The chosen interpreter is mounted read-only in the prepare phase's sandbox,
which makes the repository's virtualenv with it, and in the tests' sandbox.
"""

from __future__ import annotations

import functools
import glob
import os
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from app import repo_files

_PROBE = (
    "import sys; print('.'.join(map(str, sys.version_info[:3])), sys.executable, sys.base_prefix)"
)
_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "COMPOSER_ALLOW_SUPERUSER": "1"}


@dataclass(frozen=True)
class Interpreter:
    path: str  # the executable
    version: Version
    prefix: Path  # sys.base_prefix: what the sandbox must see read-only

    def describe(self) -> str:
        return f"{self.version} ({self.path})"


@functools.cache
def probe_python(path: str) -> Interpreter | None:
    """The interpreter at `path`, or None when it does not run."""
    try:
        done = subprocess.run(
            [path, "-c", _PROBE], capture_output=True, text=True, timeout=30, check=False
        )
        # the interpreter's own word for its executable: a wrapper (a pyenv shim) is not it
        version, executable, prefix = done.stdout.split(maxsplit=2)
        return Interpreter(executable, Version(version), Path(prefix.strip()))
    except (OSError, subprocess.TimeoutExpired, ValueError, InvalidVersion):
        return None


def candidate_pythons(setting: str = "") -> list[str]:
    """`AGENTOPS_SANDBOX_PYTHONS` (comma-separated paths), else what this machine has:
    `python3.N` on PATH and pyenv's versions (`$PYENV_ROOT`, default ~/.pyenv)."""
    if setting.strip():
        return [p.strip() for p in setting.split(",") if p.strip()]
    found: list[str] = []
    for directory in os.environ.get("PATH", "/usr/bin").split(os.pathsep):
        found += sorted(glob.glob(os.path.join(directory, "python3.[0-9]*")))
    pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found += sorted(glob.glob(os.path.join(pyenv, "versions", "*", "bin", "python3")))
    return [p for p in found if re.search(r"python3(\.\d+)?$", p)]


def offered_pythons(setting: str = "") -> list[Interpreter]:
    """One interpreter per minor version (the newest patch), oldest first."""
    newest: dict[tuple[int, int], Interpreter] = {}
    for path in candidate_pythons(setting):
        found = probe_python(os.path.realpath(path))
        if found is None or found.version.major != 3:
            continue
        key = (found.version.major, found.version.minor)
        if key not in newest or found.version > newest[key].version:
            newest[key] = found
    return [newest[k] for k in sorted(newest)]


# --- what a repository asks for ----------------------------------------------------------


@dataclass(frozen=True)
class PythonRequest:
    specifier: SpecifierSet
    source: str  # "requires-python >=3.12 (pyproject.toml)"


def requested_python(root: Path) -> PythonRequest | None:
    """What the checkout at `root` asks for, read by the safe reader (pure otherwise)."""

    def read(name: str) -> str | None:
        try:
            return repo_files.read_text(root, name, max_bytes=256 * 1024)
        except repo_files.RepositoryFileRefused:
            return None

    if (pinned := read(".python-version")) is not None:
        words = pinned.split()
        match = re.fullmatch(r"(\d+)\.(\d+)(?:\.\d+)?", words[0]) if words else None
        if match:
            wanted = f"=={match.group(1)}.{match.group(2)}.*"
            return PythonRequest(SpecifierSet(wanted), f".python-version {words[0]}")
    if (text := read("pyproject.toml")) is not None:
        try:
            project = tomllib.loads(text).get("project", {})
        except tomllib.TOMLDecodeError:
            project = {}
        spec = project.get("requires-python") if isinstance(project, dict) else None
        if isinstance(spec, str) and (parsed := _specifier(spec)) is not None:
            return PythonRequest(parsed, f"requires-python {spec} (pyproject.toml)")
    if (cfg := read("setup.cfg")) is not None:
        found = re.search(r"^\s*python_requires\s*=\s*(.+)$", cfg, re.MULTILINE)
        if found and (parsed := _specifier(found.group(1).strip())) is not None:
            return PythonRequest(parsed, f"python_requires {found.group(1).strip()} (setup.cfg)")
    return None


def _specifier(text: str) -> SpecifierSet | None:
    try:
        return SpecifierSet(text)
    except InvalidSpecifier:
        return None


@dataclass(frozen=True)
class PythonChoice:
    interpreter: Interpreter | None  # None: the worker's default
    note: str  # for the check run


def choose_python(
    request: PythonRequest | None, offered: list[Interpreter], default: Interpreter | None
) -> PythonChoice:
    """The newest offered interpreter that satisfies `request`; else the default, saying
    why."""
    if request is None:
        return PythonChoice(None, "")
    if default is not None and request.specifier.contains(default.version):
        return PythonChoice(None, f"{default.version} for {request.source}")
    fitting = [i for i in offered if request.specifier.contains(i.version)]
    if fitting:
        chosen = max(fitting, key=lambda i: i.version)
        return PythonChoice(chosen, f"{chosen.version} for {request.source}")
    versions = ", ".join(str(i.version) for i in offered) or "none"
    fallback = str(default.version) if default else "the default"
    return PythonChoice(
        None,
        f"{request.source} is not offered by this worker (it has {versions}): "
        f"the tests run with {fallback}",
    )


# --- the other toolchains ----------------------------------------------------------------

TOOLS = (
    ("node", ("node", "--version")),
    ("npm", ("npm", "--version")),
    ("corepack", ("corepack", "--version")),
    ("php", ("php", "--version")),
    ("composer", ("composer", "--version")),
    ("phpunit", ("phpunit", "--version")),
    ("go", ("go", "version")),
)


@functools.cache
def tool_version(argv: tuple[str, ...]) -> str | None:
    """The first line `argv` prints, or None when the program is missing or fails."""
    if shutil.which(argv[0], path=_ENV["PATH"]) is None:
        return None
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=30, check=False, env=_ENV
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0].strip() if done.returncode == 0 and lines else None


def toolchain_report(pythons_setting: str = "") -> list[tuple[str, str | None]]:
    """(name, version or None) for `agentops doctor` and the worker's start-up lines."""
    offered = offered_pythons(pythons_setting)
    report: list[tuple[str, str | None]] = [
        ("python", ", ".join(str(i.version) for i in offered) or None)
    ]
    report += [(name, tool_version(argv)) for name, argv in TOOLS]
    return report
