"""Reading a model's JSON answer into a pydantic model (pure)."""

from __future__ import annotations

import json
import re
from typing import TypeVar

from pydantic import BaseModel, ValidationError

T = TypeVar("T", bound=BaseModel)

_FENCED = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


class InvalidStructuredOutput(ValueError):
    """The text is not JSON, or not JSON matching the schema; the message says why."""


def extract_json_text(text: str) -> str:
    """The JSON object in `text`: the whole text, a fenced block, or the outermost braces."""
    stripped = text.strip()
    if stripped.startswith("{"):
        return stripped
    fenced = _FENCED.search(stripped)
    if fenced:
        return fenced.group(1).strip()
    start, end = stripped.find("{"), stripped.rfind("}")
    if start != -1 and end > start:
        return stripped[start : end + 1]
    return stripped


def parse_structured(text: str, schema: type[T]) -> T:
    candidate = extract_json_text(text)
    try:
        data = json.loads(candidate)
    except json.JSONDecodeError as exc:
        raise InvalidStructuredOutput(f"the answer is not JSON ({exc.msg})") from None
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}"
            for e in exc.errors()[:5]
        )
        raise InvalidStructuredOutput(
            f"the answer does not match {schema.__name__}: {problems}"
        ) from None


def repair_prompt(problem: str) -> str:
    return (
        f"Your previous answer could not be used: {problem}. Answer again with only the "
        "JSON object, matching the schema exactly."
    )
