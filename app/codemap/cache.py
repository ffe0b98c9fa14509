"""A content-addressed store of extraction results, keyed by git blob SHA.

The key is (extractor version, language, blob SHA), so re-indexing after a commit parses
only the blobs that changed, and two checkouts that share a blob share its entry. An entry
is two JSON lines, symbols then words, so that indexing decodes only the small first line
and ranking decodes the words when it needs them. Entries are written atomically; a
damaged entry reads as a miss.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from app.codemap.extract import EXTRACTOR_VERSION
from app.codemap.symbols import Definition, Extraction, FileSymbols, FileWords

DEFAULT_CACHE_DIR = Path("~/.cache/agentops/codemap")


class BlobCache:
    """Extraction results on disk under `directory/v<version>/<sha[:2]>/<sha>.<lang>.json`."""

    def __init__(self, directory: Path, version: str = EXTRACTOR_VERSION) -> None:
        self.root = str(directory.expanduser() / f"v{version}")

    def _path(self, blob_sha: str, language: str) -> str:
        return f"{self.root}/{blob_sha[:2]}/{blob_sha}.{language}.json"

    def _read_line(self, blob_sha: str, language: str, line: int) -> Any:
        try:
            with open(self._path(blob_sha, language), "rb") as handle:
                data = handle.read()
            return json.loads(data.split(b"\n", 2)[line])
        except (OSError, ValueError, IndexError):
            return None

    def get_symbols(self, blob_sha: str, language: str) -> FileSymbols | None:
        data = self._read_line(blob_sha, language, 0)
        try:
            return symbols_from_json(data) if data is not None else None
        except (KeyError, TypeError, ValueError):
            return None

    def get_words(self, blob_sha: str, language: str) -> FileWords | None:
        data = self._read_line(blob_sha, language, 1)
        try:
            return FileWords(data["identifiers"]) if data else None
        except (KeyError, TypeError):
            return None

    def put(self, blob_sha: str, language: str, extraction: Extraction) -> None:
        path = self._path(blob_sha, language)
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        words = {"identifiers": extraction.words.identifiers}
        data = b"%s\n%s\n" % (
            json.dumps(symbols_to_json(extraction.symbols), separators=(",", ":")).encode(),
            json.dumps(words, separators=(",", ":")).encode(),
        )
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def symbols_to_json(symbols: FileSymbols) -> dict[str, Any]:
    return {
        "language": symbols.language,
        "definitions": [
            [d.name, d.qualname, d.kind, d.signature, d.start_line, d.end_line]
            for d in symbols.definitions
        ],
        "imports": list(symbols.imports),
        "lines": symbols.lines,
        "skipped": symbols.skipped,
        "parse_errors": symbols.parse_errors,
    }


def symbols_from_json(data: dict[str, Any]) -> FileSymbols:
    return FileSymbols(
        language=data["language"],
        definitions=tuple(Definition(*row) for row in data["definitions"]),
        imports=tuple(data["imports"]),
        lines=data["lines"],
        skipped=data["skipped"],
        parse_errors=data["parse_errors"],
    )
