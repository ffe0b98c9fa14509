"""`GitHubForge`: the `Forge` protocol over GitHub's REST API (gidgethub + httpx).

Made by `GitHubApp.forge(installation_id)` (see `auth.py`); it borrows the app's
client and token cache, so it is cheap and `aclose()` is a no-op. Errors surface as the
`ForgeError` kinds of `base.py` (see `errors.py`). The plumbing is in
`client.py`, comments and reactions in `comments.py`, check runs in
`checks.py` and the pure pieces in `format.py`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from gidgethub import sansio

from app.forges.base import (
    ChangedFile,
    ForgeError,
    GitRemote,
    Issue,
    PullRequest,
    RepoInfo,
    ReviewComment,
    Target,
    folded_review_body,
)
from app.forges.github.checks import GitHubChecks
from app.forges.github.comments import GitHubComments
from app.forges.github.errors import GitHubAPIError
from app.forges.github.format import (
    COMMENT_MAX_CHARS,
    FILE_STATUS,
    fit_chars,
    login_of,
    review_comment_payload,
    split_repo,
)
from app.forges.github.installed import github_full_name
from app.forges.mentions import quiet_mentions, quiet_review
from app.forges.retry import create_once
from app.redaction import register_secret

WRITE_ROLES = frozenset({"admin", "maintain", "write"})
DIFF_ACCEPT = sansio.accept_format(media="diff", json=False)


class GitHubForge(GitHubComments, GitHubChecks):
    """GitHub, seen as one app installation."""

    # --- people --------------------------------------------------------------------

    async def repository_name(self, repo: str, context: Mapping[str, Any]) -> str | None:
        repo_id = context.get("repo_id")
        if not isinstance(repo_id, int) or isinstance(repo_id, bool):
            return None
        answer = await self._api(
            "GET", "/repositories/{repo_id}", repo, repo_id=repo_id, action="find the repository"
        )
        name = github_full_name(str(answer.get("full_name", "")))
        if name is None:
            raise ForgeError(f"GitHub named repository {repo_id} {answer.get('full_name')!r}")
        return name

    async def has_write_access(self, repo: str, user: str) -> bool:
        answer = await self._api(
            "GET",
            "/repos/{owner}/{name}/collaborators/{user}/permission",
            repo,
            user=user,
            action=f"check the permission of {user}",
        )
        roles = {str(answer.get("permission", "")), str(answer.get("role_name", ""))}
        return bool(roles & WRITE_ROLES)

    # --- issues and pull requests --------------------------------------------------

    async def get_issue(self, target: Target) -> Issue:
        data = await self._api(
            "GET",
            "/repos/{owner}/{name}/issues/{number}",
            target.repo,
            number=target.number,
            action=f"read issue #{target.number}",
        )
        labels = tuple(
            str(label["name"]) if isinstance(label, dict) else str(label)
            for label in data.get("labels", [])
        )
        return Issue(
            target=target,
            title=str(data.get("title") or ""),
            body=str(data.get("body") or ""),
            author=login_of(data.get("user")),
            state=str(data.get("state", "")),
            labels=labels,
            url=str(data.get("html_url", "")),
            pull_request=data.get("pull_request") is not None,
        )

    @staticmethod
    def _pull(repo: str, data: dict[str, Any]) -> PullRequest:
        head, base = data.get("head") or {}, data.get("base") or {}
        head_repo = (head.get("repo") or {}).get("full_name") or ""  # None: fork deleted
        return PullRequest(
            target=Target(repo, "pull_request", int(data["number"])),
            title=str(data.get("title") or ""),
            body=str(data.get("body") or ""),
            author=login_of(data.get("user")),
            state=str(data.get("state", "")),
            head_ref=str(head.get("ref", "")),
            head_sha=str(head.get("sha", "")),
            base_ref=str(base.get("ref", "")),
            base_sha=str(base.get("sha", "")),
            head_repo=str(head_repo),
            draft=bool(data.get("draft", False)),
            url=str(data.get("html_url", "")),
        )

    async def get_pull_request(self, target: Target) -> PullRequest:
        data = await self._api(
            "GET",
            "/repos/{owner}/{name}/pulls/{number}",
            target.repo,
            number=target.number,
            action=f"read pull request #{target.number}",
        )
        return self._pull(target.repo, data)

    async def list_changed_files(self, target: Target) -> list[ChangedFile]:
        items = await self._list(
            "/repos/{owner}/{name}/pulls/{number}/files{?per_page}",
            target.repo,
            number=target.number,
            per_page=100,
            action=f"list the files of pull request #{target.number}",
        )
        return [
            ChangedFile(
                path=str(item["filename"]),
                status=FILE_STATUS.get(str(item.get("status")), "modified"),
                previous_path=item.get("previous_filename"),
                patch=item.get("patch"),
            )
            for item in items
        ]

    async def get_diff(self, target: Target) -> str:
        data = await self._api(
            "GET",
            "/repos/{owner}/{name}/pulls/{number}",
            target.repo,
            number=target.number,
            accept=DIFF_ACCEPT,
            action=f"read the diff of pull request #{target.number}",
        )
        if isinstance(data, bytes):
            return data.decode("utf-8", errors="replace")
        return str(data or "")

    async def open_pull_request(
        self, repo: str, head: str, base: str, title: str, body: str, draft: bool = True
    ) -> PullRequest:
        title, body = quiet_mentions(title), quiet_mentions(body)
        existing = await self.find_open_pull_request(repo, head)
        if existing is not None:
            return existing
        try:
            data = await self._api(
                "POST",
                "/repos/{owner}/{name}/pulls",
                repo,
                data={
                    "title": title,
                    "head": head,
                    "base": base,
                    "draft": draft,
                    "body": fit_chars(body, COMMENT_MAX_CHARS),
                },
                action="open a pull request",
            )
        except GitHubAPIError as exc:
            if exc.status != 422 or "already exists" not in str(exc):
                raise
            existing = await self.find_open_pull_request(repo, head)  # lost a race
            if existing is None:
                raise
            return existing
        return self._pull(repo, data)

    async def find_open_pull_request(self, repo: str, head: str) -> PullRequest | None:
        """The open pull request whose head is `head` (`branch` or `owner:branch`)."""
        qualified = head if ":" in head else f"{split_repo(repo)['owner']}:{head}"
        items = await self._list(
            "/repos/{owner}/{name}/pulls{?head,state,per_page}",
            repo,
            head=qualified,
            state="open",
            per_page=100,
            action="look for an open pull request",
        )
        return self._pull(repo, items[0]) if items else None

    # --- reviews -------------------------------------------------------------------

    async def create_review(
        self, target: Target, head_sha: str, summary: str, comments: Sequence[ReviewComment]
    ) -> str:
        """One review (event COMMENT) with line comments on the new side of the diff.

        GitHub refuses the whole review (422) when it cannot place a line; then the
        review is posted again with every comment listed in its body. A review at
        `head_sha` whose body starts with `summary` is already posted: it is returned."""
        summary, comments = quiet_mentions(summary), quiet_review(comments)
        url = "/repos/{owner}/{name}/pulls/{number}/reviews"
        action = f"review pull request #{target.number}"

        async def posted() -> str | None:
            reviews = await self._list(
                url + "{?per_page}",
                target.repo,
                number=target.number,
                per_page=100,
                action=f"read the reviews of #{target.number}",
            )
            for review in reviews:
                body = str(review.get("body") or "")
                if (
                    summary
                    and review.get("commit_id") == head_sha
                    and body.startswith(fit_chars(summary, COMMENT_MAX_CHARS))
                ):
                    return str(review.get("html_url") or review.get("id", ""))
            return None

        async def post(body: str, inline: Sequence[ReviewComment]) -> str:
            data = await self._api(
                "POST",
                url,
                target.repo,
                number=target.number,
                action=action,
                once=True,
                data={
                    "commit_id": head_sha,
                    "event": "COMMENT",
                    "body": fit_chars(body, COMMENT_MAX_CHARS),
                    "comments": [review_comment_payload(c) for c in inline],
                },
            )
            return str(data.get("html_url") or data.get("id", ""))

        done = await posted()
        if done is not None:
            return done
        try:
            return await create_once(
                lambda: post(summary, comments), posted, policy=self.app.retry, action=action
            )
        except GitHubAPIError as exc:
            if exc.status != 422 or not comments:
                raise
        folded = folded_review_body(summary, comments)
        return await create_once(
            lambda: post(folded, ()), posted, policy=self.app.retry, action=action
        )

    # --- repository and git --------------------------------------------------------

    async def get_repo(self, repo: str) -> RepoInfo:
        data = await self._api(
            "GET", "/repos/{owner}/{name}", repo, action=f"read the repository {repo}"
        )
        return RepoInfo(
            repo=str(data.get("full_name") or repo),
            default_branch=str(data.get("default_branch") or "main"),
            private=bool(data.get("private", False)),
            clone_url=str(data.get("clone_url", "")),
            id=int(data["id"]) if isinstance(data.get("id"), int) else None,
        )

    async def git_remote(self, repo: str) -> GitRemote:
        info = await self.get_repo(repo)
        token = await self.app.installation_token(self.installation_id)
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        register_secret(basic)
        return GitRemote(
            url=info.clone_url,
            auth_header=f"Authorization: Basic {basic}",
            default_branch=info.default_branch,
        )

    async def aclose(self) -> None:
        """Nothing to close: the client belongs to the `GitHubApp`."""
