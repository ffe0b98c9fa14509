"""The `Forge` protocol: what the workflows may ask of a forge, in terms every forge has.

Implementations: `app/forges/github/forge.py` (gidgethub) and `app/forges/gitlab/forge.py`
(python-gitlab, run in a thread with a timeout). Workflows only see this module; what a
forge is called and how it words things is in its `ForgeSpec` (`app/forges/registry.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

TargetKind = Literal["issue", "pull_request"]
CheckStatus = Literal["queued", "in_progress", "completed"]
CheckConclusion = Literal[
    "success", "failure", "cancelled", "neutral", "skipped", "timed_out", "action_required"
]


@dataclass(frozen=True)
class Target:
    """An issue or a pull/merge request of one repository.

    `repo` is `owner/name` on GitHub and the full project path on GitLab.
    `number` is the issue number (GitHub) or the iid (GitLab).
    """

    repo: str
    kind: TargetKind
    number: int


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    author: str
    url: str = ""


@dataclass(frozen=True)
class Issue:
    target: Target
    title: str
    body: str
    author: str
    state: str
    labels: tuple[str, ...] = ()
    url: str = ""
    pull_request: bool = False  # GitHub: this number is a pull request (each is an issue too)


@dataclass(frozen=True)
class PullRequest:
    target: Target
    title: str
    body: str
    author: str
    state: str
    head_ref: str
    head_sha: str
    base_ref: str
    base_sha: str
    head_repo: str  # the repository the head branch lives in (a fork when != target.repo)
    draft: bool = False
    url: str = ""

    @property
    def from_fork(self) -> bool:
        return self.head_repo != self.target.repo


@dataclass(frozen=True)
class ChangedFile:
    path: str
    status: str  # added | modified | removed | renamed
    previous_path: str | None = None
    patch: str | None = None


@dataclass(frozen=True)
class ReviewComment:
    """A review comment on line `line` of the new side of `path` in a pull request's diff."""

    path: str
    line: int
    body: str


def folded_review_body(summary: str, comments: Sequence[ReviewComment]) -> str:
    """The review's summary with comments that cannot sit on a line listed at its end."""
    if not comments:
        return summary
    listed = "\n".join(f"- {c.path}:{c.line}: {c.body}" for c in comments)
    return f"{summary}\n\n**Comments on lines outside the diff**\n\n{listed}"


@dataclass(frozen=True)
class CheckAction:
    """A button on the progress display, for forges that have them (a forge without
    buttons ignores them; its people write the command instead)."""

    label: str  # <= 20 characters
    identifier: str  # <= 20 characters
    description: str  # <= 40 characters


@dataclass(frozen=True)
class CheckRef:
    """A handle on the live progress display of one run, on commit `head_sha`.

    `id` is the forge's own handle on it (GitHub: the check run; GitLab: the progress
    note beside the commit status, which is addressed by sha and `name`). `target` is the
    issue or pull request the run is about, for a forge that shows progress there too.
    """

    repo: str
    head_sha: str
    id: int | None = None
    name: str = "AgentOps"
    target: Target | None = None


@dataclass(frozen=True)
class CheckUpdate:
    status: CheckStatus
    title: str
    summary: str
    text: str = ""
    conclusion: CheckConclusion | None = None
    actions: tuple[CheckAction, ...] = ()
    details_url: str | None = None
    external_id: str | None = None  # the run id: `find_check` and button clicks name the run


@dataclass(frozen=True)
class GitRemote:
    """How `app/git.py` reaches a repository: a clean URL plus an auth header.

    The header value is a secret: it travels to git through the environment, never argv.
    """

    url: str
    auth_header: str = field(repr=False)
    default_branch: str = "main"


@dataclass(frozen=True)
class RepoInfo:
    repo: str
    default_branch: str
    private: bool
    clone_url: str
    id: int | None = None  # the forge's numeric id (GitLab: the project id)


class ForgeError(Exception):
    """A forge call failed for a reason worth telling the person (not retried)."""


class ForgeAPIError(ForgeError):
    """A forge call failed with a status that retrying will not fix (4xx)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ForgeTransientError(ForgeError):
    """A forge call failed in a way that may pass (5xx, network); retry later."""


class ForgeRateLimited(ForgeTransientError):
    """The forge asked us to wait; `retry_after` seconds until it will answer again."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ForgeAccessError(ForgeError):
    """The integration may not do this (403 not accessible, suspended installation)."""


