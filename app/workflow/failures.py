"""What a failed run tells people, and what it keeps for the operator.

A run's failure is posted on a public issue or pull request (a comment, the check run's
summary, the checklist, `/agentops status`), so the public text says what failed and what
to do, and nothing else: never a provider's or a forge's error body, an exception's text,
a path of this service or the name of a setting. The full text (redacted of secrets)
stays in the run's record (`runs.error`, the step's `error`, the admin API) and the logs.

`RunRefused` messages are written for people and are shown as they are.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

from app.forges.base import ForgeAccessError, ForgeAPIError, ForgeError, ForgeTransientError
from app.forges.registry import display_name
from app.git import GitError, GitTimeout, PushRejected
from app.git_export import TreeBeyondLimits
from app.llm.errors import BudgetExhausted, ContextTooLong, LLMError, StructuredOutputError
from app.redaction import redact, registered_secrets
from app.sandbox import SandboxUnavailable
from app.sandbox.workcopy import TreeTooLarge

FailureKind = Literal[
    "refused",  # a reason written for people (RunRefused)
    "stopped",  # the job was cancelled or ran out of time
    "model_provider",
    "budget",
    "forge",
    "git",
    "sandbox",
    "internal",
]

_RETRY = "write `/agentops retry`"
_ASK_OPERATOR = "ask the operator of this AgentOps server"


class RunRefused(Exception):
    """The run cannot go on for a reason the person must hear.

    The message is written for people; `detail` (never shown to them) is for the record.
    The runner posts the message where the run was asked, unless it was `told` already
    (a reply of its own) or must stay `silent` (a request the forge does not confirm, a
    person past the refusal-notice limit: nothing is posted for them).
    """

    def __init__(
        self, message: str, detail: str = "", *, told: bool = False, silent: bool = False
    ) -> None:
        super().__init__(message)
        self.detail = detail
        self.told = told
        self.silent = silent


@dataclass(frozen=True)
class PublicFailure:
    kind: FailureKind
    what_failed: str  # one short sentence; also the checklist's note on the failed step
    what_to_do: str = ""

    @property
    def text(self) -> str:
        return f"{self.what_failed} {self.what_to_do}".strip()


def public_failure(exc: BaseException, forge: str = "", run_id: int | None = None) -> PublicFailure:
    """The text for people about `exc`, built from this module's words only (and, for
    `RunRefused`, the words its author wrote for people)."""
    if isinstance(exc, RunRefused):  # its words may quote a branch, a file, a config
        return PublicFailure("refused", redact(str(exc), registered_secrets()))
    if isinstance(exc, asyncio.CancelledError):
        return PublicFailure(
            "stopped",
            "The run was stopped (cancelled, or over its time limit).",
            f"{_RETRY[0].upper()}{_RETRY[1:]} to start it again.",
        )
    if isinstance(exc, BudgetExhausted):
        return _budget(exc)
    if isinstance(exc, LLMError):
        return _model(exc)
    if isinstance(exc, ForgeError):
        return _forge(exc, display_name(forge))
    if isinstance(exc, GitError):
        return _git(exc)
    if isinstance(exc, TreeTooLarge):
        return PublicFailure(
            "sandbox",
            "The tests could not run: the repository is larger than the space this AgentOps "
            "server gives a run's tests.",
            f"Nothing was changed; {_ASK_OPERATOR} to raise the sandbox's disk limit, then "
            f"{_RETRY}.",
        )
    if isinstance(exc, SandboxUnavailable):
        return PublicFailure(
            "sandbox",
            "The tests could not run: this AgentOps server has no working test sandbox.",
            f"Nothing was changed; {_ASK_OPERATOR} to check its sandbox (`agentops doctor`), "
            f"then {_RETRY}.",
        )
    where = f" (run {run_id})" if run_id is not None else ""
    return PublicFailure(
        "internal",
        f"AgentOps hit an internal error{where}.",
        f"Nothing was changed; {_RETRY} to try again, and if it happens again {_ASK_OPERATOR} "
        "to look at the logs of this run.",
    )


def failure_record(exc: BaseException) -> str:
    """The full text for the run's record and the logs (secrets redacted)."""
    detail = getattr(exc, "detail", "")
    text = f"{type(exc).__name__}: {exc}" + (f"\n{detail}" if detail else "")
    return redact(text, registered_secrets())[:4000]


