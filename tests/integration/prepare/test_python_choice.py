"""A repository that asks for another Python gets it: the prepare phase makes its
virtualenv with that interpreter (mounted read-only in the sandbox) and the tests run
with it. Through the real egress proxy to PyPI."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from app.config import Settings
from app.repo_config import RepoConfig
from app.sandbox import run_tests
from app.toolchains import offered_pythons, probe_python
from app.workflow.dependencies import install_for
from app.workflow.sandbox_policy import policy_for_tests
from tests.integration.sandbox.repos import write_repo

VERSION_TEST = """
import sys

def test_runs_with_the_python_asked_for():
    assert "%d.%d" % sys.version_info[:2] == "{minor}"
"""


@pytest.mark.parametrize("asks", ["pyproject", "python-version"])
async def test_the_python_asked_for_makes_the_venv_and_runs_the_tests(
    tmp_path: Path, asks: str
) -> None:
    default = probe_python(str(Path(sys.prefix) / "bin" / "python"))
    assert default is not None
    others = [i for i in offered_pythons() if i.version.release[:2] != default.version.release[:2]]
    assert others, "this machine offers one Python only (pyenv's versions are expected)"
    target = others[-1]
    minor = f"{target.version.major}.{target.version.minor}"
    files = {"tests/test_version.py": VERSION_TEST.replace("{minor}", minor)}
    if asks == "pyproject":  # with a dependency from PyPI
        files["pyproject.toml"] = (
            f'[project]\nname = "x"\nrequires-python = "=={minor}.*"\n'
            'dependencies = ["iniconfig"]\n'
        )
    else:  # nothing to install: the venv is made for the interpreter alone
        files[".python-version"] = f"{target.version}\n"
    repo = write_repo(tmp_path / "repo", files)
    settings = Settings(workdir=tmp_path / "work", prepare_cache_dir=tmp_path / "cache")
    policy = await policy_for_tests(settings, RepoConfig(), tmp_path / "scratch")
    prepared = await install_for(
        settings, repo, RepoConfig(), policy, folder=tmp_path / "run", tenant="t", label="t"
    )
    try:
        assert prepared.failure is None, prepared.failure
        assert str(prepared.detail()["python"]).startswith(f"{target.version} for ")
        done = await run_tests(
            repo, ("python", "-m", "pytest", "-q", "-p", "no:cacheprovider"),
            policy=prepared.apply(policy),
        )  # fmt: skip
        assert done.passed, done.tests.output.text
    finally:
        prepared.release()
