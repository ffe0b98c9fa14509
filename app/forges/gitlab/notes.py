"""Notes, diff discussions and award emoji on GitLab issues and merge requests.

A note is a creation that a repeated POST would duplicate, so it is posted once
(`create_once`): every note ends with a hidden marker (`app/forges/markers.py`) and a
failed POST that may have been applied is looked for by that marker before it is tried
again. A diff discussion is looked for by its place and text.
"""

from __future__ import annotations

from typing import Any

from gitlab.exceptions import GitlabHttpError

from app.forges.base import Comment, Target
from app.forges.gitlab.client import GitLabClient
from app.forges.gitlab.format import NOTE_LIMIT, fit_note, gitlab_emoji, username_of
from app.forges.markers import carries, marked, once_key
from app.forges.mentions import quiet_mentions
from app.forges.retry import ONE_TRY, create_once


class GitLabNotes(GitLabClient):
    """The comment side of the GitLab forge (see `GitLabForge`)."""

    async def add_reaction(self, target: Target, comment_id: int | None, emoji: str) -> None:
        path = self._noteable(target)
        if comment_id is not None:
            path += f"/notes/{comment_id}"
        name = gitlab_emoji(emoji)

        def award() -> None:  # idempotent: GitLab refuses a second award of the same emoji
            try:
                self._post(f"{path}/award_emoji", {"name": name})
            except GitlabHttpError as exc:
                if "already been taken" not in str(exc.error_message):
                    raise

        await self._call(f"add :{name}: to {self._where(target)}", award)

    async def create_comment(self, target: Target, body: str, key: str | None = None) -> Comment:
        body = quiet_mentions(body)
        key = key or once_key()
        text = marked(body, key, NOTE_LIMIT, fit_note)
        action = f"comment on {self._where(target)}"

        async def post() -> Comment:
            data = await self._call(
                action,
                lambda: self._post(f"{self._noteable(target)}/notes", {"body": text}),
                ONE_TRY,
            )
            return self._comment(target, data)

        return await create_once(
            post, lambda: self.find_comment(target, key), policy=self._retry, action=action
        )

    async def update_comment(
        self, target: Target, comment_id: int, body: str, key: str | None = None
    ) -> Comment:
        body = quiet_mentions(body)
        text = marked(body, key, NOTE_LIMIT, fit_note) if key else fit_note(body)
        data = await self._call(
            f"edit a comment on {self._where(target)}",
            lambda: self._put(f"{self._noteable(target)}/notes/{comment_id}", {"body": text}),
        )
        return self._comment(target, data)

    async def list_comments(self, target: Target) -> list[Comment]:
        notes = await self._call(
            f"read the comments of {self._where(target)}",
            lambda: self._list(
                f"{self._noteable(target)}/notes", sort="asc", order_by="created_at"
            ),
        )
        return [self._comment(target, n) for n in notes if not n.get("system")]

    async def get_comment(self, target: Target, comment_id: int) -> Comment | None:
        path = f"{self._noteable(target)}/notes/{int(comment_id)}"

        def read() -> dict[str, Any] | None:
            try:
                return self._get(path)
            except GitlabHttpError as exc:
                if exc.response_code == 404:
                    return None
                raise

        note = await self._call(f"read comment {comment_id} on {self._where(target)}", read)
        if note is None or note.get("system"):
            return None
        return self._comment(target, note)

    async def label_added_by(self, target: Target, label: str) -> str | None:
        events = await self._call(
            f"read the label events of {self._where(target)}",
            lambda: self._list(f"{self._noteable(target)}/resource_label_events"),
        )
        added = [
            e
            for e in events
            if e.get("action") == "add"
            and isinstance(e.get("label"), dict)
            and str(e["label"].get("name", "")).casefold() == label.casefold()
        ]
        if not added:
            return None
        return username_of(max(added, key=lambda e: int(e.get("id") or 0)).get("user"))

    async def find_comment(self, target: Target, key: str) -> Comment | None:
        bot = self.bot_username

        def ours(note: dict[str, Any]) -> bool:
            return (
                not note.get("system")
                and carries(str(note.get("body") or ""), key)
                and (not bot or username_of(note.get("author")) == bot)
            )

        note = await self._call(
            f"look for an earlier comment on {self._where(target)}",
            lambda: self._first(
                f"{self._noteable(target)}/notes", ours, sort="desc", order_by="created_at"
            ),
        )
        return self._comment(target, note) if note is not None else None

    async def _post_discussion(
        self, target: Target, mr: str, body: str, position: dict[str, Any]
    ) -> None:
        """One diff discussion on a line; a failed try that was applied is not repeated."""
        text = fit_note(body)
        data = {"body": text, "position": position}
        action = (
            f"comment on line {position['new_line']} of {position['new_path']} in "
            f"{self._where(target)}"
        )

        def same(note: dict[str, Any]) -> bool:
            where = note.get("position")
            return (
                isinstance(where, dict)
                and str(note.get("body")) == text
                and where.get("new_path") == position["new_path"]
                and where.get("new_line") == position["new_line"]
            )

        async def post() -> bool:
            await self._call(action, lambda: self._post(f"{mr}/discussions", data), ONE_TRY)
            return True

        async def find() -> bool | None:
            note = await self._call(
                f"read the comments of {self._where(target)}",
                lambda: self._first(f"{mr}/notes", same),
            )
            return True if note is not None else None

        await create_once(post, find, policy=self._retry, action=action)
