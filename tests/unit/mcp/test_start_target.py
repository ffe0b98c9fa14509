"""The repository name an MCP client gives `start_run`, checked before any look-up."""

from __future__ import annotations

import pytest

from app.config import Settings
from app.forges.registry import ForgeRegistry
from app.mcp.errors import ToolRefusal
from app.mcp.start_target import checked_name, unknown_target


@pytest.mark.parametrize(
    ("forge", "name"),
    [("github", "acme/app"), ("github", " Acme/my.app_2-x "), ("gitlab", "group/sub/project")],
)
def test_names_of_each_forge(forge: str, name: str) -> None:
    assert checked_name(forge, name) == name.strip()


@pytest.mark.parametrize(
    ("forge", "name"),
    [
        ("github", "acme/sub/app"),  # GitHub has no subgroups
        ("github", "ac.me/app"),
        ("gitlab", "group/../project"),
        ("gitlab", "group/./project"),
        ("gitlab", "group//project"),
        ("gitlab", "group/pro%2Fject"),
        ("gitlab", "project"),
        ("gitlab", "group/" + "p" * 250),
    ],
)
def test_names_that_are_refused(forge: str, name: str) -> None:
    with pytest.raises(ToolRefusal, match="owner/name"):
        checked_name(forge, name)


async def test_a_gitlab_project_without_a_run_is_told_to_use_its_hook() -> None:
    registry = ForgeRegistry(Settings())
    with pytest.raises(ToolRefusal, match="through its hook first"):
        await unknown_target(registry, "gitlab", "group/project")
    assert registry._connections == {}  # nothing was opened, nothing asked
