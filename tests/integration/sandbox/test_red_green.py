"""Red → green proof on a tiny repository, in the real sandbox."""

from __future__ import annotations

import os
from pathlib import Path

from app.sandbox import Runner, TestCommand, Verdict, prove_red_green
from tests.integration.sandbox.repos import policy, write_repo

OLD_TESTS = """
    from calc import add

    def test_zero():
        assert add(0, 0) == 0
"""
NEW_TESTS = (
    OLD_TESTS
    + """
    def test_add():
        assert add(2, 3) == 5
"""
)


async def test_new_test_is_red_before_and_green_after(tmp_path: Path) -> None:
    base = write_repo(
        tmp_path / "base",
        {
            "pyproject.toml": "[tool.pytest.ini_options]\n",
            "calc.py": "def add(a, b):\n    return a - b\n",  # the bug
            "tests/test_calc.py": OLD_TESTS,
        },
    )
    changed = write_repo(
        tmp_path / "changed",
        {
            "pyproject.toml": "[tool.pytest.ini_options]\n",
            "calc.py": "def add(a, b):\n    return a + b\n",
            "tests/test_calc.py": NEW_TESTS,
        },
    )
    before = {p: p.read_bytes() for p in changed.rglob("*") if p.is_file()}
    command = TestCommand(Runner.PYTEST, ("python", "-m", "pytest", "-q", "-p", "no:cacheprovider"))

    result = await prove_red_green(
        base,
        changed,
        ["tests/test_calc.py::test_add", "tests/test_calc.py::test_zero"],
        command,
        policy=policy(),
    )

    add, zero = result.proofs
    assert result.test_files == ("tests/test_calc.py",)  # the new test file, laid over base
    assert add.verdict is Verdict.PROVEN, add
    assert add.red is not None and add.red.exit_code == 1
    assert "assert -1 == 5" in add.red.output.text
    assert add.green is not None and add.green.passed
    assert zero.verdict is Verdict.PASSES_ON_BASE
    assert "proves nothing" in zero.explanation
    assert not result.proven
    report = result.to_markdown()
    assert "| `tests/test_calc.py::test_add` | proven | exit 1 | exit 0 |" in report
    assert "| `tests/test_calc.py::test_zero` | passes_on_base | exit 0 | exit 0 |" in report
    # the checkouts are left as they were: the runs happened in scratch copies
    assert {p: p.read_bytes() for p in changed.rglob("*") if p.is_file()} == before
    assert not (base / "tests" / "test_calc.py").read_text().count("test_add")
    assert os.stat(changed).st_uid == os.getuid()


async def test_a_change_that_does_not_fix_it(tmp_path: Path) -> None:
    files = {"calc.py": "def add(a, b):\n    return a - b\n", "tests/test_calc.py": NEW_TESTS}
    base = write_repo(tmp_path / "base", files)
    changed = write_repo(tmp_path / "changed", files)
    command = TestCommand(Runner.PYTEST, ("python", "-m", "pytest", "-q", "-p", "no:cacheprovider"))
    result = await prove_red_green(
        base, changed, ["tests/test_calc.py::test_add"], command, policy=policy()
    )
    assert result.proofs[0].verdict is Verdict.FAILS_ON_CHANGE
