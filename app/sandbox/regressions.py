"""Does a change break tests that passed before it? (the proof's other half)

Red → green proves the change's *new* tests; this compares the *existing* ones. The test
files the change touched, and the whole suite when its run on the original code fits a
time budget, run on the original code and on the change (each on a copy, in the
sandbox, with no network: `run_tests`). A test that passed on the original code and fails
on the change is a regression. Runners that name each test's outcome (pytest `-rA`,
`go test -v`) are compared test by test; the others file by file (or suite by suite).

The original code's runs do not change while the model works: `BaseRuns` keeps them for
the whole run, so a second `finish` pays only for the change's side.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from app import repo_files
from app.sandbox.execution import SandboxResult
from app.sandbox.isolation import SandboxPolicy
from app.sandbox.outcomes import nothing_ran, outside_cause, per_test_outcomes, report_flags
from app.sandbox.proof import SKIP_DIRS, output_excerpt, run_tests
from app.sandbox.selection import select_tests
from app.sandbox.test_commands import Runner, SelectionUnsupported, TestCommand
from app.test_paths import is_test_path

WHOLE_SUITE = "the whole suite"


@dataclass(frozen=True)
class Regression:
    test: str  # a test id, a test file, or WHOLE_SUITE
    output: str  # the end of the change's run


@dataclass(frozen=True)
class RegressionCheck:
    checked: tuple[str, ...]  # test files compared, and WHOLE_SUITE when it was
    regressions: tuple[Regression, ...]
    notes: tuple[str, ...] = ()  # what was not compared, and why

    def to_markdown(self) -> str:
        if not self.checked:
            lines = ["**Regressions**: no existing test file was touched; none compared."]
        else:
            names = ", ".join(f"`{c}`" if c != WHOLE_SUITE else c for c in self.checked)
            found = len(self.regressions)
            verdict = (
                "none: every test that passed before the change still passes"
                if not found
                else f"{found} test(s) passed before the change and fail with it"
            )
            lines = [f"**Regressions** ({names}): {verdict}."]
        for regression in self.regressions:
            lines += [
                "",
                f"- `{regression.test}`",
                "",
                "```",
                regression.output.replace("```", "'''"),
                "```",
            ]
        lines += [f"- {note}" for note in self.notes]
        return "\n".join(lines)


@dataclass
class BaseRuns:
    """The original code's results by argv, for the life of one run."""

    results: dict[tuple[str, ...], SandboxResult] = field(default_factory=dict)


async def check_regressions(
    base: Path,
    changed: Path,
    command: TestCommand,
    test_files: Sequence[str],
    *,
    policy: SandboxPolicy,
    suite_seconds: float,
    base_runs: BaseRuns,
    allow_unsandboxed: bool = False,
    suite_note: str = "",
) -> RegressionCheck:
    """Compare the tests of `test_files` that exist on `base` (and the whole suite, when
    `suite_seconds` > 0 and its run on `base` ends within them) on `base` and `changed`;
    `suite_note` says why the suite is left out when the caller left it out."""
    checked: list[str] = []
    regressions: list[Regression] = []
    notes: list[str] = [suite_note] if suite_note else []

    async def run(root: Path, argv: tuple[str, ...], run_policy: SandboxPolicy) -> SandboxResult:
        done = await run_tests(root, argv, policy=run_policy, allow_unsandboxed=allow_unsandboxed)
        return done.tests

    for test_file in test_files:
        if not _regular(base, test_file):
            continue  # a new file: its tests are the proof's, not regressions
        argv = _file_argv(command, test_file)
        if argv is None:
            notes.append(f"`{command.display()}` cannot run one file: `{test_file}` not compared")
            continue
        if argv not in base_runs.results:
            base_runs.results[argv] = await run(base, argv, policy)
        after = await run(changed, argv, policy)
        checked.append(test_file)
        regressions += _compare(command.runner, test_file, base_runs.results[argv], after)

    if suite_seconds > 0:
        argv = (*command.argv, *report_flags(command.runner))
        budget = min(suite_seconds, policy.limits.wall_seconds)
        timed = replace(policy, limits=replace(policy.limits, wall_seconds=budget))
        if argv not in base_runs.results:
            base_runs.results[argv] = await run(base, argv, timed)
        before = base_runs.results[argv]
        if before.timed_out:
            notes.append(
                f"the whole suite takes longer than {budget:g} s on the original code: "
                "only the touched test files were compared"
            )
        else:
            # twice the budget: a change that makes the suite hang is a regression too
            slower = replace(policy, limits=replace(policy.limits, wall_seconds=2 * budget))
            after = await run(changed, argv, slower)
            checked.append(WHOLE_SUITE)
            found = _compare(command.runner, WHOLE_SUITE, before, after)
            regressions += [r for r in found if r.test not in {x.test for x in regressions}]
    return RegressionCheck(tuple(checked), tuple(regressions), tuple(notes))


SUITE_MAX_TEST_FILES = 300  # larger suites are left out unless the repository asks


def count_test_files(root: Path, stop_at: int = SUITE_MAX_TEST_FILES + 1) -> int:
    """How many test files the tree holds (by `is_test_path`), counting up to `stop_at`."""
    count = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        rel = Path(dirpath).relative_to(root).as_posix()
        for name in filenames:
            count += is_test_path(name if rel == "." else f"{rel}/{name}")
            if count >= stop_at:
                return count
    return count


def _regular(root: Path, rel: str) -> bool:
    try:
        repo_files.read_bytes(root, rel)
    except (repo_files.RepositoryFileRefused, OSError):
        return False
    return True


def _file_argv(command: TestCommand, test_file: str) -> tuple[str, ...] | None:
    """The command for every test of one file, with the runner's per-test report."""
    flags = report_flags(command.runner)
    if command.runner is Runner.GO:
        package = PurePosixPath(test_file).parent.as_posix()
        prefix = command.argv[: command.argv.index("go")] if "go" in command.argv else ()
        return (*prefix, "go", "test", "./" + package if package != "." else ".", *flags)
    try:
        return (*select_tests(command, [test_file]), *flags)
    except (SelectionUnsupported, ValueError):
        return None


def _compare(
    runner: Runner, name: str, before: SandboxResult, after: SandboxResult
) -> list[Regression]:
    excerpt = output_excerpt(after, 1200)
    old = per_test_outcomes(runner, before.output.text)
    new = per_test_outcomes(runner, after.output.text)
    if old and new is not None:  # test by test: the change's new tests are not in `old`
        passed = [t for t, ok in old.items() if ok]
        broken = [t for t in passed if new.get(t) is False]
        if broken:
            return [Regression(t, excerpt) for t in broken]
        if not after.passed and any(t not in new for t in passed):
            # the runner crashed or hung before it reported tests that used to pass
            return [Regression(name, excerpt)]
        return []
    # no single test named: the file (or the suite) as a whole, unless what fails is a
    # test that needs what the sandbox lacks (an unprovable new test fails there too)
    failed = before.passed and not after.passed and not nothing_ran(runner, after)
    if failed and outside_cause(after) is None:
        return [Regression(name, excerpt)]
    return []
