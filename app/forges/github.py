"""`GitHubForge`: the `Forge` protocol over GitHub's REST API (gidgethub + httpx).

Made by `GitHubApp.forge(installation_id)` (see `github_auth.py`); it borrows the app's
client and token cache, so it is cheap and `aclose()` is a no-op. Errors surface as the
`ForgeError` kinds of `base.py` (see `github_errors.py`).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from gidgethub import sansio

from app.forges.base import (
    ChangedFile,
    CheckRef,
    CheckUpdate,
    Comment,
    ForgeError,
    GitRemote,
    Issue,
    PullRequest,
    RepoInfo,
    ReviewComment,
    Target,
    folded_review_body,
)
from app.forges.github_errors import GitHubAPIError
from app.forges.markers import carries, marked, once_key
from app.forges.retry import ONE_TRY, create_once
from app.redaction import register_secret

if TYPE_CHECKING:
    from app.forges.github_auth import GitHubApp

CHECK_NAME = "AgentOps"
COMMENT_MAX_CHARS = 65_536
CHECK_TEXT_MAX_BYTES = 65_535
CHECK_TITLE_MAX_CHARS = 255  # GitHub's limit on output.title isn't documented; be modest
MAX_CHECK_ACTIONS = 3
WRITE_ROLES = frozenset({"admin", "maintain", "write"})
DIFF_ACCEPT = sansio.accept_format(media="diff", json=False)
TRUNCATION_NOTE = "\n\n… (truncated: the full text was longer than GitHub allows)"
_FILE_STATUS = {
    "added": "added",
    "removed": "removed",
    "renamed": "renamed",
    "copied": "added",
    "modified": "modified",
    "changed": "modified",
    "unchanged": "modified",
}


def truncate_chars(text: str, limit: int, note: str = TRUNCATION_NOTE) -> str:
    """Cut `text` to at most `limit` characters, ending with `note` when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(note))] + note


def truncate_bytes(text: str, limit: int, note: str = TRUNCATION_NOTE) -> str:
    """Cut `text` to at most `limit` UTF-8 bytes (never mid-character), ending with `note`."""
    data = text.encode()
    if len(data) <= limit:
        return text
    room = max(0, limit - len(note.encode()))
    return data[:room].decode("utf-8", errors="ignore") + note


def check_run_payload(update: CheckUpdate) -> dict[str, Any]:
    """The JSON body for creating/updating a check run, cut to GitHub's limits."""
    payload: dict[str, Any] = {
        "status": update.status,
        "output": {
            "title": truncate_chars(update.title or "AgentOps", CHECK_TITLE_MAX_CHARS, "…"),
            "summary": truncate_bytes(update.summary or "-", CHECK_TEXT_MAX_BYTES),
        },
        "actions": [
            {
                "label": a.label[:20],
                "identifier": a.identifier[:20],
                "description": a.description[:40],
            }
            for a in update.actions[:MAX_CHECK_ACTIONS]
        ],
    }
    if update.text:
        payload["output"]["text"] = truncate_bytes(update.text, CHECK_TEXT_MAX_BYTES)
    if update.conclusion is not None or update.status == "completed":
        payload["status"] = "completed"  # GitHub refuses "completed" without a conclusion
        payload["conclusion"] = update.conclusion or "neutral"
    if update.details_url:
        payload["details_url"] = update.details_url
    if update.external_id:
        payload["external_id"] = update.external_id
    return payload


def review_comment_payload(comment: ReviewComment) -> dict[str, Any]:
    """A review comment in GitHub's line-based form: a line of the diff's new side."""
    return {
        "path": comment.path,
        "line": comment.line,
        "side": "RIGHT",
        "body": truncate_chars(comment.body, COMMENT_MAX_CHARS),
    }


def _login(user: Any) -> str:
    return str(user.get("login", "")) if isinstance(user, dict) else ""


def _split(repo: str) -> dict[str, str]:
    owner, _, name = repo.partition("/")
    if not owner or not name:
        raise ForgeError(f"not a GitHub repository name: {repo!r} (expected owner/name)")
    return {"owner": owner, "name": name}


