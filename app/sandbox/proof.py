"""Running a repository's tests, and red → green proof that new tests test the change.

No sandboxed command ever runs on the worker's checkout. `run_tests` copies the working
tree (without `.git`, links as links: app/sandbox/workcopy.py), runs the test command on
that copy in the sandbox, with no network, and deletes the copy: only the exit code and
output come back, never files. A repository's dependencies are installed once per run by
the prepare phase (app/prepare), whose output reaches the tests read-only through the
policy's binds; without it, Python tests run with the interpreter and packages of
`SandboxPolicy.python_env` (read-only).

`prove_red_green` runs every selected test twice: on the original code with the
change's test files laid over it ("red": it must fail) and on the changed code ("green":
it must pass). Both run in their own copies (made the same way, deleted afterwards),
and nothing git-related ever runs on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path

from app import repo_files
from app.sandbox.execution import SandboxResult, run_sandboxed
from app.sandbox.isolation import SandboxPolicy
from app.sandbox.outcomes import (
    environment_error,
    missing_module,
    nothing_ran,
    outside_cause,
    suite_unloadable,
)
from app.sandbox.selection import select_tests
from app.sandbox.test_commands import Runner, SelectionUnsupported, TestCommand
from app.sandbox.test_paths import files_of_test_ids
from app.sandbox.workcopy import copy_tree, remove_tree, work_copy
from app.test_paths import is_test_path

SKIP_DIRS = frozenset({".git", "node_modules", "vendor", "target", ".venv", "__pycache__"})


@dataclass(frozen=True)
class TestRun:
    __test__ = False

    command: tuple[str, ...]
    tests: SandboxResult

    @property
    def passed(self) -> bool:
        return self.tests.passed


async def run_tests(
    checkout: Path,
    command: TestCommand | Sequence[str],
    *,
    policy: SandboxPolicy | None = None,
    allow_unsandboxed: bool = False,
) -> TestRun:
    """The test command in the sandbox, with no network, on a copy of `checkout` that is
    deleted afterwards; `checkout` is only read."""
    policy = _offline(policy or SandboxPolicy())
    argv = command.argv if isinstance(command, TestCommand) else tuple(command)
    async with work_copy(checkout, policy.scratch_root) as copy:
        tests = await run_sandboxed(argv, copy, policy, allow_unsandboxed=allow_unsandboxed)
    return TestRun(tuple(argv), tests)


def _offline(policy: SandboxPolicy) -> SandboxPolicy:
    """Tests never get a way out, whatever policy they were handed."""
    return replace(policy, egress=None) if policy.egress is not None else policy


# --- red → green --------------------------------------------------------------------------


class Verdict(StrEnum):
    PROVEN = "proven"  # fails on the original code, passes on the change
    PASSES_ON_BASE = "passes_on_base"  # passes without the change: proves nothing
    FAILS_ON_CHANGE = "fails_on_change"  # the change does not make it pass
    NOT_RUN = "not_run"  # not found or not selectable
    ENVIRONMENT = "environment"  # the test runner itself is missing from the sandbox
    UNPROVABLE = "unprovable"  # needs the network, a service or a display: not the change


@dataclass(frozen=True)
class TestProof:
    __test__ = False

    test_id: str
    verdict: Verdict
    explanation: str
    red: SandboxResult | None  # on the original code (with the new test files)
    green: SandboxResult | None  # on the changed code


@dataclass(frozen=True)
class RedGreenResult:
    proofs: tuple[TestProof, ...]
    test_files: tuple[str, ...]  # files laid over the original code for the red runs

    @property
    def proven(self) -> bool:
        """True when there is at least one test and every test is proven."""
        return bool(self.proofs) and all(p.verdict is Verdict.PROVEN for p in self.proofs)

    @property
    def environment_error(self) -> str | None:
        """Why the tests cannot run at all in this sandbox (no model can fix it), or None."""
        broken = [p for p in self.proofs if p.verdict is Verdict.ENVIRONMENT]
        return broken[0].explanation if broken else None

    @property
    def unprovable(self) -> bool:
        """Every test is proven or cannot be proven here for a reason outside the change,
        and at least one is the latter."""
        verdicts = {p.verdict for p in self.proofs}
        return Verdict.UNPROVABLE in verdicts and verdicts <= {Verdict.PROVEN, Verdict.UNPROVABLE}

    def to_markdown(self, excerpt_chars: int = 1500) -> str:
        """A table and output excerpts for the check run and the pull request."""
        lines = ["| test | verdict | before the change | after the change |", "|---|---|---|---|"]
        for p in self.proofs:
            red = p.red.summary() if p.red else "-"
            green = p.green.summary() if p.green else "-"
            test_id = p.test_id.replace("|", "\\|")
            lines.append(f"| `{test_id}` | {p.verdict.value} | {red} | {green} |")
        for p in self.proofs:
            lines += ["", f"**{p.test_id}**: {p.explanation}"]
            for label, result in (("before", p.red), ("after", p.green)):
                if result is not None:
                    lines += [
                        f"<details><summary>output {label}</summary>",
                        "",
                        "```",
                        output_excerpt(result, excerpt_chars).replace("```", "'''"),
                        "```",
                        "</details>",
                    ]
        return "\n".join(lines)


def output_excerpt(result: SandboxResult, limit: int = 1500) -> str:
    """The end of the output, where runners print failures and their summary."""
    text = result.output.text
    return text if len(text) <= limit else "…" + text[-limit:]


def judge(runner: Runner, test_id: str, red: SandboxResult, green: SandboxResult) -> TestProof:
    """The verdict for one test from its two runs (pure)."""
    for result in (green, red):
        if (missing := environment_error(result)) is not None:
            why = f"the test runner cannot start in the sandbox: {missing}"
            return TestProof(test_id, Verdict.ENVIRONMENT, why, red, green)
    broken = suite_unloadable(green)
    if broken is not None and suite_unloadable(red) is not None:
        # on the original code too: the installed dependencies, not the change
        why = f"the test suite cannot load in the sandbox, with or without the change: {broken}"
        return TestProof(test_id, Verdict.ENVIRONMENT, why, red, green)
    if nothing_ran(runner, green):
        return TestProof(test_id, Verdict.NOT_RUN, "not found on the changed code", red, green)
    if not green.passed and (cause := outside_cause(green)) is not None:
        why = f"cannot pass in the sandbox whatever the change: it {cause.describe()}"
        return TestProof(test_id, Verdict.UNPROVABLE, why, red, green)
    if not green.passed:
        why = green.summary()
        return TestProof(
            test_id, Verdict.FAILS_ON_CHANGE, f"fails on the change ({why})", red, green
        )
    if red.passed:
        return TestProof(
            test_id,
            Verdict.PASSES_ON_BASE,
            "passes without the change too, so it proves nothing about it",
            red,
            green,
        )
    if nothing_ran(runner, red):
        return TestProof(test_id, Verdict.NOT_RUN, "not found on the original code", red, green)
    return TestProof(
        test_id,
        Verdict.PROVEN,
        f"fails without the change ({red.summary()}) and passes with it",
        red,
        green,
    )


def changed_test_files(base: Path, changed: Path) -> list[str]:
    """Test files (by `is_test_path`) that are new or different in `changed`, read through
    the safe reader: a link, or a file under one, is never a test file here."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(changed):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            rel = (Path(dirpath) / name).relative_to(changed).as_posix()
            if not is_test_path(rel):
                continue
            data = _regular_file(changed, rel)
            if data is not None and data != _regular_file(base, rel):
                found.append(rel)
    return found


