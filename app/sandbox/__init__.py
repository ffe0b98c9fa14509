"""Running untrusted repository code (tests) in isolation.

How the workflow uses it::

    status = probe_sandbox()  # once at worker start; log status.detail
    command = resolve_test_command(checkout, repo_config_test_command)  # None: no tests
    policy = SandboxPolicy(python_env=Path(sys.prefix))  # the worker's Python, read-only
    policy = prepared.apply(policy)  # dependencies the prepare phase installed (app/prepare)
    run = await run_tests(checkout, command, policy=policy,
                          allow_unsandboxed=settings.sandbox_allow_unsandboxed)
    proof = await prove_red_green(base_checkout, checkout, new_test_ids, command,
                                  policy=policy, ...)
    check_run_text = proof.to_markdown()

Without a working sandbox both raise `SandboxUnavailable` (its message says what to
install) unless unsandboxed runs are allowed. Every command runs on a copy of the tree
made for it, without `.git`, and deleted afterwards; only results come back. Modules:
detection (which command a checkout uses), test_commands (a command and its runner),
selection (single tests), test_paths (which files are tests), outcomes (what output
says beyond pass or fail), regressions, isolation (policy, bwrap argv, limits),
seccomp, identity (a uid per run), cgroups (memory, processes, CPU of a command as a
whole), disk (a sized scratch area), report (which isolation is in force), probe,
workcopy (the run's copy of the tree), execution (one sandboxed command), proof (test
runs and red → green), network (the sandbox's own loopback, and the prepare phase's
way to the egress proxy).
"""

from app.sandbox.detection import (
    RepoFacts,
    detect_test_command,
    detect_test_commands,
    read_repo_facts,
    resolve_test_command,
)
from app.sandbox.execution import (
    CapturedOutput,
    LimitHit,
    OutputCapture,
    SandboxResult,
    run_sandboxed,
)
from app.sandbox.identity import NoFreeUid
from app.sandbox.isolation import SandboxLimits, SandboxPolicy
from app.sandbox.outcomes import (
    OutsideCause,
    environment_error,
    nothing_ran,
    outside_cause,
    per_test_outcomes,
    report_flags,
)
from app.sandbox.probe import (
    SandboxStatus,
    SandboxUnavailable,
    probe_python,
    probe_sandbox,
    require_sandbox,
)
from app.sandbox.proof import (
    RedGreenResult,
    TestProof,
    TestRun,
    Verdict,
    changed_test_files,
    judge,
    output_excerpt,
    prove_red_green,
    run_tests,
)
from app.sandbox.selection import dotted_label, select_tests
from app.sandbox.test_commands import (
    Runner,
    SelectionUnsupported,
    TestCommand,
    command_from_config,
    parse_select_template,
    version_argv,
)
from app.sandbox.test_paths import files_of_test_ids
from app.test_paths import is_test_path

__all__ = [
    "CapturedOutput",
    "LimitHit",
    "NoFreeUid",
    "OutputCapture",
    "OutsideCause",
    "RedGreenResult",
    "RepoFacts",
    "Runner",
    "SandboxLimits",
    "SandboxPolicy",
    "SandboxResult",
    "SandboxStatus",
    "SandboxUnavailable",
    "SelectionUnsupported",
    "TestCommand",
    "TestProof",
    "TestRun",
    "Verdict",
    "changed_test_files",
    "command_from_config",
    "detect_test_command",
    "detect_test_commands",
    "dotted_label",
    "environment_error",
    "files_of_test_ids",
    "is_test_path",
    "judge",
    "nothing_ran",
    "output_excerpt",
    "outside_cause",
    "parse_select_template",
    "per_test_outcomes",
    "probe_python",
    "probe_sandbox",
    "prove_red_green",
    "read_repo_facts",
    "report_flags",
    "require_sandbox",
    "resolve_test_command",
    "run_sandboxed",
    "run_tests",
    "select_tests",
    "version_argv",
]
