"""What each step of a run records, as types: one model per kind of step.

A step's record is stored as the JSON object it always was (`run_steps.detail`) and read
back typed at the store's boundary (app/store/steps.py), by the step's name. The check
run, the pull request's description, `/agentops status` and `/api/runs/{id}` all render
these records; the workflow passes them from step to step instead of dicts.

Reading is lenient: a key a record does not know is ignored and a key it lacks takes its
default, so the rows of earlier versions read back. A row that still does not fit (or a
step name this version does not know) reads back as `UnknownRecord`, its JSON kept.
Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class StepRecord(BaseModel):
    """What one finished step found or did."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    def stored(self) -> dict[str, Any]:
        """The JSON object stored for the step (and shown as its `detail` by the API)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class CostedRecord(StepRecord):
    """A step that paid for model calls."""

    cost_usd: float = 0.0
    model: str = ""


class Nothing(StepRecord):
    """A step with nothing to record (an acknowledgement, the check run opened)."""


class Verified(StepRecord):
    author: str


class Authorized(StepRecord):
    allowed: bool
    user: str
    refusal: int | None = None  # the requester's n-th refusal here, when not allowed
    tell: bool = True  # under the refusal-notice limit: the refusal is said


class Head(StepRecord):
    """The commit a run works on (the `prepare` step): a pull request's head, or the
    default branch's tip for an issue."""

    head_sha: str
    ref: str
    base: str
    head_repo: str | None = None  # a pull request's fork; None when it was deleted


class Cloned(StepRecord):
    files: int
    base_sha: str | None = None  # on an issue
    head_sha: str | None = None  # on a pull request
    from_fork: bool | None = None


class IssueText(StepRecord):
    title: str
    body: str
    author: str
    url: str = ""


class ConfigRead(StepRecord):
    """`.agentops.yml` as read (`RepoConfig.model_dump()`); on a pull request, from where."""

    config: dict[str, Any]
    source: str | None = None  # "head" or "base"
    author: str | None = None
    author_can_write: bool = False


class LocatedFile(StepRecord):
    path: str
    score: float = 0.0
    reasons: list[str] = Field(default_factory=list)


class Located(StepRecord):
    files: list[LocatedFile] = Field(default_factory=list)  # source files to change
    tests: list[LocatedFile] = Field(default_factory=list)  # tests that exercise them
    indexed: int = 0
    seconds: float = 0.0


class Planned(CostedRecord):
    plan: str


class Changed(CostedRecord):
    """A change the tool loop made and proved: `implement`, `write-tests`, `change`."""

    diff: str
    summary: str = ""
    tests: list[str] = Field(default_factory=list)
    verification: str = ""
    turns: int = 0
    models: list[str] = Field(default_factory=list)
    test_command: str = ""
    unproven: str | None = None  # why its new tests cannot pass in the sandbox


class CommitMessage(StepRecord):
    message: str


class Delivered(StepRecord):
    """A commit pushed, and the pull request opened for it (if one was)."""

    branch: str
    commit: str = ""
    pr_number: int | None = None
    pr_url: str | None = None
    on_head: bool | None = None  # a stacked pull request that starts from the head


class ChangedFileName(StepRecord):
    path: str
    status: str


class PullDiff(StepRecord):
    """A pull request's change, as the model will read it (the `diff` step)."""

    title: str
    body: str
    diff: str
    files: list[ChangedFileName] = Field(default_factory=list)
    url: str = ""
    cut: bool = False  # the diff was longer than what is kept


class Reviewed(CostedRecord):
    answer: dict[str, Any]  # the reviewer's `ReviewAnswer` (app/workflow/review.py)
    comments: int = 0


class ReviewPosted(StepRecord):
    url: str
    inline: int = 0
    folded: int = 0


class Installed(StepRecord):
    """The prepare phase's install (app/prepare/run.py, `Prepared.detail`)."""

    installed: str
    source: str | None = None
    cache: str = ""  # "hit", "stored" or "not cached"
    not_cached: str = ""
    hosts: list[str] = Field(
        default_factory=list, validation_alias="from", serialization_alias="from"
    )
    refused: list[str] = Field(default_factory=list)
    downloaded_bytes: int = 0
    seconds: float = 0.0
    python: str | None = None


class LimitsCapped(StepRecord):
    capped: list[str]


class CancelAsked(StepRecord):
    cancelled: list[int] = Field(default_factory=list)


class RetryAsked(StepRecord):
    retry: int | None = None  # the new run
    of: int | None = None  # the run it retries
    reason: str | None = None  # why nothing was retried


class Replied(StepRecord):
    comment_id: int


class UnknownRecord(StepRecord):
    """A record this version cannot read: its JSON is kept as it was."""

    model_config = ConfigDict(extra="allow", frozen=True)

    def stored(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


R = TypeVar("R", bound=StepRecord)


@dataclass(frozen=True)
class StepKind(Generic[R]):
    """A step's name and the type of its record: `RunContext.step(kind, action)`."""

    name: str
    record: type[R]


VERIFY = StepKind("verify", Verified)
AUTHORIZE = StepKind("authorize", Authorized)
ACKNOWLEDGE = StepKind("acknowledge", Nothing)
PREPARE = StepKind("prepare", Head)
CHECK = StepKind("check", Nothing)
CLONE = StepKind("clone", Cloned)
ISSUE = StepKind("issue", IssueText)
CONFIG = StepKind("config", ConfigRead)
LIMITS = StepKind("limits", LimitsCapped)
INSTALL = StepKind("install", Installed)
LOCATE = StepKind("locate", Located)
PLAN = StepKind("plan", Planned)
IMPLEMENT = StepKind("implement", Changed)
COMMIT_MESSAGE = StepKind("commit-message", CommitMessage)
DELIVER = StepKind("deliver", Delivered)
DIFF = StepKind("diff", PullDiff)
REVIEW = StepKind("review", Reviewed)
POST = StepKind("post", ReviewPosted)
WRITE_TESTS = StepKind("write-tests", Changed)
CHANGE = StepKind("change", Changed)
CANCEL = StepKind("cancel", CancelAsked)
RETRY = StepKind("retry", RetryAsked)

REPLY_PREFIX = "reply:"
KINDS: dict[str, StepKind[Any]] = {
    kind.name: kind
    for kind in (
        *(VERIFY, AUTHORIZE, ACKNOWLEDGE, PREPARE, CHECK, CLONE, ISSUE, CONFIG, LIMITS),
        *(INSTALL, LOCATE, PLAN, IMPLEMENT, COMMIT_MESSAGE, DELIVER, DIFF, REVIEW, POST),
        *(WRITE_TESTS, CHANGE, CANCEL, RETRY),
    )
}


def reply_kind(name: str) -> StepKind[Replied]:
    """The step that posts the reply `name` once per run (`RunContext.reply`)."""
    return StepKind(REPLY_PREFIX + name, Replied)


def record_type(step_name: str) -> type[StepRecord]:
    if step_name.startswith(REPLY_PREFIX):
        return Replied
    kind = KINDS.get(step_name)
    return kind.record if kind is not None else UnknownRecord


def read_record(step_name: str, stored: dict[str, Any]) -> StepRecord:
    """The stored JSON of step `step_name` as its record (`UnknownRecord` if it does not
    fit)."""
    try:
        return record_type(step_name).model_validate(stored)
    except ValidationError:
        return UnknownRecord.model_validate(stored)
