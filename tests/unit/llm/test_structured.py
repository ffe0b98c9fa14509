import pytest
from pydantic import BaseModel

from app.llm.structured import InvalidStructuredOutput, extract_json_text, parse_structured


class Plan(BaseModel):
    summary: str
    files: list[str]


def test_plain_fenced_and_wrapped_json_are_read() -> None:
    expected = Plan(summary="s", files=["a.py"])
    for text in (
        '{"summary": "s", "files": ["a.py"]}',
        'Here:\n```json\n{"summary": "s", "files": ["a.py"]}\n```',
        'Sure! {"summary": "s", "files": ["a.py"]} Done.',
    ):
        assert parse_structured(text, Plan) == expected


def test_not_json_says_so() -> None:
    with pytest.raises(InvalidStructuredOutput, match="not JSON"):
        parse_structured("I think we should refactor.", Plan)


def test_wrong_shape_names_the_field() -> None:
    with pytest.raises(InvalidStructuredOutput, match="files: Field required"):
        parse_structured('{"summary": "s"}', Plan)


def test_extract_keeps_a_bare_object() -> None:
    assert extract_json_text('  {"a": 1}  ') == '{"a": 1}'