def _budget(exc: BudgetExhausted) -> PublicFailure:
    if exc.budget == "run":
        return PublicFailure(
            "budget",
            f"The model budget of this run (${exc.limit_usd:.2f}) is used up.",
            "A maintainer can raise `budgets: run_usd:` in `.agentops.yml` (up to the limit "
            f"the operator set), or narrow the task; then {_RETRY}.",
        )
    return PublicFailure(
        "budget",
        f"The monthly model budget of this installation (${exc.limit_usd:.2f}) is used up.",
        f"{_ASK_OPERATOR[0].upper()}{_ASK_OPERATOR[1:]} to raise it, or wait for the next "
        f"month (UTC); then {_RETRY}.",
    )


def _model(exc: LLMError) -> PublicFailure:
    if isinstance(exc, ContextTooLong):
        return PublicFailure(
            "model_provider",
            "The task and the code it needs do not fit in the models' context window.",
            f"Narrow the issue (fewer files, a smaller change), then {_RETRY}.",
        )
    if isinstance(exc, StructuredOutputError):
        return PublicFailure(
            "model_provider",
            "The model's answer could not be used, even after a repair.",
            f"{_RETRY[0].upper()}{_RETRY[1:]} to try again.",
        )
    return PublicFailure(
        "model_provider",
        "The model provider is unavailable to AgentOps (it refused the request or the "
        "credentials, or kept failing).",
        f"Nothing was changed; {_RETRY} later, and if it fails again {_ASK_OPERATOR} to "
        "check its model provider settings (`agentops doctor`).",
    )


def _forge(exc: ForgeError, name: str) -> PublicFailure:
    if isinstance(exc, ForgeTransientError):
        return PublicFailure(
            "forge",
            f"{name} kept failing or asked AgentOps to wait.",
            f"Nothing more was changed; {_RETRY} later.",
        )
    if isinstance(exc, ForgeAccessError) or (
        isinstance(exc, ForgeAPIError) and exc.status in (401, 403)
    ):
        return PublicFailure(
            "forge",
            f"{name} did not allow AgentOps to do a step of this run.",
            "A maintainer can check that AgentOps is installed here with the permissions it "
            "asks for (GitLab: that its user has at least the Developer role); if it is, "
            f"{_ASK_OPERATOR} to check its {name} credentials. Then {_RETRY}.",
        )
    status = f" (HTTP {exc.status})" if isinstance(exc, ForgeAPIError) else ""
    return PublicFailure(
        "forge",
        f"{name} refused a request AgentOps made{status}.",
        "Check that the issue or pull request, its branch and the repository still exist "
        f"and are open; then {_RETRY}.",
    )


def _git(exc: GitError) -> PublicFailure:
    if isinstance(exc, TreeBeyondLimits):
        return PublicFailure(
            "git",
            "The commit's tree lists more files, or more bytes of files, than AgentOps "
            "writes for a run's tests.",
            f"Nothing was changed; {_ASK_OPERATOR} if the repository is really that large.",
        )
    if isinstance(exc, GitTimeout):
        return PublicFailure(
            "git",
            "A git operation took too long.",
            f"The repository may be very large or the forge slow; {_RETRY} later.",
        )
    if isinstance(exc, PushRejected):
        return PublicFailure(
            "git",
            "The forge refused AgentOps' push.",
            "The branch may be protected or have moved; check its protection rules, then "
            f"{_RETRY}.",
        )
    return PublicFailure(
        "git",
        "A git operation on the repository failed.",
        f"Nothing was changed; {_RETRY}, and if it fails again {_ASK_OPERATOR} to look at "
        "the logs of this run.",
    )
