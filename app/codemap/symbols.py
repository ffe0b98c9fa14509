"""What the code map knows about one file: definitions, imports, references and terms."""

from __future__ import annotations

import marshal
from dataclasses import dataclass, field
from functools import partial
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


def encode_symbols(symbols: FileSymbols) -> bytes:
    """A file's symbols as marshal of plain tuples (marshal refuses named tuples): the form
    of cache entries and tree snapshot rows, several times cheaper to write and read than
    JSON."""
    return marshal.dumps(
        (
            symbols.language,
            tuple(map(tuple, symbols.definitions)),
            symbols.imports,
            symbols.lines,
            symbols.skipped,
            symbols.parse_errors,
        )
    )


_definition = partial(tuple.__new__, Definition)  # no Python call per definition


def decode_symbols(data: bytes) -> FileSymbols:
    """The symbols encode_symbols wrote; ValueError when the data is damaged."""
    try:
        # Our own cache directory; marshal builds data only, it runs no code.
        language, defs, imports, lines, skipped, errors = marshal.loads(data)  # noqa: S302
        return FileSymbols(language, tuple(map(_definition, defs)), imports, lines, skipped, errors)
    except (EOFError, TypeError, ValueError) as exc:
        raise ValueError(f"damaged symbols: {exc}") from exc
