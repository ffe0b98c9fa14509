"""The built wheel, installed in a fresh virtualenv, runs with nothing of the checkout:
its prompt templates and `app.yml` travel inside it.

The fresh virtualenv finds its dependencies in the test's own environment (a `.pth` line,
added after the install so that pip never sees that environment's editable `agentops`),
and the wheel is installed with `--no-deps`: no download of the dependencies, and the only
`app` it can import is the one the wheel put there, which the fixture checks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.e2e import implement_script as script
from tests.e2e.harness import ROOT
from tests.sim.llm_sim import LLMSimulator, text, tool_call
from tests.sim.serve import serve_app

pytestmark = pytest.mark.e2e

# What building the wheel reads: the packages, their metadata, and the top-level files
# app/resources links to. Copied, so that the build writes nothing into the checkout and
# an old build/ folder there cannot add files the checkout no longer has.
BUILD_INPUTS = ("pyproject.toml", "README.md", "app.yml", "prompts", "app", "handlers", "jobs")
PACKAGES = ("app", "handlers", "jobs")


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    outside: Path  # a working directory with no prompts/ and no app.yml

    def python(self, code: str) -> str:
        done = subprocess.run(
            [str(self.venv / "bin" / "python"), "-c", code],
            cwd=self.outside,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without PYTHONPATH (it may name the checkout) and
    without the service's settings."""
    env = {
        k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("AGENTOPS_")
    }
    return env | (extra or {})


def _build_wheel(into: Path) -> Path:
    source = into / "source"
    for name in BUILD_INPUTS:
        origin = ROOT / name
        if origin.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(origin, source / name, symlinks=True, ignore=ignore)
        else:
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, source / name)
    # as `pip install .` builds: in isolation, with the backend pyproject.toml asks for
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(into), str(source)],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = into.glob("agentops-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    base = tmp_path_factory.mktemp("wheel")
    wheel = _build_wheel(base / "dist")
    venv = base / "venv"
    python = str(venv / "bin" / "python")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    install = ["install", "--no-deps", "--no-index", "-q", str(wheel)]
    pip = [sys.executable, "-m", "pip", "--python", python, *install]
    subprocess.run(pip, env=_env(), check=True, timeout=300)
    # only now: the dependencies, from the environment this test runs in
    where_site = [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]
    site = Path(
        subprocess.run(where_site, capture_output=True, text=True, check=True).stdout.strip()
    )
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    outside = base / "elsewhere"
    outside.mkdir()
    found = Installed(wheel, venv, outside)

    where = json.loads(
        found.python(
            "import json, sys, app\n"
            "from pathlib import Path\n"
            f"names = {PACKAGES!r}\n"
            "print(json.dumps({'app': app.__file__, 'holders': [p for p in sys.path"
            " if any((Path(p or '.') / n / '__init__.py').exists() for n in names)]}))"
        )
    )
    assert Path(where["app"]).is_relative_to(site), where
    assert where["holders"] == [str(site)], where  # the checkout is nowhere on sys.path
    return found


def test_the_wheel_ships_every_template_and_the_app_manifest(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        shipped = {
            name.removeprefix("app/resources/prompts/"): wheel.read(name)
            for name in wheel.namelist()
            if name.startswith("app/resources/prompts/")
        }
        manifest = wheel.read("app/resources/app.yml")
    in_checkout = {
        path.relative_to(ROOT / "prompts").as_posix(): path.read_bytes()
        for path in (ROOT / "prompts").rglob("*")
        if path.is_file()
    }
    assert shipped == in_checkout
    assert manifest == (ROOT / "app.yml").read_bytes()

    # the setup page's manifest, read by the installed package from a directory without one
    posted = json.loads(
        installed.python(
            "import json\n"
            "from app.forges.github.manifest import load_manifest\n"
            "print(json.dumps(load_manifest('https://agentops.example.com')))"
        )
    )
    assert posted["hook_attributes"]["url"] == "https://agentops.example.com/webhooks/github"
    declared = yaml.safe_load((ROOT / "app.yml").read_text())
    assert posted["default_permissions"] == declared["default_permissions"]

    # the run page's own script and style, which the web process reads when it starts
    served = installed.python("from app.runpage.routes import _FILES\nprint(sorted(_FILES))")
    assert served.strip() == "['list.js', 'live.js', 'page.css']"


def _checkout(path: Path) -> Path:
    path.mkdir()
    for name, content in script.FILES.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(content)
    identity = ["-c", "user.name=Dev", "-c", "user.email=dev@example.invalid"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], [*identity, "commit", "-qm", "x"]):
        subprocess.run(["git", *args], cwd=path, check=True, capture_output=True)
    return path


def test_agentops_run_from_the_installed_wheel_delivers_a_change(
    installed: Installed, tmp_path: Path
) -> None:
    checkout = _checkout(tmp_path / "calc")
    task = tmp_path / "task.md"
    task.write_text(f"{script.ISSUE_TITLE}\n\n{script.ISSUE_BODY}\n")
    llm = LLMSimulator()
    llm.script(script.PLANNER, text("**Change**\n1. `calc.py`, `divide`: refuse b == 0.\n"))
    llm.script(
        script.CODER,
        tool_call("apply_edits", {"edits": script.DIRECT_CHANGE}),
        tool_call("finish", script.FINISHED),
    )
    with serve_app(llm.app) as url:
        settings = script.llm_env(url) | {
            "AGENTOPS_WORKDIR": str(tmp_path / "work"),
            # the repository's tests run with pytest from this test's environment
            "AGENTOPS_SANDBOX_PYTHON": sys.prefix,
        }
        done = subprocess.run(
            [
                str(installed.venv / "bin" / "agentops"),
                "run",
                str(checkout),
                "--task-file",
                str(task),
            ],
            cwd=installed.outside,
            env=_env(settings),
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "# Plan" in done.stdout and "`calc.py`, `divide`" in done.stdout
    assert '+        raise ValueError("cannot divide by zero")' in done.stdout
    assert "test_divide_by_zero_raises" in done.stdout.split("# Test evidence")[1]
    assert "Branch agentops/local-divide-should-refuse-a-zero-divisor holds commit" in done.stdout
