"""Running untrusted repository code (tests) in isolation; see isolation.py for guarantees."""

from app.sandbox.detection import (
    RepoFacts,
    Runner,
    SelectionUnsupported,
    TestCommand,
    command_from_config,
    detect_test_command,
    detect_test_commands,
    files_of_test_ids,
    is_test_path,
    read_repo_facts,
    select_tests,
)
from app.sandbox.execution import (
    CapturedOutput,
    LimitHit,
    OutputCapture,
    SandboxResult,
    run_sandboxed,
)
from app.sandbox.isolation import (
    SandboxLimits,
    SandboxPolicy,
    SandboxStatus,
    SandboxUnavailable,
    probe_sandbox,
    require_sandbox,
)

__all__ = [
    "CapturedOutput",
    "LimitHit",
    "OutputCapture",
    "RepoFacts",
    "Runner",
    "SandboxLimits",
    "SandboxPolicy",
    "SandboxResult",
    "SandboxStatus",
    "SandboxUnavailable",
    "SelectionUnsupported",
    "TestCommand",
    "command_from_config",
    "detect_test_command",
    "detect_test_commands",
    "files_of_test_ids",
    "is_test_path",
    "probe_sandbox",
    "read_repo_facts",
    "require_sandbox",
    "run_sandboxed",
    "select_tests",
]
