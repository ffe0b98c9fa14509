"""The two lists: source files to change, and the tests that exercise them, with reasons."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.codemap.index import build_index
from app.codemap.locate import Locator
from app.codemap.tests_for import RelatedTest, is_source_path, locate_split
from app.test_paths import is_test_path


def tree(root: Path, files: dict[str, str]) -> Locator:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return Locator(build_index(root))


def by_path(tests: list[RelatedTest]) -> dict[str, RelatedTest]:
    return {t.path: t for t in tests}


PY_TREE = {
    "pkg/__init__.py": "",
    "pkg/invoice.py": (
        "def total_with_tax(lines, rate):\n"
        "    return sum(lines) * (1 + rate)\n\n\n"
        "def rounded_total(lines, rate):\n"
        "    return round(total_with_tax(lines, rate), 2)\n"
    ),
    "pkg/shipping.py": "def shipping_cost(weight):\n    return weight * 2\n",
    "pkg/tests/__init__.py": "",
    "pkg/tests/test_invoice.py": (
        "from pkg.invoice import total_with_tax\n\n\n"
        "def test_tax_is_added():\n    assert total_with_tax([10], 0.5) == 15\n"
    ),
    "tests/test_billing.py": (
        "from pkg import invoice\n\n\n"
        "def test_rounding():\n    assert invoice.rounded_total([1], 0.333) == 1.33\n"
    ),
    "tests/test_shipping.py": (
        "from pkg.shipping import shipping_cost\n\n\n"
        "def test_weight():\n    assert shipping_cost(2) == 4\n"
    ),
    "other/tests/test_invoice.py": "def test_unrelated_invoice_format():\n    assert True\n",
    "tests/helpers.py": "from pkg.invoice import total_with_tax\n\nTAX = total_with_tax([1], 1)\n",
}
TAX_ISSUE = "Tax is added twice by total_with_tax\n\ntotal_with_tax doubles the tax rate."


def test_tests_are_not_files_to_change_and_come_in_their_own_list(tmp_path: Path) -> None:
    locator = tree(tmp_path, PY_TREE)
    files, tests = locate_split(locator, TAX_ISSUE, k=5, tests_k=5)
    assert files[0].path == "pkg/invoice.py"
    assert all(is_source_path(f.path) for f in files)
    assert tests[0].path == "pkg/tests/test_invoice.py"
    assert all(is_test_path(t.path) for t in tests)
    assert "pkg/tests/__init__.py" not in by_path(tests)
    assert "tests/helpers.py" not in by_path(tests)  # imports the file but holds no tests
    # without the split, the test file that repeats the issue's words outranks the source
    together = [r.path for r in locator.locate(TAX_ISSUE, k=5)]
    assert "pkg/tests/test_invoice.py" in together


def test_each_test_says_how_it_exercises_the_files(tmp_path: Path) -> None:
    locator = tree(tmp_path, PY_TREE)
    _files, tests = locate_split(locator, TAX_ISSUE, k=5, tests_k=5)
    found = by_path(tests)
    mirrored = found["pkg/tests/test_invoice.py"].reasons
    assert "named after invoice.py, same folder" in mirrored
    assert "imports invoice.py" in mirrored
    assert any(r.startswith("uses total_with_tax") for r in mirrored)
    # imports the package and calls a function of the module: found by the name it uses
    assert any(r.startswith("uses rounded_total") for r in found["tests/test_billing.py"].reasons)


def test_a_test_that_only_shares_a_name_ranks_below_those_that_use_the_file(
    tmp_path: Path,
) -> None:
    locator = tree(tmp_path, PY_TREE)
    _files, tests = locate_split(locator, TAX_ISSUE, k=5, tests_k=10)
    order = [t.path for t in tests]
    namesake = by_path(tests)["other/tests/test_invoice.py"]
    assert namesake.reasons[0] == "named after invoice.py"
    assert order.index("other/tests/test_invoice.py") > order.index("pkg/tests/test_invoice.py")
    assert order.index("other/tests/test_invoice.py") > order.index("tests/test_billing.py")


@pytest.mark.parametrize(
    ("source", "test"),
    [
        ("lib/cart.js", "lib/cart.test.js"),
        ("src/cart.ts", "src/__tests__/cart.spec.ts"),
        ("src/Cart.php", "tests/Unit/CartTest.php"),
        ("cart/cart.go", "cart/cart_test.go"),
        ("src/shop/cart.py", "tests/shop/test_cart.py"),
        ("shop/cart.py", "shop/cart_test.py"),
    ],
)
def test_naming_conventions_of_each_language(tmp_path: Path, source: str, test: str) -> None:
    locator = tree(
        tmp_path,
        {
            source: "// the cart\n",
            test: "// checks\n",
            "lib/other_test.go": "// nothing to do with it\n",
        },
    )
    ranked = locator.locate("the cart", k=1, include=is_source_path)
    assert [r.path for r in ranked] == [source]
    _files, tests = locate_split(locator, "the cart", k=1)
    assert [t.path for t in tests] == [test]
    assert tests[0].reasons[0].startswith(f"named after {source.rsplit('/', 1)[1]}")


def test_no_tests_in_the_tree_gives_an_empty_list(tmp_path: Path) -> None:
    locator = tree(tmp_path, {"pkg/invoice.py": PY_TREE["pkg/invoice.py"]})
    files, tests = locate_split(locator, TAX_ISSUE)
    assert [f.path for f in files] == ["pkg/invoice.py"]
    assert tests == []


@pytest.mark.parametrize(
    "path",
    ["tests/queries/tests.py", "tests/Unit/CartTest.php", "src/CartTest.php", "app/tests.py"],
)
def test_django_and_phpunit_test_files_are_tests(path: str) -> None:
    assert is_test_path(path)
    assert not is_source_path(path)


@pytest.mark.parametrize("path", ["src/Latest.php", "app/contest.py", "pkg/testing_utils.py"])
def test_names_that_only_contain_test_are_source(path: str) -> None:
    assert is_source_path(path)


def test_a_test_named_after_the_class_the_issue_names(tmp_path: Path) -> None:
    locator = tree(
        tmp_path,
        {
            "db/fields/__init__.py": (
                "class DurationField:\n    def to_python(self, value):\n        return value\n\n\n"
                "class CharField:\n    def to_python(self, value):\n        return str(value)\n"
            ),
            "tests/model_fields/test_durationfield.py": "def test_parse():\n    pass\n",
            "tests/model_fields/test_charfield.py": "def test_parse():\n    pass\n",
        },
    )
    issue = "DurationField.to_python rejects '1:00'\n\nDurationField should accept it."
    files, tests = locate_split(locator, issue)
    assert files[0].path == "db/fields/__init__.py"
    assert tests[0].path == "tests/model_fields/test_durationfield.py"
    assert "named after DurationField" in tests[0].reasons
    assert "tests/model_fields/test_charfield.py" not in by_path(tests)
