"""One edit, as parsed from a model's answer, and the error for an answer that cannot be read."""

from __future__ import annotations

from dataclasses import dataclass


class EditFormatError(ValueError):
    """The answer has a block that cannot be read; the message is meant for the model."""


@dataclass(frozen=True)
class Edit:
    """One change to one file.

    `search` and `replace` are whole lines, each ending with "\\n" ("" means no lines).
    `whole_file` edits create a file with `replace` as its entire content.
    `line_hint` is the 1-based line of the file (as the model saw it) where `search` starts.
    `number` is the block's 1-based position in the answer, used in messages.
    """

    path: str
    search: str
    replace: str
    line_hint: int | None = None
    whole_file: bool = False
    number: int = 1
