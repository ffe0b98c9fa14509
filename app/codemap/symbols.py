"""What the code map knows about one file: definitions, imports, references and terms."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


class Definition(NamedTuple):  # a tuple: tens of thousands are read back per index
    name: str
    qualname: str  # dotted through enclosing definitions: "QuerySet.bulk_create"
    kind: str  # class, function, method, interface, trait, namespace, module, enum, type, impl
    signature: str  # the header text up to the body, whitespace collapsed
    start_line: int  # 1-based, inclusive
    end_line: int


@dataclass(frozen=True, slots=True)
class FileSymbols:
    language: str
    definitions: tuple[Definition, ...] = ()
    imports: tuple[str, ...] = ()
    lines: int = 0
    skipped: str | None = None  # why the content was not indexed (binary, minified, ...)
    parse_errors: bool = False  # tree-sitter recovered from syntax errors in this file


@dataclass(frozen=True, slots=True)
class FileWords:
    """The words of a file, kept apart from its symbols because only ranking needs them."""

    # Identifiers read lexically from the source (code, comments and strings) with their
    # counts: the names the file refers to, and the text BM25 ranks.
    identifiers: dict[str, int] = field(default_factory=dict)
