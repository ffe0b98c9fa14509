"""In the real sandbox: a runner that is not there, tests that need the network, and
regressions of existing tests (in the touched file, and in the whole suite)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from app.sandbox import (
    Runner,
    TestCommand,
    Verdict,
    command_from_config,
    prove_red_green,
    version_argv,
)
from app.sandbox.regressions import WHOLE_SUITE, BaseRuns, check_regressions, count_test_files
from app.workflow.context import RunRefused
from app.workflow.pr_test_bench import TestBench
from tests.integration.sandbox.repos import policy, write_repo

COMMAND = TestCommand(Runner.PYTEST, ("python", "-m", "pytest", "-q", "-p", "no:cacheprovider"))
CONFIG = "[tool.pytest.ini_options]\npythonpath = ['.']\n"
CALC = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
CALC_TESTS = """
from calc import add, sub

def test_add():
    assert add(2, 3) == 5

def test_sub():
    assert sub(3, 2) == 1
"""
OTHER_TESTS = """
from calc import sub

def test_sub_negative():
    assert sub(2, 3) == -1
"""
MUL_TEST = """

def test_mul():
    from calc import mul
    assert mul(2, 3) == 6
"""


def repos(tmp_path: Path, calc: str) -> tuple[Path, Path]:
    files = {"pyproject.toml": CONFIG, "calc.py": CALC, "tests/test_calc.py": CALC_TESTS}
    base = write_repo(tmp_path / "base", {**files, "tests/test_other.py": OTHER_TESTS})
    changed = write_repo(
        tmp_path / "changed",
        {
            **files,
            "tests/test_other.py": OTHER_TESTS,
            "calc.py": calc + "\n\ndef mul(a, b):\n    return a * b\n",
            "tests/test_calc.py": CALC_TESTS + MUL_TEST,
        },
    )
    return base, changed


async def test_a_missing_runner_is_an_environment_error(tmp_path: Path) -> None:
    bare = tmp_path / "bare-python"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    base, changed = repos(tmp_path, CALC)
    no_pytest = replace(policy(), python_env=bare)
    result = await prove_red_green(
        base, changed, ["tests/test_calc.py::test_mul"], COMMAND, policy=no_pytest
    )
    [proof] = result.proofs
    assert proof.verdict is Verdict.ENVIRONMENT
    assert result.environment_error is not None
    assert "No module named pytest" in result.environment_error


async def test_a_test_that_needs_the_network_is_unprovable_with_evidence(tmp_path: Path) -> None:
    fetch = "\n\ndef test_fetch():\n    import socket\n    socket.getaddrinfo('pypi.org', 443)\n"
    base = write_repo(tmp_path / "base", {"pyproject.toml": CONFIG, "tests/test_a.py": "\n"})
    changed = write_repo(tmp_path / "changed", {"pyproject.toml": CONFIG, "tests/test_a.py": fetch})
    result = await prove_red_green(
        base, changed, ["tests/test_a.py::test_fetch"], COMMAND, policy=policy()
    )
    [proof] = result.proofs
    assert proof.verdict is Verdict.UNPROVABLE, proof.explanation
    assert "needs the network" in proof.explanation
    assert "gaierror" in proof.explanation  # the evidence, from the test's own output
    assert result.unprovable and not result.proven


async def test_a_broken_test_of_the_touched_file_is_a_regression(tmp_path: Path) -> None:
    broken = CALC.replace("return a - b", "return b - a")
    base, changed = repos(tmp_path, broken)
    proof = await prove_red_green(
        base, changed, ["tests/test_calc.py::test_mul"], COMMAND, policy=policy()
    )
    assert proof.proven  # the new test alone is proven: only the regression check sees more
    base_runs = BaseRuns()
    check = await check_regressions(
        base,
        changed,
        COMMAND,
        proof.test_files,
        policy=policy(),
        suite_seconds=0,
        base_runs=base_runs,
    )
    assert check.checked == ("tests/test_calc.py",)
    assert [r.test for r in check.regressions] == ["tests/test_calc.py::test_sub"]
    assert "assert" in check.regressions[0].output
    assert "1 test(s) passed before the change and fail with it" in check.to_markdown()

    # with the whole suite, the other file's test is caught too; the base runs are reused
    runs_before = dict(base_runs.results)
    suite = await check_regressions(
        base,
        changed,
        COMMAND,
        proof.test_files,
        policy=policy(),
        suite_seconds=60,
        base_runs=base_runs,
    )
    assert suite.checked == ("tests/test_calc.py", WHOLE_SUITE)
    assert sorted(r.test for r in suite.regressions) == [
        "tests/test_calc.py::test_sub",
        "tests/test_other.py::test_sub_negative",
    ]
    assert set(runs_before) < set(base_runs.results)  # one new base run: the suite's


async def test_a_change_that_breaks_nothing_has_no_regressions(tmp_path: Path) -> None:
    base, changed = repos(tmp_path, CALC)
    check = await check_regressions(
        base,
        changed,
        COMMAND,
        ["tests/test_calc.py"],
        policy=policy(),
        suite_seconds=60,
        base_runs=BaseRuns(),
    )
    assert check.checked == ("tests/test_calc.py", WHOLE_SUITE)
    assert check.regressions == ()
    assert "every test that passed before the change still passes" in check.to_markdown()


async def test_a_suite_over_its_budget_is_left_out_and_said_so(tmp_path: Path) -> None:
    slow = "\n\ndef test_slow():\n    import time\n    time.sleep(30)\n"
    base, changed = repos(tmp_path, CALC)
    for root in (base, changed):
        (root / "tests" / "test_slow.py").write_text(slow)
    check = await check_regressions(
        base,
        changed,
        COMMAND,
        ["tests/test_calc.py"],
        policy=policy(),
        suite_seconds=3,
        base_runs=BaseRuns(),
    )
    assert check.checked == ("tests/test_calc.py",)
    assert "the whole suite takes longer than 3 s on the original code" in check.to_markdown()


def test_test_files_are_counted_up_to_the_limit(tmp_path: Path) -> None:
    files = {f"tests/test_{n}.py": "\n" for n in range(5)}
    files |= {"src/app.py": "\n", "node_modules/x/a.test.js": "\n", "pkg/tests.py": "\n"}
    root = write_repo(tmp_path / "repo", files)
    assert count_test_files(root) == 6  # node_modules is not the repository's
    assert count_test_files(root, stop_at=3) == 3


async def test_a_dependency_the_code_imports_but_nothing_installed_stops_the_proof(
    tmp_path: Path,
) -> None:
    files = {
        "pyproject.toml": CONFIG,
        "app.py": "import no_such_dependency_here\n\n\ndef double(x):\n    return 2 * x\n",
    }
    new_test = "from app import double\n\ndef test_double():\n    assert double(2) == 4\n"
    base = write_repo(tmp_path / "base", files)
    changed = write_repo(tmp_path / "changed", {**files, "tests/test_app.py": new_test})
    result = await prove_red_green(
        base, changed, ["tests/test_app.py::test_double"], COMMAND, policy=policy()
    )
    assert result.proofs[0].verdict is Verdict.ENVIRONMENT
    assert result.environment_error is not None
    assert "`app.py` imports `no_such_dependency_here`" in result.environment_error


async def test_a_module_the_change_forgot_is_the_models_to_fix(tmp_path: Path) -> None:
    new_test = "from shapes import area\n\ndef test_area():\n    assert area(2) == 4\n"
    base = write_repo(tmp_path / "base", {"pyproject.toml": CONFIG})
    changed = write_repo(
        tmp_path / "changed", {"pyproject.toml": CONFIG, "tests/test_shapes.py": new_test}
    )
    result = await prove_red_green(
        base, changed, ["tests/test_shapes.py::test_area"], COMMAND, policy=policy()
    )
    assert result.proofs[0].verdict is Verdict.FAILS_ON_CHANGE


async def test_a_missing_runner_is_found_before_any_model_call(tmp_path: Path) -> None:
    bare = tmp_path / "bare-python"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    repo = write_repo(tmp_path / "repo", {"pyproject.toml": CONFIG, "calc.py": CALC})
    bench = TestBench(repo, COMMAND, replace(policy(), python_env=bare), False)
    with pytest.raises(RunRefused, match="No module named pytest"):
        await bench.check_runner()
    await TestBench(repo, COMMAND, policy(), False).check_runner()  # pytest is there: nothing
    assert version_argv(command_from_config("go test ./...")) == ("go", "version")
    assert version_argv(command_from_config("make test")) is None


async def test_an_importer_named_by_the_output_is_only_looked_for_in_the_tree(
    tmp_path: Path,
) -> None:
    # the test prints a traceback that names a host file as the importer
    forged = (
        "def test_forged():\n"
        "    print('  File \"/workspace//etc/hostname\", line 1')\n"
        "    print(\"ModuleNotFoundError: No module named 'absent_dependency'\")\n"
        "    assert False\n"
    )
    base = write_repo(tmp_path / "base", {"pyproject.toml": CONFIG})
    changed = write_repo(
        tmp_path / "changed", {"pyproject.toml": CONFIG, "tests/test_f.py": forged}
    )
    command = TestCommand(Runner.PYTEST, (*COMMAND.argv, "-s"))
    result = await prove_red_green(
        base, changed, ["tests/test_f.py::test_forged"], command, policy=policy()
    )
    assert result.proofs[0].verdict is Verdict.FAILS_ON_CHANGE
