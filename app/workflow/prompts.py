"""Prompt templates: text files in `prompts/`, one per purpose, filled by name (shipped
with the package: `app.resources`).

Templates use `string.Template` placeholders (`$name`); a missing value is an error, so a
template and its caller cannot drift apart silently.
"""

from __future__ import annotations

from functools import cache
from string import Template

from app.resources import prompt_file
from app.sandbox.test_commands import TestCommand


class PromptMissing(LookupError):
    pass


@cache
def _template(name: str) -> Template:
    path = prompt_file(name)
    if not path.is_file():
        raise PromptMissing(f"no prompt template named {name!r} in prompts/")
    return Template(path.read_text(encoding="utf-8").strip())


def render_prompt(name: str, **values: str) -> str:
    """The template `prompts/<name>.md` with every `$placeholder` filled."""
    try:
        return _template(name).substitute(values)
    except KeyError as exc:
        raise PromptMissing(f"prompt {name!r} needs a value for {exc.args[0]!r}") from None


def runner_prompt_values(command: TestCommand) -> dict[str, str]:
    """`$test_command` and `$test_conventions` of the system prompts: where the runner's
    tests live, how they are named, and the test ids it selects (prompts/runners/)."""
    try:
        conventions = render_prompt(f"runners/{command.runner.value}")
    except PromptMissing:
        conventions = render_prompt("runners/other")
    return {"test_command": command.display(), "test_conventions": conventions}
