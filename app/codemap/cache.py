"""A content-addressed store of extraction results, keyed by git blob SHA.

The key is (extractor version, language, blob SHA), so re-indexing after a commit parses
only the blobs that changed, and two checkouts that share a blob share its entry. An entry
holds either a file's symbols (`<sha>.<language>.json`, written by indexing) or its words
(`<sha>.words.json`, written the first time ranking needs them). Entries are written
atomically; a damaged entry reads as a miss.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from app.codemap.extract import EXTRACTOR_VERSION
from app.codemap.symbols import Definition, FileSymbols, FileWords

DEFAULT_CACHE_DIR = Path("~/.cache/agentops/codemap")


class BlobCache:
    """Extraction results on disk under `directory/v<version>/<sha[:2]>/<sha>.<kind>.json`."""

    def __init__(self, directory: Path, version: str = EXTRACTOR_VERSION) -> None:
        self.root = str(directory.expanduser() / f"v{version}")

    def _path(self, blob_sha: str, kind: str) -> str:
        return f"{self.root}/{blob_sha[:2]}/{blob_sha}.{kind}.json"

    def _read(self, blob_sha: str, kind: str) -> Any:
        try:
            with open(self._path(blob_sha, kind), "rb") as handle:
                return json.loads(handle.read())
        except (OSError, ValueError):
            return None

    def _write(self, blob_sha: str, kind: str, data: object) -> None:
        path = self._path(blob_sha, kind)
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(json.dumps(data, separators=(",", ":")).encode())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get_symbols(self, blob_sha: str, language: str) -> FileSymbols | None:
        data = self._read(blob_sha, language)
        try:
            return symbols_from_json(data) if data is not None else None
        except (KeyError, TypeError, ValueError):
            return None

    def put_symbols(self, blob_sha: str, language: str, symbols: FileSymbols) -> None:
        self._write(blob_sha, language, symbols_to_json(symbols))

    def get_words(self, blob_sha: str) -> FileWords | None:
        data = self._read(blob_sha, "words")
        try:
            return FileWords(data["identifiers"]) if data is not None else None
        except (KeyError, TypeError):
            return None

    def put_words(self, blob_sha: str, words: FileWords) -> None:
        self._write(blob_sha, "words", {"identifiers": words.identifiers})


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
        definitions=tuple(map(Definition._make, data["definitions"])),
        imports=tuple(data["imports"]),
        lines=data["lines"],
        skipped=data["skipped"],
        parse_errors=data["parse_errors"],
    )
