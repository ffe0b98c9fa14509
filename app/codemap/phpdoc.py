"""Methods a PHP class declares only in its docblock: `@method static Route get(string $uri)`.

Laravel's facades (`Route`, `Cache`, `DB`) and many magic `__call` classes have no method
bodies for their public API; the docblock's `@method` tags are where a reader finds
`Route::get`. Each tag becomes a method of the class, at the tag's line.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from app.codemap.symbols import Definition

_METHOD_TAG = re.compile(
    rb"@method[ \t]+(?:static[ \t]+)?(?:[^\s(]+[ \t]+)?([A-Za-z_]\w*)[ \t]*\(([^\n]*)"
)
_CLASS_LIKE = frozenset({"class", "interface", "trait"})
_SIGNATURE_LIMIT = 240


def docblock_of(node: Node) -> Node | None:
    """The `/** … */` comment right before a class-like declaration, when it has @method."""
    before = node.prev_named_sibling
    if before is None or before.type != "comment":
        return None
    if before.end_point.row + 1 < node.start_point.row:  # a blank line or more between
        return None
    text = before.text or b""
    return before if text.startswith(b"/**") and b"@method" in text else None


def with_docblock_methods(
    source: bytes, definitions: tuple[Definition, ...], docblocks: dict[int, Node]
) -> tuple[Definition, ...]:
    """The definitions with each class's docblock methods placed right after the class.
    docblocks: the class's 1-based start line → its docblock."""
    result: list[Definition] = []
    for definition in definitions:
        result.append(definition)
        block = docblocks.get(definition.start_line)
        if block is not None and definition.kind in _CLASS_LIKE:
            result.extend(_tag_methods(source, block, definition.qualname))
    return tuple(result)


# a real facade lists tens of methods; a hostile block of 80,000 tags is work, not a map
_TAGS_PER_BLOCK = 2_000


def _tag_methods(source: bytes, block: Node, owner: str) -> list[Definition]:
    found: list[Definition] = []
    text = source[block.start_byte : block.end_byte]
    first_line = block.start_point.row + 1
    line, counted = first_line, 0  # lines counted once, from one tag to the next
    for match in _METHOD_TAG.finditer(text):
        if len(found) >= _TAGS_PER_BLOCK:
            break
        name = match[1].decode()
        line += text.count(b"\n", counted, match.start())
        counted = match.start()
        header = " ".join(match[0].decode("utf-8", "replace").split())
        if len(header) > _SIGNATURE_LIMIT:
            header = header[: _SIGNATURE_LIMIT - 1] + "…"
        found.append(Definition(name, f"{owner}.{name}", "method", header, line, line))
    return found
