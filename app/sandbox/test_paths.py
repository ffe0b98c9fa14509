"""The files named by test ids (pure); which files hold tests is `app/test_paths.py`."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePosixPath

from app.sandbox.selection import split_id


def files_of_test_ids(test_ids: Iterable[str]) -> list[str]:
    """The files named in `path::name` test ids (pytest, jest, vitest, phpunit)."""
    files = []
    for test_id in test_ids:
        path, _ = split_id(test_id)
        path = path.split("[", 1)[0]
        if PurePosixPath(path).suffix:
            files.append(path)
    return list(dict.fromkeys(files))