def _regular_file(root: Path, rel: str) -> bytes | None:
    """root/rel's bytes when it is a regular file reached without a link, else None."""
    try:
        return repo_files.read_bytes(root, rel)
    except (repo_files.RepositoryFileRefused, OSError):
        return None


def _lay_over(root: Path, rel: str, data: bytes) -> None:
    """Write root/rel (a copy the sandbox will use) without following a link on the way."""
    *parents, name = repo_files.path_parts(rel)
    with repo_files.open_directory(root, parents, create=True) as fd:
        assert fd is not None
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
            os.unlink(name, dir_fd=fd)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        with os.fdopen(os.open(name, flags, 0o644, dir_fd=fd), "wb") as handle:
            handle.write(data)


def _prepare_copies(
    base: Path,
    changed: Path,
    test_files: Sequence[str] | None,
    test_ids: Sequence[str],
    scratch_root: Path | None,
) -> tuple[Path, Path, Path, list[str]]:
    if test_files is None:
        files = list(
            dict.fromkeys([*changed_test_files(base, changed), *files_of_test_ids(test_ids)])
        )
    else:
        files = list(test_files)
    work = Path(tempfile.mkdtemp(prefix="agentops-redgreen-", dir=scratch_root))
    red, green = work / "base", work / "changed"
    copy_tree(base, red)
    copy_tree(changed, green)
    moved: list[str] = []
    for rel in files:
        data = _regular_file(changed, rel)
        if data is None:
            continue  # deleted by the change, not a regular file, or behind a link
        try:
            _lay_over(red, rel, data)
        except (repo_files.RepositoryFileRefused, OSError):
            continue  # the original code has a link or a file on the way
        moved.append(rel)
    return work, red, green, moved


