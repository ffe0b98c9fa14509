"""One registry of commands (`app/commands.py: SPECS`): everything else is derived from it."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

from app.commands import COMMANDS, DEFAULT_LABELS, SPECS, CommandName, help_text
from app.workflow import control, work
from app.workflow.progress import title_for

ROOT = Path(__file__).resolve().parents[2]
NAMES = set(COMMANDS)


def test_the_typed_names_are_the_registry() -> None:
    assert get_args(CommandName) == COMMANDS


def test_every_command_is_runnable_and_described() -> None:
    for spec in SPECS:
        if spec.workflow == "control":
            assert spec.name in control.ANSWERS
        else:
            assert spec.workflow in work.WORKFLOWS and spec.title
        assert f"`/agentops {spec.name}`: {spec.help}" in help_text()
    assert set(DEFAULT_LABELS.values()) <= NAMES


def test_readme_lists_every_command() -> None:
    readme = (ROOT / "README.md").read_text()
    assert all(f"/agentops {name}" in readme for name in COMMANDS)


def _hand_lists(path: Path) -> list[int]:
    """Lines of literal collections (or dict keys) naming three commands or more."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            items = node.elts
        elif isinstance(node, ast.Dict):
            items = [k for k in node.keys if k is not None]
        else:
            continue
        named = {i.value for i in items if isinstance(i, ast.Constant) and i.value in NAMES}
        if len(named) >= 3:
            found.append(node.lineno)
    return found


def test_nothing_else_lists_commands_by_hand() -> None:
    listed = {
        str(path.relative_to(ROOT)): lines
        for folder in ("app", "handlers", "jobs")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != ROOT / "app" / "commands.py" and (lines := _hand_lists(path))
    }
    assert listed == {}


def test_a_run_of_a_command_without_a_title_works_under_a_plain_one() -> None:
    class Stub:
        command = "status"

    assert title_for(Stub()) == "Working"  # type: ignore[arg-type]
