"""The repositories under tests/fixtures/repos, as files for the forge simulators."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "repos"


def fixture_files(name: str) -> dict[str, str]:
    """Every file of tests/fixtures/repos/`name` by its path in the repository."""
    root = FIXTURES / name
    return {
        path.relative_to(root).as_posix(): path.read_text()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "node_modules" not in path.parts and "vendor" not in path.parts
    }