async def prove_red_green(
    base_checkout: Path,
    changed_checkout: Path,
    test_ids: Sequence[str],
    command: TestCommand,
    *,
    test_files: Sequence[str] | None = None,
    policy: SandboxPolicy | None = None,
    allow_unsandboxed: bool = False,
) -> RedGreenResult:
    """Each test must fail on the original code and pass on the change.

    `test_files` are laid over a copy of the original code for the red runs; by default
    the test files the change adds or edits, plus the files named in `test_ids`.
    """
    policy = _offline(policy or SandboxPolicy())
    work, red_dir, green_dir, moved = await asyncio.to_thread(
        _prepare_copies,
        base_checkout,
        changed_checkout,
        test_files,
        test_ids,
        policy.scratch_root,
    )
    try:
        return await _prove(
            red_dir,
            green_dir,
            test_ids,
            command,
            tuple(moved),
            policy,
            allow_unsandboxed,
        )
    finally:
        await asyncio.shield(asyncio.to_thread(remove_tree, work))


async def _prove(
    red_dir: Path,
    green_dir: Path,
    test_ids: Sequence[str],
    command: TestCommand,
    moved: tuple[str, ...],
    policy: SandboxPolicy,
    allow_unsandboxed: bool,
) -> RedGreenResult:
    def not_run(why: str) -> RedGreenResult:
        proofs = tuple(TestProof(t, Verdict.NOT_RUN, why, None, None) for t in test_ids)
        return RedGreenResult(proofs, moved)

    try:
        selections = [select_tests(command, [test_id]) for test_id in test_ids]
    except SelectionUnsupported as exc:
        return not_run(str(exc))
    proofs = []
    for test_id, argv in zip(test_ids, selections, strict=True):
        red = await run_sandboxed(argv, red_dir, policy, allow_unsandboxed=allow_unsandboxed)
        green = await run_sandboxed(argv, green_dir, policy, allow_unsandboxed=allow_unsandboxed)
        proof = judge(command.runner, test_id, red, green)
        if proof.verdict is Verdict.FAILS_ON_CHANGE:
            proof = _missing_dependency(proof, red_dir, moved) or proof
        proofs.append(proof)
    return RedGreenResult(tuple(proofs), moved)


def _missing_dependency(proof: TestProof, base: Path, moved: tuple[str, ...]) -> TestProof | None:
    """Both runs stop where the original code imports a package the repository does not
    hold: a dependency the prepare phase did not install, which no change can fix (a
    new test importing what the change forgot to add is the model's to fix)."""
    assert proof.red is not None and proof.green is not None
    missing = missing_module(proof.green)
    if missing is None or missing != missing_module(proof.red) or missing.importer is None:
        return None
    if missing.importer in moved or _regular_file(base, missing.importer) is None:
        # imported by a test of the change, or by no file of the original code (the path
        # comes from the tests' output: read through the safe reader, never off the tree)
        return None
    name = missing.name
    if any(os.path.lexists(base / c) for c in (name, f"{name}.py", f"src/{name}")):
        return None
    why = (
        f"a dependency is missing: `{missing.importer}` imports `{name}`, which is not "
        "installed (declare it where the prepare phase reads dependencies, or use `setup:`)"
    )
    return replace(proof, verdict=Verdict.ENVIRONMENT, explanation=why)
