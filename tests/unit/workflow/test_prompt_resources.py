"""Every prompt template the code renders is among the package's resources (`app.resources`),
which is what the wheel ships (tests/e2e/test_installed_wheel.py)."""

from __future__ import annotations

import ast
from importlib.resources import files
from pathlib import Path

from app.resources import app_manifest, prompt_file
from app.sandbox import Runner

ROOT = Path(__file__).resolve().parents[3]
# the one call that computes its template's name: a runner's conventions, or runners/other
COMPUTED = {"app/workflow/prompts.py": 'f"runners/{command.runner.value}"'}


def _render_calls() -> tuple[dict[str, str], dict[str, str]]:
    """(template name → where it is rendered, where → the computed name's source)."""
    named: dict[str, str] = {}
    computed: dict[str, str] = {}
    for path in sorted((ROOT / "app").rglob("*.py")):
        where = path.relative_to(ROOT).as_posix()
        source = path.read_text()
        for node in ast.walk(ast.parse(source)):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name != "render_prompt":
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                named[first.value] = f"{where}:{node.lineno}"
            else:
                computed[where] = ast.get_source_segment(source, first) or "?"
    return named, computed


def test_every_template_the_code_renders_is_shipped() -> None:
    named, computed = _render_calls()
    assert {"plan_system", "implement_task", "edit_format", "commit_message"} <= set(named)
    missing = {name: where for name, where in named.items() if not prompt_file(name).is_file()}
    assert missing == {}
    assert computed == COMPUTED  # a new computed name: say here which templates it needs


def test_every_runner_has_its_conventions_or_the_general_ones() -> None:
    assert prompt_file("runners/other").is_file()
    shipped = {
        p.name.removesuffix(".md")
        for p in (files("app.resources") / "prompts" / "runners").iterdir()
    }
    assert shipped - {"other"} <= {runner.value for runner in Runner}  # no misnamed one
    assert {"pytest", "jest", "go", "cargo", "phpunit"} <= shipped


def test_the_resources_are_the_top_level_files() -> None:
    """One copy: the package's resources are the repository's prompts/ and app.yml."""
    assert (
        prompt_file("plan_system").read_text() == (ROOT / "prompts" / "plan_system.md").read_text()
    )
    assert app_manifest().read_text() == (ROOT / "app.yml").read_text()
