"""README's configuration tables and the settings model name the same settings."""

from __future__ import annotations

import re
from pathlib import Path

from app.config import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def _documented() -> set[str]:
    """Names in the first column of README's tables (`NAME` or `AGENTOPS_NAME`)."""
    names: set[str] = set()
    for line in README.read_text().splitlines():
        if line.startswith("| `"):
            first = line.split("|")[1]
            names |= {n.removeprefix("AGENTOPS_") for n in re.findall(r"`([A-Z0-9_]+)`", first)}
    return names


def test_every_setting_is_in_a_readme_table() -> None:
    missing = {name.upper() for name in Settings.model_fields} - _documented()
    assert missing == set(), f"settings README does not document: {sorted(missing)}"


def test_the_configuration_table_names_no_setting_that_does_not_exist() -> None:
    text = README.read_text()
    table = text[text.index("## Configuration") : text.index("### GitHub App")]
    named = {
        n.removeprefix("AGENTOPS_")
        for line in table.splitlines()
        if line.startswith("| `")
        for n in re.findall(r"`([A-Z0-9_]+)`", line.split("|")[1])
    }
    unknown = named - {name.upper() for name in Settings.model_fields}
    assert unknown == set(), f"README names settings that do not exist: {sorted(unknown)}"