class GitHubForge:
    """GitHub, seen as one app installation."""

    kind: Literal["github", "gitlab"] = "github"

    def __init__(self, app: GitHubApp, installation_id: int) -> None:
        self.app = app
        self.installation_id = installation_id

    async def _api(
        self,
        method: str,
        url: str,
        repo: str,
        *,
        action: str,
        data: Any = b"",
        accept: str | None = None,
        once: bool = False,
        **url_vars: Any,
    ) -> Any:
        """One call; `once` for a creation that `create_once` guards (no blind retry)."""
        return await self.app.api(
            self.installation_id,
            method,
            url,
            url_vars={**_split(repo), **url_vars},
            data=data,
            accept=accept or sansio.accept_format(),
            action=action,
            repo=repo,
            retry=ONE_TRY if once else None,
        )

    async def _list(self, url: str, repo: str, *, action: str, **url_vars: Any) -> list[Any]:
        return await self.app.api_list(
            self.installation_id,
            url,
            url_vars={**_split(repo), **url_vars},
            action=action,
            repo=repo,
        )

    # --- people and reactions ------------------------------------------------------

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

    async def add_reaction(self, target: Target, comment_id: int | None, emoji: str) -> None:
        if comment_id is None:
            url = "/repos/{owner}/{name}/issues/{number}/reactions"
        else:
            url = "/repos/{owner}/{name}/issues/comments/{comment_id}/reactions"
        await self._api(
            "POST",
            url,
            target.repo,
            data={"content": emoji},
            number=target.number,
            comment_id=comment_id,
            action="add a reaction",
        )

    # --- comments ------------------------------------------------------------------

    @staticmethod
    def _comment(data: dict[str, Any]) -> Comment:
        return Comment(
            id=int(data["id"]),
            body=str(data.get("body") or ""),
            author=_login(data.get("user")),
            url=str(data.get("html_url", "")),
        )

    async def create_comment(self, target: Target, body: str, key: str | None = None) -> Comment:
        key = key or once_key()
        text = marked(body, key, COMMENT_MAX_CHARS, truncate_chars)

        async def post() -> Comment:
            data = await self._api(
                "POST",
                "/repos/{owner}/{name}/issues/{number}/comments",
                target.repo,
                data={"body": text},
                number=target.number,
                action="post a comment",
                once=True,
            )
            return self._comment(data)

        return await create_once(
            post,
            lambda: self.find_comment(target, key),
            policy=self.app.retry,
            action="post a comment",
        )

    async def update_comment(
        self, target: Target, comment_id: int, body: str, key: str | None = None
    ) -> Comment:
        text = (
            marked(body, key, COMMENT_MAX_CHARS, truncate_chars)
            if key
            else truncate_chars(body, COMMENT_MAX_CHARS)
        )
        data = await self._api(
            "PATCH",
            "/repos/{owner}/{name}/issues/comments/{comment_id}",
            target.repo,
            data={"body": text},
            comment_id=comment_id,
            action="update a comment",
        )
        return self._comment(data)

    async def list_comments(self, target: Target) -> list[Comment]:
        items = await self._list(
            "/repos/{owner}/{name}/issues/{number}/comments{?per_page}",
            target.repo,
            number=target.number,
            per_page=100,
            action="read the comments",
        )
        return [self._comment(item) for item in items]

    async def find_comment(self, target: Target, key: str) -> Comment | None:
        bot = self.app.bot_login
        for comment in reversed(await self.list_comments(target)):
            if carries(comment.body, key) and (bot is None or comment.author == bot):
                return comment
        return None

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
            author=_login(data.get("user")),
            state=str(data.get("state", "")),
            labels=labels,
            url=str(data.get("html_url", "")),
        )

    @staticmethod
    def _pull(repo: str, data: dict[str, Any]) -> PullRequest:
        head, base = data.get("head") or {}, data.get("base") or {}
        head_repo = (head.get("repo") or {}).get("full_name") or ""  # None: fork deleted
        return PullRequest(
            target=Target(repo, "pull_request", int(data["number"])),
            title=str(data.get("title") or ""),
            body=str(data.get("body") or ""),
            author=_login(data.get("user")),
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
                status=_FILE_STATUS.get(str(item.get("status")), "modified"),
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
                    "body": truncate_chars(body, COMMENT_MAX_CHARS),
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
        qualified = head if ":" in head else f"{_split(repo)['owner']}:{head}"
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
                    and body.startswith(truncate_chars(summary, COMMENT_MAX_CHARS))
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
                    "body": truncate_chars(body, COMMENT_MAX_CHARS),
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

    # --- check runs ----------------------------------------------------------------

    async def start_check(
        self, repo: str, head_sha: str, update: CheckUpdate, note_target: Target | None = None
    ) -> CheckRef:
        external_id = update.external_id or uuid.uuid4().hex  # what `find_check` looks for
        payload = {
            "name": CHECK_NAME,
            "head_sha": head_sha,
            **check_run_payload(update),
            "external_id": external_id,
        }

        async def post() -> CheckRef:
            data = await self._api(
                "POST",
                "/repos/{owner}/{name}/check-runs",
                repo,
                data=payload,
                action="create a check run",
                once=True,
            )
            return CheckRef(
                repo=repo,
                head_sha=head_sha,
                id=int(data["id"]),
                name=str(data.get("name", CHECK_NAME)),
                note_target=note_target,
            )

        return await create_once(
            post,
            lambda: self.find_check(repo, head_sha, external_id, note_target),
            policy=self.app.retry,
            action="create a check run",
        )

    async def find_check(
        self, repo: str, head_sha: str, external_id: str, note_target: Target | None = None
    ) -> CheckRef | None:
        data = await self._api(
            "GET",
            "/repos/{owner}/{name}/commits/{sha}/check-runs{?check_name,filter,per_page}",
            repo,
            sha=head_sha,
            check_name=CHECK_NAME,
            filter="all",
            per_page=100,
            action="look for the check run",
        )
        ours = [
            run
            for run in (data or {}).get("check_runs", [])
            if run.get("name") == CHECK_NAME and run.get("external_id") == external_id
        ]
        if not ours:
            return None
        newest = max(ours, key=lambda run: int(run["id"]))
        return CheckRef(
            repo=repo,
            head_sha=head_sha,
            id=int(newest["id"]),
            name=CHECK_NAME,
            note_target=note_target,
        )

    async def update_check(self, ref: CheckRef, update: CheckUpdate) -> CheckRef:
        if ref.id is None:
            return await self.start_check(ref.repo, ref.head_sha, update, ref.note_target)
        await self._api(
            "PATCH",
            "/repos/{owner}/{name}/check-runs/{check_run_id}",
            ref.repo,
            data=check_run_payload(update),
            check_run_id=ref.id,
            action="update the check run",
        )
        return ref

    async def aclose(self) -> None:
        """Nothing to close: the client belongs to the `GitHubApp`."""
