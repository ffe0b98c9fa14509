"""Tiny repositories written into tmp_path, and the sandbox policy the tests use."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from app.sandbox import SandboxLimits, SandboxPolicy

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
        limits=SandboxLimits(**values),  # type: ignore[arg-type]
        python_env=Path(sys.prefix),
        env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
