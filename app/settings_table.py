"""README's configuration table, rendered from the settings model's field descriptions.

The descriptions are the docstrings under the fields of `app.config.Settings`; edit them
there and run `make settings-table` (`python -m app.settings_table --write README.md`).
A test checks that README holds exactly what this renders.
"""

from __future__ import annotations

import argparse
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic.fields import FieldInfo

from app.config import Settings

BEGIN = "<!-- settings table: rendered from app/config.py by `make settings-table` -->"
END = "<!-- end of the settings table -->"


def shown_default(field: FieldInfo) -> str:
    value: Any = field.get_default(call_default_factory=True)
    if value is None or value == "" or isinstance(value, SecretStr):
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, dict | list):
        value = json.dumps(value)
    if isinstance(value, Enum):
        value = value.value
    return f"`{value}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def settings_table() -> str:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        if not field.description:
            raise ValueError(f"the setting {name} has no description (a docstring under it)")
        rows.append(
            f"| `{name.upper()}` | {_cell(shown_default(field))} | {_cell(field.description)} |"
        )
    return "\n".join(rows)


def replaced(readme: str) -> str:
    """`readme` with the text between the markers rendered anew."""
    try:
        head, rest = readme.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
    except ValueError:
        raise ValueError(f"README has no settings table between {BEGIN!r} and {END!r}") from None
    return f"{head}{BEGIN}\n{settings_table()}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="rewrite the table in this README")
    args = parser.parse_args(argv)
    if args.write is None:
        print(settings_table())
        return 0
    args.write.write_text(replaced(args.write.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
