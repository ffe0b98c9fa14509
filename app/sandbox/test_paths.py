"""Which files hold tests, by the usual conventions of the runners (pure)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import PurePosixPath

from app.sandbox.selection import split_id

_TEST_PATH = re.compile(
    r"""(
        (^|/)tests?/                      # a tests/ or test/ directory
      | (^|/)__tests__/
      | (^|/)conftest\.py$
      | (^|/)tests\.py$                  # unittest, Django's apps
      | (^|/)test_[^/]*\.py$ | _test\.py$ # pytest
      | _test\.go$                        # go
      | \.(test|spec)\.[cm]?[jt]sx?$      # jest, vitest
      | Test\.php$                        # phpunit
    )""",
    re.VERBOSE,
)


def is_test_path(path: str) -> bool:
    """True for a file that holds tests by the usual conventions of the runners above."""
    return bool(_TEST_PATH.search(path.replace("\\", "/")))


def files_of_test_ids(test_ids: Iterable[str]) -> list[str]:
    """The files named in `path::name` test ids (pytest, jest, vitest, phpunit)."""
    files = []
    for test_id in test_ids:
        path, _ = split_id(test_id)
        path = path.split("[", 1)[0]
        if PurePosixPath(path).suffix:
            files.append(path)
    return list(dict.fromkeys(files))
