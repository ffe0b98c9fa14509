"""Which Python a repository asks for, and which one it gets (pure, but for reading the
checkout's files)."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from app.toolchains import Interpreter, PythonRequest, choose_python, requested_python


def python(version: str) -> Interpreter:
    return Interpreter(f"/opt/python{version}/bin/python3", Version(version), Path("/opt"))


OFFERED = [python("3.9.18"), python("3.11.7"), python("3.12.1"), python("3.13.0")]
DEFAULT = OFFERED[1]


def ask(spec: str) -> PythonRequest:
    return PythonRequest(SpecifierSet(spec), f"requires-python {spec}")


def test_nothing_asked_is_the_default() -> None:
    assert choose_python(None, OFFERED, DEFAULT).interpreter is None


def test_the_default_when_it_fits_else_the_newest_that_does() -> None:
    assert choose_python(ask(">=3.10"), OFFERED, DEFAULT).interpreter is None
    chosen = choose_python(ask(">=3.12"), OFFERED, DEFAULT)
    assert chosen.interpreter == OFFERED[3]
    assert chosen.note == "3.13.0 for requires-python >=3.12"
    assert choose_python(ask("<3.10"), OFFERED, DEFAULT).interpreter == OFFERED[0]


def test_what_is_not_offered_runs_with_the_default_and_says_so() -> None:
    chosen = choose_python(ask(">=3.14"), OFFERED, DEFAULT)
    assert chosen.interpreter is None
    assert "requires-python >=3.14 is not offered" in chosen.note
    assert "3.9.18, 3.11.7, 3.12.1, 3.13.0" in chosen.note
    assert chosen.note.endswith("the tests run with 3.11.7")


@pytest.mark.parametrize(
    ("files", "spec", "source"),
    [
        ({".python-version": "3.12.1\n"}, "==3.12.*", ".python-version 3.12.1"),
        (
            {"pyproject.toml": '[project]\nname = "x"\nrequires-python = ">=3.10,<3.13"\n'},
            ">=3.10,<3.13",
            "requires-python >=3.10,<3.13 (pyproject.toml)",
        ),
        (
            {"setup.cfg": "[options]\npython_requires = >=3.8\n"},
            ">=3.8",
            "python_requires >=3.8 (setup.cfg)",
        ),
    ],
)
def test_what_a_repository_asks_for(
    tmp_path: Path, files: dict[str, str], spec: str, source: str
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    request = requested_python(tmp_path)
    assert request is not None
    assert request.specifier == SpecifierSet(spec)
    assert request.source == source


def test_nothing_readable_asks_nothing(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nrequires-python = 'not a spec'\n")
    (tmp_path / ".python-version").symlink_to("/etc/hostname")  # a link is never read
    assert requested_python(tmp_path) is None