class Forge(Protocol):
    """Everything the workflows need from a forge, in forge-neutral terms."""

    async def repository_name(self, repo: str, context: Mapping[str, Any]) -> str | None:
        """The name that the repository a run was filed on (`repo` then) has now, found
        by the id its webhook gave (in the run's `context`); None when the context holds
        no id. Raises ForgeAPIError (404) when that repository is gone or out of reach.
        A name passes to another repository after a rename or a deletion; the id does not.
        """
        ...

    async def has_write_access(self, repo: str, user: str) -> bool:
        """True for admin/maintain/write (GitHub) or access >= Developer (GitLab).

        Raises on failure: callers fail closed.
        """
        ...

    async def add_reaction(self, target: Target, comment_id: int | None, emoji: str) -> None:
        """React to a comment (or to the issue/PR itself when `comment_id` is None).

        `emoji` uses GitHub's names: `eyes`, `+1`, `rocket`, `confused`.
        """
        ...

    async def create_comment(self, target: Target, body: str, key: str | None = None) -> Comment:
        """Post a comment that ends with a hidden marker for `key` (`app/forges/markers.py`;
        a fresh key when None).

        The POST is never repeated blindly: after a failure that may have been applied
        (5xx, dropped connection, timeout) the comment with that marker is looked for
        and, when found, returned as the result.
        """
        ...

    async def update_comment(
        self, target: Target, comment_id: int, body: str, key: str | None = None
    ) -> Comment:
        """Replace a comment's body (keeping the marker for `key`, when given)."""
        ...

    async def list_comments(self, target: Target) -> list[Comment]: ...

    async def get_comment(self, target: Target, comment_id: int) -> Comment | None:
        """Comment `comment_id` on `target` as the forge has it now (author, body); None
        when there is no such comment on `target`. Raises on other failures."""
        ...

    async def find_comment(self, target: Target, key: str) -> Comment | None:
        """The bot's newest comment on `target` carrying the marker for `key`, if any."""
        ...

    async def get_issue(self, target: Target) -> Issue: ...

    async def label_added_by(self, target: Target, label: str) -> str | None:
        """Who last added `label` to `target` (any case), as the forge's record of label
        changes says; None when it records no one."""
        ...

    async def get_pull_request(self, target: Target) -> PullRequest: ...

    async def list_changed_files(self, target: Target) -> list[ChangedFile]: ...

    async def get_diff(self, target: Target) -> str: ...

    async def get_repo(self, repo: str) -> RepoInfo: ...

    async def git_remote(self, repo: str) -> GitRemote:
        """Clone/push URL and an auth header for `app/git.py`."""
        ...

    async def open_pull_request(
        self, repo: str, head: str, base: str, title: str, body: str, draft: bool = True
    ) -> PullRequest:
        """Open a PR/MR, or return the open one for the same head branch."""
        ...

    async def create_review(
        self, target: Target, head_sha: str, summary: str, comments: Sequence[ReviewComment]
    ) -> str:
        """Review the pull request at `head_sha`: `summary` once, each comment on its line.

        Comments must sit on new-side lines of the diff's hunks; one the forge cannot
        place is added to the summary instead. Returns the review's URL. Posting the same
        `summary` again (a resumed run) returns the review already posted and does not
        repeat comments already on their lines.
        """
        ...

    async def start_check(
        self, repo: str, head_sha: str, update: CheckUpdate, target: Target | None = None
    ) -> CheckRef:
        """Show a new progress display; `update.external_id` names the run it belongs to
        and `target` the issue or pull request it is about (see `CheckRef`).

        A failed creation that may have been applied is looked for (`find_check`) before
        it is tried again.
        """
        ...

    async def find_check(
        self, repo: str, head_sha: str, external_id: str, target: Target | None = None
    ) -> CheckRef | None:
        """The progress display already made for `external_id` on `head_sha` (or, for a
        forge that shows progress on the issue or pull request, on `target`), if any."""
        ...

    async def update_check(self, ref: CheckRef, update: CheckUpdate) -> CheckRef: ...

    async def aclose(self) -> None: ...
