"""Syntax errors in one file, found with the tree-sitter grammar of its language.

`syntax_errors` answers "does this file still parse?" for the edit layer, which may not
import tree_sitter itself. Positions are 1-based lines and 1-based character columns.
A file in a language the code map does not read has no syntax errors by definition.
"""

from __future__ import annotations

from tree_sitter import Node, Parser

from app.codemap.languages import language_for_path, load_language

MAX_ERRORS = 10
_SNIPPET = 40


def syntax_errors(path: str, source: bytes) -> list[tuple[int, int, str]]:
    """(line, column, message) of each syntax error, first ten in file order.

    Empty when the file parses or when its language is unknown.
    """
    name = language_for_path(path)
    if name is None:
        return []
    parser = Parser(load_language(name).language)  # own parser: cheap, never shared
    root = parser.parse(source).root_node
    if not root.has_error:
        return []
    errors: list[tuple[int, int, str]] = []
    _collect(root, source, errors)
    errors.sort()
    return errors[:MAX_ERRORS]


def _collect(node: Node, source: bytes, into: list[tuple[int, int, str]]) -> None:
    stack = [node]
    while stack and len(into) < MAX_ERRORS * 4:
        current = stack.pop()
        if current.is_missing:
            into.append((*_position(current, source), f"missing {current.type!r}"))
            continue
        if current.is_error:
            into.append((*_position(current, source), _unexpected(current, source)))
            continue
        stack.extend(child for child in reversed(current.children) if child.has_error)


def _position(node: Node, source: bytes) -> tuple[int, int]:
    row, byte_column = node.start_point
    line_start = node.start_byte - byte_column
    column = len(source[line_start : node.start_byte].decode("utf-8", "replace"))
    return row + 1, column + 1


def _unexpected(node: Node, source: bytes) -> str:
    text = source[node.start_byte : node.end_byte].decode("utf-8", "replace")
    first_line = text.strip().splitlines()[0] if text.strip() else ""
    if not first_line:
        return "syntax error"
    if len(first_line) > _SNIPPET:
        first_line = first_line[:_SNIPPET] + "…"
    return f"syntax error at {first_line!r}"
