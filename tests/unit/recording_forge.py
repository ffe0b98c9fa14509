"""A `Forge` that records what it is asked and answers from what a test gives it, in the
manner of bedevere's `FakeGH`: for unit tests of workflow logic that needs no other I/O
(what is said, and where: issue or pull request, comment or check run).

`_PROVES_THE_PROTOCOL` below makes mypy check that it implements `app.forges.base.Forge`:
`mypy tests/unit/recording_forge.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.forges.base import (
    ChangedFile,
    CheckRef,
    CheckUpdate,
    Comment,
    Forge,
    GitRemote,
    Issue,
    PullRequest,
    RepoInfo,
    ReviewComment,
    Target,
)
from app.forges.markers import carries, marker


@dataclass(frozen=True)
class Call:
    """One call the workflow made: the method's name and its arguments by name."""

    method: str
    args: dict[str, Any]


@dataclass
class RecordingForge:
    """Answers from its fields; every call is appended to `calls`."""

    writers: set[str] = field(default_factory=set)
    comments: dict[Target, list[Comment]] = field(default_factory=dict)
    issues: dict[Target, Issue] = field(default_factory=dict)
    pulls: dict[Target, PullRequest] = field(default_factory=dict)
    checks: list[tuple[CheckRef, CheckUpdate]] = field(default_factory=list)
    review_url: str = "https://forge.test/review/1"
    calls: list[Call] = field(default_factory=list)
    renamed: dict[str, str] = field(default_factory=dict)  # name then → name now
    _next_id: int = 100

    def called(self, method: str) -> list[dict[str, Any]]:
        """The arguments of each call of `method`, in order."""
        return [c.args for c in self.calls if c.method == method]

    def _record(self, method: str, **args: Any) -> None:
        self.calls.append(Call(method, args))

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    async def repository_name(self, repo: str, context: Mapping[str, Any]) -> str | None:
        self._record("repository_name", repo=repo)
        return self.renamed.get(repo, repo) if "repo_id" in context else None

    async def has_write_access(self, repo: str, user: str) -> bool:
        self._record("has_write_access", repo=repo, user=user)
        return user in self.writers

    async def add_reaction(self, target: Target, comment_id: int | None, emoji: str) -> None:
        self._record("add_reaction", target=target, comment_id=comment_id, emoji=emoji)

    async def create_comment(self, target: Target, body: str, key: str | None = None) -> Comment:
        self._record("create_comment", target=target, body=body, key=key)
        marked = f"{body}\n\n{marker(key)}" if key else body
        comment = Comment(self._new_id(), marked, "agentops[bot]")
        self.comments.setdefault(target, []).append(comment)
        return comment

    async def update_comment(
        self, target: Target, comment_id: int, body: str, key: str | None = None
    ) -> Comment:
        self._record("update_comment", target=target, comment_id=comment_id, body=body, key=key)
        marked = f"{body}\n\n{marker(key)}" if key else body
        listed = self.comments.setdefault(target, [])
        updated = Comment(comment_id, marked, "agentops[bot]")
        listed[:] = [updated if c.id == comment_id else c for c in listed]
        return updated

    async def list_comments(self, target: Target) -> list[Comment]:
        self._record("list_comments", target=target)
        return list(self.comments.get(target, []))

    async def get_comment(self, target: Target, comment_id: int) -> Comment | None:
        self._record("get_comment", target=target, comment_id=comment_id)
        return next((c for c in self.comments.get(target, []) if c.id == comment_id), None)

    async def find_comment(self, target: Target, key: str) -> Comment | None:
        self._record("find_comment", target=target, key=key)
        found = [c for c in self.comments.get(target, []) if carries(c.body, key)]
        return found[-1] if found else None

    async def get_issue(self, target: Target) -> Issue:
        self._record("get_issue", target=target)
        return self.issues[target]

    async def label_added_by(self, target: Target, label: str) -> str | None:
        self._record("label_added_by", target=target, label=label)
        return None

    async def get_pull_request(self, target: Target) -> PullRequest:
        self._record("get_pull_request", target=target)
        return self.pulls[target]

    async def list_changed_files(self, target: Target) -> list[ChangedFile]:
        self._record("list_changed_files", target=target)
        return []

    async def get_diff(self, target: Target) -> str:
        self._record("get_diff", target=target)
        return ""

    async def get_repo(self, repo: str) -> RepoInfo:
        self._record("get_repo", repo=repo)
        return RepoInfo(repo, "main", private=False, clone_url=f"https://forge.test/{repo}.git")

    async def git_remote(self, repo: str) -> GitRemote:
        self._record("git_remote", repo=repo)
        return GitRemote(f"https://forge.test/{repo}.git", auth_header="")

    async def open_pull_request(
        self, repo: str, head: str, base: str, title: str, body: str, draft: bool = True
    ) -> PullRequest:
        self._record(
            "open_pull_request",
            repo=repo,
            head=head,
            base=base,
            title=title,
            body=body,
            draft=draft,
        )
        number = self._new_id()
        return PullRequest(
            Target(repo, "pull_request", number),
            title,
            body,
            "agentops[bot]",
            "open",
            head_ref=head,
            head_sha="0" * 40,
            base_ref=base,
            base_sha="1" * 40,
            head_repo=repo,
            draft=draft,
            url=f"https://forge.test/{repo}/pull/{number}",
        )

    async def create_review(
        self, target: Target, head_sha: str, summary: str, comments: Sequence[ReviewComment]
    ) -> str:
        self._record(
            "create_review", target=target, head_sha=head_sha, summary=summary, comments=comments
        )
        return self.review_url

    async def start_check(
        self, repo: str, head_sha: str, update: CheckUpdate, target: Target | None = None
    ) -> CheckRef:
        self._record("start_check", repo=repo, head_sha=head_sha, update=update, target=target)
        ref = CheckRef(repo, head_sha, id=self._new_id(), target=target)
        self.checks.append((ref, update))
        return ref

    async def find_check(
        self, repo: str, head_sha: str, external_id: str, target: Target | None = None
    ) -> CheckRef | None:
        self._record(
            "find_check",
            repo=repo,
            head_sha=head_sha,
            external_id=external_id,
            target=target,
        )
        for ref, update in self.checks:
            if (ref.repo, ref.head_sha, update.external_id) == (repo, head_sha, external_id):
                return ref
        return None

    async def update_check(self, ref: CheckRef, update: CheckUpdate) -> CheckRef:
        self._record("update_check", ref=ref, update=update)
        self.checks.append((ref, update))
        return ref

    async def aclose(self) -> None:
        self._record("aclose")


_PROVES_THE_PROTOCOL: Forge = RecordingForge()
