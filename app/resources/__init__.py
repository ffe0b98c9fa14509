"""The files the service reads at run time besides its code: the prompt templates and the
GitHub App manifest.

They live at the top of the repository (`prompts/`, `app.yml`), where people edit them;
`prompts` and `app.yml` in this package are links to them. The wheel holds copies in
their place, so one lookup, `importlib.resources`, finds them in a checkout, an editable
install and an installed wheel alike, whatever the working directory.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.resources.abc import Traversable

_HERE = files(__name__)


def prompt_file(name: str) -> Traversable:
    """`prompts/<name>.md`; `name` may name a subfolder (`runners/pytest`)."""
    found = _HERE / "prompts"
    for part in f"{name}.md".split("/"):
        found = found / part
    return found


def app_manifest() -> Traversable:
    """`app.yml`, the GitHub App manifest the setup page posts."""
    return _HERE / "app.yml"
