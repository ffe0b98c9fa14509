"""Django's runners and unittest with dotted labels, `test_select:` templates, and the
layouts detection now covers (pure)."""

from __future__ import annotations

import pytest

from app.repo_config import RepoConfigError, parse_repo_config
from app.sandbox import (
    RepoFacts,
    Runner,
    SelectionUnsupported,
    command_from_config,
    detect_test_command,
    dotted_label,
    select_tests,
)


@pytest.mark.parametrize(
    ("test_id", "root", "label"),
    [
        (
            "tests/admin_views/tests.py::AdminViewTests::test_x",
            "tests",
            "admin_views.tests.AdminViewTests.test_x",
        ),
        (
            "admin_views.tests.AdminViewTests.test_x",
            "tests",
            "admin_views.tests.AdminViewTests.test_x",
        ),
        ("tests/utils_tests/test_text.py", "tests", "utils_tests.test_text"),
        ("shop/tests.py::CartTests::test_total", ".", "shop.tests.CartTests.test_total"),
        ("tests/test_calc.py::CalcTest::test_add", ".", "tests.test_calc.CalcTest.test_add"),
    ],
)
def test_test_ids_become_dotted_labels(test_id: str, root: str, label: str) -> None:
    assert dotted_label(test_id, root) == label


@pytest.mark.parametrize(
    ("test_id", "root"),
    [("shop/tests.py::CartTests", "tests"), ("a.b c", "."), ("x;rm -rf /", "."), ("1abc", ".")],
)
def test_what_is_not_a_label_is_refused(test_id: str, root: str) -> None:
    with pytest.raises(ValueError):
        dotted_label(test_id, root)


def test_django_and_unittest_select_dotted_labels() -> None:
    runtests = command_from_config("python tests/runtests.py --parallel 1")
    assert select_tests(runtests, ["tests/basic/tests.py::ModelTests::test_x"]) == (
        "python", "tests/runtests.py", "--parallel", "1", "basic.tests.ModelTests.test_x",
    )  # fmt: skip
    manage = command_from_config("python manage.py test")
    assert select_tests(manage, ["shop/tests.py::CartTests::test_total"])[-1] == (
        "shop.tests.CartTests.test_total"
    )
    unittest = command_from_config("PYTHONPATH=src python -m unittest")
    assert select_tests(unittest, ["tests/test_a.py::A::test_b", "tests.test_c"]) == (
        "env", "PYTHONPATH=src", "python", "-m", "unittest",
        "tests.test_a.A.test_b", "tests.test_c",
    )  # fmt: skip


def test_a_template_selects_tests_for_any_runner() -> None:
    command = command_from_config("make test", "make test TESTS={tests}")
    assert select_tests(command, ["a::x", "b::y"]) == ("make", "test", "TESTS=a::x b::y")
    words = command_from_config("./run-tests", "./run-tests --only {tests}")
    # each id one argv word, never interpreted by a shell
    assert select_tests(words, ["x; rm -rf /", "y"]) == (
        "./run-tests",
        "--only",
        "x; rm -rf /",
        "y",
    )
    with pytest.raises(SelectionUnsupported, match="test_select"):
        select_tests(command_from_config("make test"), ["a"])


@pytest.mark.parametrize(
    ("template", "why"),
    [
        ("make test", "placeholder"),
        ("{tests} --fast", "start with a program"),
        ("make test TESTS={tests} && echo done", "shell syntax"),
        ("run 'unclosed {tests}", "cannot be read"),
    ],
)
def test_a_bad_template_is_refused_when_the_file_is_read(template: str, why: str) -> None:
    with pytest.raises(RepoConfigError, match=why):
        parse_repo_config(f'test: make test\ntest_select: "{template}"\n')


def test_test_select_needs_a_test_command() -> None:
    with pytest.raises(RepoConfigError, match="test_select"):
        parse_repo_config("test_select: make test TESTS={tests}\n")
    config = parse_repo_config("test: make check\ntest_select: make check T={tests}\n")
    assert config.test_select == "make check T={tests}"


def test_django_layouts_are_detected() -> None:
    django = detect_test_command(
        RepoFacts(names=frozenset({"django", "tests", "setup.py"}), django_runtests=True)
    )
    assert django is not None and django.runner is Runner.DJANGO
    assert django.argv[-2:] == ("python", "tests/runtests.py")
    project = detect_test_command(RepoFacts(names=frozenset({"manage.py", "shop"})))
    assert project is not None and project.argv == ("python", "manage.py", "test")
    # a Django project that configures pytest keeps pytest
    with_pytest = detect_test_command(RepoFacts(names=frozenset({"manage.py", "pytest.ini"})))
    assert with_pytest is not None and with_pytest.runner is Runner.PYTEST


def test_top_level_test_files_are_detected() -> None:
    found = detect_test_command(RepoFacts(names=frozenset({"calc.py", "test_calc.py"})))
    assert found is not None and found.runner is Runner.PYTEST
    assert found.reason == "test_*.py at the top level"
    assert detect_test_command(RepoFacts(names=frozenset({"calc.py", "README.md"}))) is None
