"""The text people read about a failed run: what failed and what to do, and nothing of the
provider's or forge's answer, the exception, the service's files or its settings."""

from __future__ import annotations

import asyncio
import re

import pytest

from app.forges.base import ForgeAccessError, ForgeRateLimited, ForgeTransientError
from app.forges.github.errors import forge_error_from_status
from app.git import GitError, GitTimeout, PushRejected
from app.llm.errors import (
    AllModelsFailed,
    BudgetExhausted,
    ContextTooLong,
    ProviderConfigError,
    StructuredOutputError,
)
from app.llm.types import Attempt
from app.redaction import install_log_redaction
from app.sandbox import SandboxUnavailable
from app.sandbox.workcopy import TreeTooLarge
from app.workflow.failures import RunRefused, failure_record, public_failure

KEY = "sk-ant-api03-Vh3kQ9zLm2Xr7PwT5nB8cY1dF6gJ4sA0eU-iO3rW7tQ9yP2sA5dF8gH1jK4lM7nB0vC3x"
OPENAI_BODY = (
    '{"error": {"message": "Incorrect API key provided: sk-proj-****************wxyz. You '
    'can find your API key at https://platform.openai.com/account/api-keys.", "type": '
    '"invalid_request_error", "code": "invalid_api_key"}}'
)
GITLAB_403 = '{"message":"403 Forbidden - You are not allowed to push into this branch"}'
STDERR = (
    "remote: error: GH006: Protected branch update failed for refs/heads/main.\n"
    "fatal: unable to access '/tmp/agentops/runs/41/checkout/.git/': secret path"
)

FAILURES: list[tuple[BaseException, str, tuple[str, ...]]] = [
    (
        ProviderConfigError(
            f"anthropic:claude-sonnet: the provider refused the credentials (401): "
            f"invalid x-api-key {KEY[:20]}…{KEY[-4:]}; check AGENTOPS_ANTHROPIC_API_KEY"
        ),
        "model_provider",
        ("retry", "operator"),
    ),
    (
        AllModelsFailed(
            "coder",
            (
                Attempt("openai:gpt-4.1", "auth", detail=OPENAI_BODY),
                Attempt("anthropic:claude", "server", detail="500 Internal Server Error"),
            ),
        ),
        "model_provider",
        ("retry", "operator"),
    ),
    (
        ContextTooLong("coder", (Attempt("anthropic:claude", "context_length"),)),
        "model_provider",
        ("Narrow the issue",),
    ),
    (StructuredOutputError(f"could not parse {OPENAI_BODY}"), "model_provider", ("retry",)),
    (
        BudgetExhausted("run", 2.0, 1.99, 0.5, "raise AGENTOPS_BUDGET_RUN_USD"),
        "budget",
        ("budgets: run_usd:", "retry"),
    ),
    (
        BudgetExhausted("monthly tenant", 50, 50, 1, "raise AGENTOPS_BUDGET_TENANT_MONTH_USD"),
        "budget",
        ("operator", "next month"),
    ),
    (
        ForgeAccessError(
            "GitLab rejected the AgentOps token while creating a note (401 Unauthorized). "
            "Check that AGENTOPS_GITLAB_TOKEN is valid, not expired, and has the api scope."
        ),
        "forge",
        ("maintainer", "operator", "retry"),
    ),
    (
        forge_error_from_status(
            422, f"Validation Failed: {GITLAB_403}", {}, "open a pull request", "o/r"
        ),
        "forge",
        ("still exist", "retry"),
    ),
    (
        ForgeTransientError(f"GitHub failed to comment (HTTP 502): <html>{STDERR}</html>"),
        "forge",
        ("retry",),
    ),
    (ForgeRateLimited("GitHub rate limit; retry in 60 s", 60), "forge", ("retry",)),
    (PushRejected(f"git push failed: {STDERR}", stderr=STDERR), "git", ("protection", "retry")),
    (GitTimeout("git clone timed out after 600 s in /tmp/agentops/runs/41"), "git", ("retry",)),
    (GitError(f"git fetch failed: {STDERR}"), "git", ("retry", "operator")),
    (
        SandboxUnavailable("bwrap: setting up uid map: Permission denied; set AGENTOPS_SANDBOX"),
        "sandbox",
        ("operator", "agentops doctor"),
    ),
    (
        TreeTooLarge("does not fit in the run's scratch area (/tmp/agentops/run-41/scratch)"),
        "sandbox",
        ("larger than", "disk limit", "operator"),
    ),
    (
        KeyError(f"/work/app/workflow/implement.py {KEY}"),
        "internal",
        ("retry", "operator", "run 41"),
    ),
]

# What public text must never contain: bodies, exception names, paths, setting names, keys.
FORBIDDEN = re.compile(
    r"AGENTOPS_|[A-Z]\w*(?:Error|Exception)\b|Traceback|/tmp|/work|\.py\b|"
    r"(?i:x-api-key|sk-|wxyz|Incorrect API key|GH006|Forbidden|Validation Failed|<html>|"
    r"HTTP 50|api_key|api scope|bwrap|uid map|gpt-4|claude|permission denied)"
)


@pytest.mark.parametrize(("exc", "kind", "advice"), FAILURES, ids=lambda v: type(v).__name__)
def test_public_text_says_what_failed_and_what_to_do_and_nothing_else(
    exc: BaseException, kind: str, advice: tuple[str, ...]
) -> None:
    failure = public_failure(exc, "github", 41)
    assert failure.kind == kind
    assert FORBIDDEN.search(failure.text) is None, failure.text
    assert failure.what_to_do, failure
    for words in advice:
        assert words in failure.text, (words, failure.text)
    for i in range(len(KEY) - 8):
        assert KEY[i : i + 8] not in failure.text


def test_a_stopped_job_is_not_called_an_internal_error() -> None:
    failure = public_failure(asyncio.CancelledError())
    assert failure.kind == "stopped" and "retry" in failure.text


def test_forge_names_the_forge_of_the_run() -> None:
    exc = ForgeTransientError("GitLab failed while creating a note (502): bad gateway")
    assert public_failure(exc, "gitlab").what_failed.startswith("GitLab kept failing")
    assert public_failure(exc, "github").what_failed.startswith("GitHub kept failing")


def test_run_refused_messages_written_for_people_are_kept() -> None:
    message = "No test command: set `test:` in .agentops.yml on the default branch."
    failure = public_failure(RunRefused(message, detail="git stderr here"))
    assert (failure.kind, failure.text) == ("refused", message)


def test_a_refusal_quoting_a_configured_secret_is_redacted() -> None:
    install_log_redaction([KEY])
    failure = public_failure(RunRefused(f"cannot push to `{KEY[10:40]}`"))
    assert failure.text == "cannot push to `[REDACTED]`"


def test_the_record_keeps_the_detail_without_secrets() -> None:
    install_log_redaction([KEY])  # configured at start-up
    exc = ProviderConfigError(
        f"anthropic:claude: the provider refused the credentials (401): invalid x-api-key "
        f"{KEY[:24]}; check AGENTOPS_ANTHROPIC_API_KEY"
    )
    record = failure_record(exc)
    assert record.startswith("ProviderConfigError: anthropic:claude: the provider refused")
    assert "AGENTOPS_ANTHROPIC_API_KEY" in record and "[REDACTED]" in record
    assert KEY[:24] not in record and KEY[4:16] not in record
    refused = failure_record(RunRefused("could not push", detail=STDERR))
    assert "GH006" in refused and "could not push" in refused
