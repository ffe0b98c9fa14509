"""One rule of which files hold tests, for the code map and the sandbox alike."""

from __future__ import annotations

import pytest

from app.codemap.discover import SkipRules
from app.test_paths import is_test_path


@pytest.mark.parametrize(
    "path",
    [
        "tests/test_a.py",
        "test_a.py",
        "pkg/a_test.py",
        "conftest.py",
        "calc/add_test.go",
        "src/a.test.ts",
        "src/b.spec.jsx",
        "src/__tests__/c.js",
        "tests/Unit/CalcTest.php",
        "test/helpers.rb",
        "testing/python/raises.py",
        "spec/models/user_spec.rb",
        "tests/queries/tests.py",
        "src/test/java/com/acme/CalcTest.java",  # Maven's and Gradle's layout
        "module\\tests\\test_b.py",
    ],
)
def test_test_files(path: str) -> None:
    assert is_test_path(path)
    assert SkipRules(skip_tests=True).skips_path(path.replace("\\", "/"))


@pytest.mark.parametrize(
    "path",
    [
        "app/calc.py",
        "src/testing.py",
        "src/contest.js",
        "src/Tester.php",
        "django/test/utils.py",  # Django's test framework is its source
        "src/_pytest/pytester.py",
        "lib/testimony.rb",
        "src/main/java/com/acme/Calc.java",
    ],
)
def test_source_files(path: str) -> None:
    assert not is_test_path(path)
