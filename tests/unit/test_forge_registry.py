"""One registry of forges (`app/forges/registry.py: FORGES`): everything else is derived."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from app.config import Settings
from app.forges.base import ForgeError
from app.forges.registry import FORGES, KINDS, display_name, spec_for
from app.forges.spec import KIND_FORMAT
from app.web_service import Service
from app.workflow.failures import public_failure

ROOT = Path(__file__).resolve().parents[2]
FORGE_PACKAGES = {ROOT / "app" / "forges" / spec.kind for spec in FORGES}
REGISTRY = ROOT / "app" / "forges" / "registry.py"
# What names one forge: its kind, its display name, its webhook path.
NAMES = {name for spec in FORGES for name in (spec.kind, spec.display_name, spec.webhook_path)}


def test_each_forge_is_one_package_with_a_well_formed_kind() -> None:
    assert len(KINDS) == len(FORGES) >= 2
    for spec in FORGES:
        assert KIND_FORMAT.fullmatch(spec.kind)
        assert (ROOT / "app" / "forges" / spec.kind / "spec.py").is_file()
        assert spec_for(spec.kind) is spec
        assert spec.parts_module == f"app.forges.{spec.kind}.parts" and spec.parts()
    with pytest.raises(ForgeError, match="unknown forge 'gitea'"):
        spec_for("gitea")


def test_webhook_routes_are_the_registry() -> None:
    routes = Service(Settings()).webhook_receivers
    assert {path: kind for path, (kind, _) in routes.items()} == {
        spec.webhook_path: spec.kind for spec in FORGES
    }


def test_a_forge_failure_names_the_forge_of_the_run() -> None:
    for spec in FORGES:
        text = public_failure(ForgeError("boom"), spec.kind).text
        assert spec.display_name in text
    assert "The forge" in public_failure(ForgeError("boom"), "gitea").text
    assert display_name("gitea") == "The forge"


def _named_by_hand(path: Path) -> list[tuple[int, str]]:
    """String constants (f-string parts, annotations and `Literal`s included) that are
    exactly a forge's kind, display name or webhook path."""
    return sorted(
        (node.lineno, node.value)
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in NAMES
    )


def test_nothing_outside_a_forge_package_and_the_registry_names_a_forge() -> None:
    named = {
        str(path.relative_to(ROOT)): found
        for folder in ("app", "handlers", "jobs")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != REGISTRY and not FORGE_PACKAGES.intersection(path.parents)
        if (found := _named_by_hand(path))
    }
    assert named == {}


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        'from typing import Literal\nKind = Literal["github", "other"]\n'
        'x = f"{1}GitLab"\nroute = {"/webhooks/gitlab": 1}\nprose = "a GitHub App"\n'
    )
    assert _named_by_hand(sample) == [(2, "github"), (3, "GitLab"), (4, "/webhooks/gitlab")]
