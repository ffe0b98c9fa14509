"""Which files hold tests: one rule for the code map (what `locate` ranks as source and
what as tests) and the sandbox (which changed files are the new tests of a red → green
proof), so that both say the same of every path (pure).

The usual conventions of the runners: `tests/`, `testing/`, `__tests__/`, `spec(s)/`
directories anywhere; `test/` at the top and Maven's and Gradle's `src/test/`, not any
`test/` (Django's `django/test/` is source); `test_*`, `*_test(s)`, `*_spec(s)`,
`*.test.*`, `*.spec.*`, `conftest.py`, Django apps' `tests.py`, PHPUnit's `*Test.php`.
"""

from __future__ import annotations

import re

_TEST_PATH = re.compile(
    r"(^|/)(tests|testing|__tests__|specs?)/|^test/|(^|/)src/test/"
    r"|(^|/)(test_[^/]*|[^/]*_(test|spec)s?\.\w+|conftest\.py|[^/]*\.(test|spec)\.\w+)$"
    r"|(^|/)tests\.py$|[a-z0-9]Tests?\.php$"
)


def is_test_path(path: str) -> bool:
    """Whether a repository path (`/`-separated; `\\` is read as `/`) is a test file."""
    return _TEST_PATH.search(path.replace("\\", "/")) is not None
