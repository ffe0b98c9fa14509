"""`probe_python`: does the Python that runs repositories' tests have pytest?"""

from __future__ import annotations

import sys
import venv
from pathlib import Path

import pytest

from app.sandbox import probe_python


def test_a_python_with_pytest_reports_both_versions() -> None:
    ok, detail = probe_python(Path(sys.prefix))
    assert ok
    assert f"pytest {pytest.__version__}" in detail
    assert f"Python {sys.version.split()[0]}" in detail


def test_a_virtualenv_without_pytest_says_what_to_do(tmp_path: Path) -> None:
    venv.create(tmp_path / "bare", with_pip=False, symlinks=True)
    ok, detail = probe_python(tmp_path / "bare")
    assert not ok
    assert "has no pytest" in detail and "make sandbox-python" in detail
