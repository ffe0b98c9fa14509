"""Running a small repository's tests in the real sandbox: pass, fail, setup, refusal."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from app.sandbox import (
    SandboxUnavailable,
    command_from_config,
    detect_test_command,
    probe_sandbox,
    read_repo_facts,
    run_sandboxed,
    run_tests,
    select_tests,
)
from tests.integration.sandbox.repos import PYTEST, policy, write_repo

CALC = {
    "pyproject.toml": "[tool.pytest.ini_options]\n",
    "calc.py": "def add(a, b):\n    return a + b\n",
}


async def test_passing_repository(tmp_path: Path) -> None:
    repo = write_repo(
        tmp_path / "repo",
        {
            **CALC,
            "tests/test_calc.py": """
            from calc import add

            def test_add():
                assert add(2, 3) == 5
        """,
        },
    )
    command = detect_test_command(read_repo_facts(repo))
    assert command is not None and command.argv == ("python", "-m", "pytest")
    run = await run_tests(repo, command, policy=policy())
    assert run.tests is not None
    assert run.passed, run.tests.output.text
    assert run.tests.sandboxed
    assert "1 passed" in run.tests.output.text
    owner = os.stat(repo)
    assert (owner.st_uid, owner.st_gid) == (os.getuid(), os.getgid())  # lent and given back


async def test_a_src_layout_runs_with_the_variables_its_command_sets(tmp_path: Path) -> None:
    """`PYTHONPATH=src python -m pytest` as a person writes it (it used to exit 127: the
    assignment was taken for a program), with one test selected as the model would."""
    repo = write_repo(
        tmp_path / "repo",
        {
            "src/shapes/__init__.py": "def area(w, h):\n    return w * h\n",
            "tests/test_shapes.py": """
            from shapes import area

            def test_area():
                assert area(2, 3) == 6

            def test_other():
                assert False
        """,
        },
    )
    command = command_from_config("PYTHONPATH=src python -m pytest -q -p no:cacheprovider")
    run = await run_tests(
        repo, select_tests(command, ["tests/test_shapes.py::test_area"]), policy=policy()
    )
    assert run.tests is not None
    assert run.passed, run.tests.output.text
    assert "1 passed" in run.tests.output.text


async def test_failing_repository(tmp_path: Path) -> None:
    repo = write_repo(
        tmp_path / "repo",
        {
            **CALC,
            "tests/test_calc.py": """
            from calc import add

            def test_add():
                assert add(2, 2) == 5
        """,
        },
    )
    result = await run_sandboxed(PYTEST, repo, policy())
    assert result.exit_code == 1
    assert not result.passed
    assert "assert 4 == 5" in result.output.text
    assert result.summary() == "exit 1"


async def test_tests_have_no_network_even_when_handed_an_egress_policy(tmp_path: Path) -> None:
    repo = write_repo(
        tmp_path / "repo",
        {
            "tests/test_net.py": """
            import os, socket

            def test_offline():
                assert "HTTPS_PROXY" not in os.environ
                socket.create_connection(("1.1.1.1", 443), 3)
            """,
        },
    )
    egress = tmp_path / "egress"
    egress.mkdir()
    run = await run_tests(repo, PYTEST, policy=replace(policy(), egress=egress))
    assert not run.passed
    assert "Network is unreachable" in run.tests.output.text, run.tests.output.text
    assert run.tests.network == "none"


async def test_refuses_without_a_sandbox_unless_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = write_repo(tmp_path / "repo", {"ok.sh": "echo unsandboxed-ran\n"})
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no bwrap on PATH
    probe_sandbox.cache_clear()
    try:
        with pytest.raises(SandboxUnavailable) as refused:
            await run_sandboxed(["/bin/sh", "ok.sh"], repo, policy())
        assert "apt-get install bubblewrap" in str(refused.value)
        assert "AGENTOPS_SANDBOX_ALLOW_UNSANDBOXED" in str(refused.value)

        result = await run_sandboxed(["/bin/sh", "ok.sh"], repo, policy(), allow_unsandboxed=True)
        assert result.passed
        assert not result.sandboxed
        assert "NOT sandboxed" in result.summary()
        assert "unsandboxed-ran" in result.output.text
    finally:
        probe_sandbox.cache_clear()


async def test_a_broken_bwrap_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "bin" / "bwrap"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    probe_sandbox.cache_clear()
    try:
        status = probe_sandbox()
        assert not status.available
        assert "No permissions to create new namespace" in status.detail
    finally:
        probe_sandbox.cache_clear()


async def test_cancelling_a_run_kills_it_and_gives_the_checkout_back(tmp_path: Path) -> None:
    import asyncio
    import dataclasses
    import random
    import subprocess

    # a duration no other run on the machine uses, so that only this run's processes count
    hang = f"sleep {300_000 + random.randrange(100_000)}"
    repo = write_repo(tmp_path / "repo", {"hang.sh": f"{hang} & {hang}\n"})
    scratch_root = tmp_path / "scratch"
    scratch_root.mkdir()
    run_policy = dataclasses.replace(policy(), scratch_root=scratch_root)
    task = asyncio.create_task(run_sandboxed(["sh", "hang.sh"], repo, run_policy))
    await asyncio.sleep(1.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert os.stat(repo).st_uid == os.getuid()
    assert os.stat(repo / "hang.sh").st_uid == os.getuid()
    assert list(scratch_root.iterdir()) == []
    await asyncio.sleep(0.5)
    table = subprocess.run(
        ["ps", "-eo", "uid=,cmd="], capture_output=True, text=True, check=False
    ).stdout
    leftover = [
        line
        for line in table.splitlines()
        if hang in line and int(line.split()[0]) >= 2_100_000_000
    ]
    assert leftover == []


async def test_each_run_has_a_uid_of_its_own(tmp_path: Path) -> None:
    import asyncio

    if os.geteuid() != 0:
        pytest.skip("uids are leased only when the service is root")
    repo = write_repo(tmp_path / "repo", {"who.sh": "id -u; sleep 0.5\n"})
    first, second = await asyncio.gather(
        run_sandboxed(["sh", "who.sh"], repo, policy()),
        run_sandboxed(["sh", "who.sh"], repo, policy()),
    )
    assert first.run_as is not None and second.run_as is not None
    assert first.run_as != second.run_as
    assert first.output.text.strip() == str(first.run_as)
    assert second.output.text.strip() == str(second.run_as)


async def test_a_failed_probe_is_asked_again_and_a_good_one_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing probe (here a bwrap that cannot make namespaces, as on a host under a
    passing fault) refused every run of the worker until it restarted. It is asked again
    once its retry time has passed; a working sandbox is not probed again."""
    fake = tmp_path / "bin" / "bwrap"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\necho 'bwrap: out of namespaces' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:/usr/bin:/bin")
    monkeypatch.setattr(probe_sandbox, "retry_seconds", 0.5)
    probe_sandbox.cache_clear()
    try:
        assert not probe_sandbox().available
        fake.unlink()  # the fault passed: the real bwrap (/usr/bin) is found from now on
        assert not probe_sandbox().available  # within the retry time: the same answer
        time.sleep(0.6)
        assert probe_sandbox().available
        fake.write_text("#!/bin/sh\nexit 1\n")
        fake.chmod(0o755)
        time.sleep(0.6)
        assert probe_sandbox().available  # a good answer holds
    finally:
        probe_sandbox.cache_clear()
