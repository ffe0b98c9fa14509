"""A pull request's tests, run in the sandbox on the run's checkout (`TestBench`): the
model's `run_tests` tool, and the check that the tests it names when it finishes pass
there (on a pull request no test has to fail first).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.config import Settings
from app.git_export import DEFAULT_TREE_LIMITS, TreeLimits
from app.repo_config import REPO_CONFIG_FILE, RepoConfig
from app.sandbox import (
    SandboxPolicy,
    SelectionUnsupported,
    TestCommand,
    TestRun,
    environment_error,
    nothing_ran,
    output_excerpt,
    resolve_test_command,
    run_tests,
    select_tests,
    version_argv,
)
from app.workflow import workspace
from app.workflow.context import RunContext, RunRefused, refuse
from app.workflow.dependencies import install_dependencies
from app.workflow.sandbox_policy import policy_for_tests


def environment_refusal(command: TestCommand, why: str) -> RunRefused:
    """The run stops: the tests cannot run in the sandbox, and no change can fix that."""
    return RunRefused(
        f"The tests cannot run in the sandbox (`{command.display()}`): {why}. "
        f"That is not something the change can fix: set `test:` (and `setup:` when the "
        f"runner or a dependency must be installed) in {REPO_CONFIG_FILE}, or ask the "
        "operator to provide the toolchain."
    )


@dataclass(frozen=True)
class TestBench:
    """The repository's test command bound to the checkout and the sandbox (with the
    dependencies the prepare phase installed)."""

    __test__ = False

    root: Path
    command: TestCommand
    policy: SandboxPolicy
    allow_unsandboxed: bool
    tree_limits: TreeLimits = DEFAULT_TREE_LIMITS  # of the original code's copy (`base_copy`)

    def _argv(self, test_ids: Sequence[str]) -> tuple[str, ...]:
        if not test_ids:
            return self.command.argv
        try:
            return select_tests(self.command, list(test_ids))
        except SelectionUnsupported:
            return self.command.argv

    async def _run(self, argv: Sequence[str]) -> TestRun:
        """The tests in the sandbox; a runner that cannot start stops the run."""
        done = await run_tests(
            self.root,
            argv,
            policy=self.policy,
            allow_unsandboxed=self.allow_unsandboxed,
        )
        if (missing := environment_error(done.tests)) is not None:
            raise environment_refusal(self.command, f"the test runner cannot start: {missing}")
        return done

    async def check_runner(self) -> None:
        """Stop the run now, before any model call, when the test runner cannot start."""
        if (argv := version_argv(self.command)) is None:
            return
        done = await self._run(argv)
        if not done.passed:  # whatever it says: a runner that cannot print its version
            last = (done.tests.output.text.strip().splitlines() or ["no output"])[-1]
            raise environment_refusal(
                self.command,
                f"the test runner cannot start: `{' '.join(argv)}` failed "
                f"({done.tests.summary()}): {last[:300]}",
            )

    async def run(self, test_ids: Sequence[str]) -> tuple[bool, str]:
        """The model's `run_tests` tool: every test, or only `test_ids`."""
        try:
            argv = self._argv(test_ids)
        except ValueError as exc:
            return False, str(exc)
        done = await self._run(argv)
        return done.passed, done.tests.with_limits_note(done.tests.output.text[-6000:])

    async def check_passing(self, test_ids: Sequence[str]) -> tuple[bool, str]:
        """The named tests, run on the checkout as it is: all must run and pass."""
        if not test_ids:
            return False, "No test was named: name the tests that cover the change."
        try:
            argv = self._argv(test_ids)
        except ValueError as exc:
            return False, f"Not a test id this runner can select: {exc}"
        done = await self._run(argv)
        shown = " ".join(argv)
        if nothing_ran(self.command.runner, done.tests):
            return False, f"`{shown}` ran no test: check the test ids."
        verdict = "pass" if done.passed else "FAIL"
        if argv == self.command.argv:
            verdict += " (this runner cannot run single tests: the whole suite ran)"
        excerpt = output_excerpt(done.tests).replace("```", "'''")
        return done.passed, (
            f"`{shown}`: the named tests {verdict} on the checked-out head "
            f"({done.tests.summary()}).\n\n<details><summary>output</summary>\n\n"
            f"```\n{excerpt}\n```\n</details>"
        )


async def open_test_bench(ctx: RunContext, root: Path, config: RepoConfig) -> TestBench:
    command = resolve_test_command(root, config.test, config.test_select)
    if command is None:
        await refuse(
            ctx,
            "no-test-command",
            (
                "AgentOps found no test command for this repository: set `test:` in "
                f"{REPO_CONFIG_FILE} (for example `test: pytest -q`) so it can run the tests."
            ),
        )
    scratch = workspace.run_folder(ctx.deps.settings.workdir, ctx.run.id) / "scratch"
    policy = await policy_for_tests(ctx.deps.settings, config, scratch)
    prepared = await install_dependencies(ctx, root, config, policy)
    return await ready_bench(root, command, prepared.apply(policy), ctx.deps.settings)


async def ready_bench(
    root: Path, command: TestCommand, policy: SandboxPolicy, settings: Settings
) -> TestBench:
    """The bench under the operator's sandbox settings, its runner checked to start."""
    bench = TestBench(
        root, command, policy, settings.sandbox_allow_unsandboxed, settings.tree_limits
    )
    await bench.check_runner()
    return bench
