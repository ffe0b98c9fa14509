"""Comments and reactions on GitHub issues and pull requests.

A comment is a creation that a repeated POST would duplicate, so it is posted once
(`create_once`): every comment ends with a hidden marker (`app/forges/markers.py`) and a
failed POST that may have been applied is looked for by that marker before it is tried
again.
"""

from __future__ import annotations

from typing import Any

from app.forges.base import Comment, ForgeAPIError, Target
from app.forges.github.client import GitHubClient
from app.forges.github.format import COMMENT_MAX_CHARS, fit_chars, login_of
from app.forges.markers import carries, marked, once_key
from app.forges.mentions import quiet_mentions
from app.forges.retry import create_once


class GitHubComments(GitHubClient):
    """The comment side of the GitHub forge (see `GitHubForge`)."""

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

    @staticmethod
    def _comment(data: dict[str, Any]) -> Comment:
        return Comment(
            id=int(data["id"]),
            body=str(data.get("body") or ""),
            author=login_of(data.get("user")),
            url=str(data.get("html_url", "")),
        )

    async def get_comment(self, target: Target, comment_id: int) -> Comment | None:
        try:
            data = await self._api(
                "GET",
                "/repos/{owner}/{name}/issues/comments/{comment_id}",
                target.repo,
                comment_id=comment_id,
                action=f"read comment {comment_id}",
            )
        except ForgeAPIError as exc:
            if exc.status == 404:
                return None
            raise
        # the id is the repository's; the comment must also sit on this issue
        issue_url = str(data.get("issue_url") or "") if isinstance(data, dict) else ""
        if not issue_url.endswith(f"/issues/{target.number}"):
            return None
        return self._comment(data)

    async def label_added_by(self, target: Target, label: str) -> str | None:
        events = await self._list(
            "/repos/{owner}/{name}/issues/{number}/events",
            target.repo,
            number=target.number,
            action=f"read the events of #{target.number}",
        )
        added = [
            e
            for e in events
            if isinstance(e, dict)
            and e.get("event") == "labeled"
            and str((e.get("label") or {}).get("name", "")).casefold() == label.casefold()
        ]
        if not added:
            return None
        return login_of(max(added, key=lambda e: int(e.get("id") or 0)).get("actor"))

    async def create_comment(self, target: Target, body: str, key: str | None = None) -> Comment:
        body = quiet_mentions(body)
        key = key or once_key()
        text = marked(body, key, COMMENT_MAX_CHARS, fit_chars)

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
        body = quiet_mentions(body)
        text = (
            marked(body, key, COMMENT_MAX_CHARS, fit_chars)
            if key
            else fit_chars(body, COMMENT_MAX_CHARS)
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
