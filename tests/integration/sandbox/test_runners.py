"""Red → green in the real sandbox with the runners beyond pytest: top-level test files
(detected), `python -m unittest` with pytest-shaped ids, and a runner AgentOps does not
know, selected through `.agentops.yml`'s `test_select:` template."""

from __future__ import annotations

from pathlib import Path

from app.repo_config import parse_repo_config
from app.sandbox import Runner, Verdict, prove_red_green, resolve_test_command
from tests.integration.sandbox.repos import policy, write_repo

CALC = "def add(a, b):\n    return a - b\n"  # the bug
FIXED = "def add(a, b):\n    return a + b\n"
UNITTEST_CASE = """
import unittest

from calc import add


class AddTests(unittest.TestCase):
    def test_add(self):
        self.assertEqual(add(2, 3), 5)
"""
# a home-made runner: the labels it is given, or every test_*.py
RUN_TESTS = """
import sys
import unittest

labels = sys.argv[1:]
loader = unittest.defaultTestLoader
suite = loader.loadTestsFromNames(labels) if labels else loader.discover(".")
result = unittest.TextTestRunner(verbosity=2).run(suite)
sys.exit(0 if result.wasSuccessful() and result.testsRun else 1)
"""


async def _prove(tmp_path: Path, files: dict[str, str], test_id: str, config: str = "") -> Verdict:
    base = write_repo(tmp_path / "base", {**files, "calc.py": CALC})
    changed = write_repo(tmp_path / "changed", {**files, "calc.py": FIXED})
    repo_config = parse_repo_config(config)
    command = resolve_test_command(changed, repo_config.test, repo_config.test_select)
    assert command is not None
    result = await prove_red_green(
        base, changed, [test_id], command, test_files=[], policy=policy()
    )
    [proof] = result.proofs
    return proof.verdict


async def test_top_level_test_files_are_found_and_proven(tmp_path: Path) -> None:
    files = {"test_calc.py": "from calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n"}
    command = resolve_test_command(write_repo(tmp_path / "probe", files))
    assert command is not None and command.runner is Runner.PYTEST
    assert await _prove(tmp_path, files, "test_calc.py::test_add") is Verdict.PROVEN


async def test_unittest_takes_pytest_shaped_ids(tmp_path: Path) -> None:
    files = {"tests/__init__.py": "", "tests/test_calc.py": UNITTEST_CASE}
    verdict = await _prove(
        tmp_path,
        files,
        "tests/test_calc.py::AddTests::test_add",
        "test: python -m unittest\n",
    )
    assert verdict is Verdict.PROVEN


async def test_a_template_selects_tests_of_an_unknown_runner(tmp_path: Path) -> None:
    files = {"run_tests.py": RUN_TESTS, "test_calc.py": UNITTEST_CASE}
    config = "test: python run_tests.py\ntest_select: python run_tests.py {tests}\n"
    assert await _prove(tmp_path, files, "test_calc.AddTests.test_add", config) is (Verdict.PROVEN)
    # without the template, single tests cannot be chosen, and the proof says how to fix it
    base = write_repo(tmp_path / "plain", {**files, "calc.py": CALC})
    command = resolve_test_command(base, "python run_tests.py")
    assert command is not None and command.runner is Runner.CUSTOM
    result = await prove_red_green(
        base, base, ["test_calc.AddTests.test_add"], command, test_files=[], policy=policy()
    )
    assert result.proofs[0].verdict is Verdict.NOT_RUN
    assert "test_select" in result.proofs[0].explanation
