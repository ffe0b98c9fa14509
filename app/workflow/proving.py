"""What `implement` asks of a change before it is delivered, when the model calls `finish`:
its new tests fail on the original code and pass on the change (red → green), and the
tests that passed before it still pass (no regressions; `fix` on a pull request asks the
second half, after its named tests pass). What is not met goes back to the
model; what no change can fix stops the run or the delivery:

- the test runner cannot start in the sandbox: the run stops, saying what to set;
- the new tests need the network, a service or a display: the change is *unproven*, and
  the operator's `AGENTOPS_UNPROVEN_DELIVERY` decides whether it is delivered as a draft
  marked so or not at all (app/workflow/implement.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.repo_config import REPO_CONFIG_FILE, RepoConfig
from app.sandbox import Verdict, is_test_path, prove_red_green
from app.sandbox.regressions import (
    SUITE_MAX_TEST_FILES,
    BaseRuns,
    RegressionCheck,
    check_regressions,
    count_test_files,
)
from app.step_records import Changed
from app.workflow import workspace
from app.workflow.context import RunRefused
from app.workflow.pr_test_bench import TestBench, environment_refusal

DEFAULT_SUITE_SECONDS = 300.0
UNPROVEN_RULE = "Every new test must fail on the original code and pass with your change."
REGRESSION_RULE = (
    "Your change breaks tests that passed before it. Make them pass again; if the issue "
    "asks for a different behaviour, update those tests to it and say so in `finish`."
)


@dataclass
class ChangeProof:
    """The verifier of one `implement` loop, and what it found when it accepted."""

    folder: Path
    root: Path
    base_sha: str
    bench: TestBench
    config: RepoConfig
    unproven: str = ""  # accepted without proof: why (for the delivery)
    base_runs: BaseRuns = field(default_factory=BaseRuns)
    test_files: int | None = None  # in the original code, counted once
    edited: list[str] = field(default_factory=list)  # the edit tool's files (pull requests)

    async def verify(self, test_ids: list[str]) -> tuple[bool, str]:
        if not test_ids:
            return False, "No test was named: name the tests you added in `finish`."
        bench = self.bench
        base = await workspace.base_copy(
            self.folder, self.root, self.base_sha, self.bench.tree_limits
        )
        proof = await prove_red_green(
            base,
            self.root,
            test_ids,
            bench.command,
            policy=bench.policy,
            allow_unsandboxed=bench.allow_unsandboxed,
        )
        if (broken := proof.environment_error) is not None:
            raise environment_refusal(bench.command, broken)
        if not (proof.proven or proof.unprovable):
            return False, f"{UNPROVEN_RULE}\n\n{proof.to_markdown()}"
        regressions = await self.regressions(proof.test_files)
        report = f"{proof.to_markdown()}\n\n{regressions.to_markdown()}"
        if regressions.regressions:
            return False, f"{REGRESSION_RULE}\n\n{report}"
        self.unproven = (
            "; ".join(
                f"`{p.test_id}`: {p.explanation}"
                for p in proof.proofs
                if p.verdict is Verdict.UNPROVABLE
            )
            if proof.unprovable
            else ""
        )
        return True, report

    async def regressions(self, test_files: Sequence[str]) -> RegressionCheck:
        """The tests of `test_files` (and the suite) on the original code and the change."""
        base = await workspace.base_copy(
            self.folder, self.root, self.base_sha, self.bench.tree_limits
        )
        suite_seconds, suite_note = await self._suite_budget(base)
        return await check_regressions(
            base,
            self.root,
            self.bench.command,
            test_files,
            policy=self.bench.policy,
            suite_seconds=suite_seconds,
            base_runs=self.base_runs,
            allow_unsandboxed=self.bench.allow_unsandboxed,
            suite_note=suite_note,
        )

    async def passing_without_regressions(self, test_ids: list[str]) -> tuple[bool, str]:
        """On a pull request (`fix`): the named tests pass on the change, and nothing that
        passed on the pull request's head fails with it."""
        passed, report = await self.bench.check_passing(test_ids)
        if not passed:
            return False, report
        touched = [path for path in self.edited if is_test_path(path)]
        found = await self.regressions(touched)
        text = f"{report}\n\n{found.to_markdown()}"
        return (False, f"{REGRESSION_RULE}\n\n{text}") if found.regressions else (True, text)

    async def _suite_budget(self, base: Path) -> tuple[float, str]:
        """`limits.suite_check_seconds` when the repository sets it; else the default for a
        suite of at most SUITE_MAX_TEST_FILES test files, and none for a larger one."""
        asked = self.config.limits.suite_check_seconds
        if asked is not None:
            return float(asked), ""
        if self.test_files is None:
            self.test_files = await asyncio.to_thread(count_test_files, base)
        if self.test_files > SUITE_MAX_TEST_FILES:
            return 0.0, (
                f"the whole suite was left out: more than {SUITE_MAX_TEST_FILES} test files "
                f"(`limits.suite_check_seconds` in {REPO_CONFIG_FILE} runs it within that time)"
            )
        return DEFAULT_SUITE_SECONDS, ""


def not_delivered(implemented: Changed) -> RunRefused:
    """An unproven change, when the operator does not deliver such changes."""
    return RunRefused(
        "The change was made but is not delivered: its new tests cannot be proven in the "
        f"sandbox ({implemented.unproven}). The operator delivers such changes as drafts "
        "marked unproven with `AGENTOPS_UNPROVEN_DELIVERY=draft`.\n\n"
        f"{implemented.verification}"
    )
