"""Tiny repositories written into tmp_path, and the sandbox policy the tests use."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from app.sandbox import SandboxLimits, SandboxPolicy

REPO_ROOT = Path(__file__).resolve().parents[3]
SYSTEM_PYTHON = Path("/usr/bin/python3")  # not the venv: its files are root's

PYTEST = ("python", "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-rA")


def write_repo(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def policy(**limits: float) -> SandboxPolicy:
    """The service's own Python read-only inside; small limits so that tests end fast."""
    values: dict[str, float] = {"wall_seconds": 20, "cpu_seconds": 10, "processes": 64}
    values.update(limits)
    return SandboxPolicy(
        # int and float fields by name: no annotation of **values says which is which
        limits=SandboxLimits(**values),  # type: ignore[arg-type]
        python_env=Path(sys.prefix),
        env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )


def run_as_nobody(code: str, cwd: Path, env: dict[str, str] | None = None) -> object:
    """Run Python `code` as uid/gid 65534 (a service that is not root) in `cwd`; the JSON
    value its last line of output prints."""
    done = subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            str(SYSTEM_PYTHON),
            "-c",
            textwrap.dedent(code),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
