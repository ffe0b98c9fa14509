"""`GitLabForge`: the `Forge` protocol over python-gitlab (blocking, so run in threads).

Build it from the process settings: `GitLabForge(settings)` reads `gitlab_url`,
`gitlab_token`, `gitlab_bot_username` and `forge_timeout_seconds`. A target's `repo` is
the full project path (`group/sub/project`), its `number` the iid; a "pull request" is a
merge request. The live progress display is a commit status (named `AgentOps`) on the
head sha plus one note on the issue/MR that is edited in place.

Every call goes through `call_with_retries` (app/forges/gitlab_errors.py): a thread, the
client's own timeout and an `asyncio.wait_for`, bounded retries of 5xx/network faults,
429 -> `ForgeRateLimited`, 401/403 -> `ForgeAccessError`.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import gitlab
import requests
from gitlab.exceptions import GitlabHttpError

from app.config import Settings
from app.edits.review_positions import DiffLine, diff_lines
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
from app.forges.gitlab_errors import (
    GitLabAPIError,
    call_with_retries,
    raise_on_rate_limit,
)
from app.forges.retry import RetryPolicy
from app.redaction import register_secret

log = logging.getLogger(__name__)

T = TypeVar("T")

NOTE_LIMIT = 1_000_000  # characters GitLab accepts in one note
STATUS_DESCRIPTION_LIMIT = 255
TRUNCATION_NOTE = "\n\n…(truncated: this text was longer than GitLab allows in one note)"
DEVELOPER = 30
CHECK_MARKER = "<!-- agentops:check -->"

# GitHub reaction names -> GitLab award emoji names.
EMOJI_NAMES = {
    "+1": "thumbsup",
    "-1": "thumbsdown",
    "laugh": "laughing",
    "hooray": "tada",
    "confused": "confused",
    "heart": "heart",
    "rocket": "rocket",
    "eyes": "eyes",
}

_CONCLUSION_STATES = {
    "success": "success",
    "neutral": "success",
    "skipped": "success",
    "failure": "failed",
    "timed_out": "failed",
    "action_required": "failed",
    "cancelled": "canceled",
}
_ICONS = {
    "queued": "⏳",
    "in_progress": "🔄",
    "success": "✅",
    "failure": "❌",
    "cancelled": "⛔",
    "timed_out": "⌛",
    "neutral": "➖",
    "skipped": "⏭️",
    "action_required": "⚠️",
}


# ------------------------------------------------------------------ pure helpers
def truncate_note(text: str, limit: int = NOTE_LIMIT, note: str = TRUNCATION_NOTE) -> str:
    """Cut `text` to at most `limit` characters, saying that it was cut."""
    if len(text) <= limit:
        return text
    return text[: limit - len(note)] + note


def gitlab_emoji(name: str) -> str:
    return EMOJI_NAMES.get(name, name)


def commit_status_state(update: CheckUpdate) -> str:
    """GitLab commit status state for a check update."""
    if update.status == "queued":
        return "pending"
    if update.status == "in_progress":
        return "running"
    return _CONCLUSION_STATES.get(update.conclusion or "success", "failed")


def render_check_note(update: CheckUpdate) -> str:
    """The progress note's body; `CHECK_MARKER` lets a later run find it again."""
    icon = _ICONS.get(update.conclusion or update.status, "")
    parts = [f"{icon} **AgentOps: {update.title}**".strip(), update.summary, update.text]
    if update.details_url:
        parts.append(f"[Details]({update.details_url})")
    body = "\n\n".join(p for p in parts if p) + f"\n\n{CHECK_MARKER}"
    return truncate_note(body)


def draft_title(title: str, draft: bool) -> str:
    if not draft or title.lower().startswith(("draft:", "[draft]", "(draft)")):
        return title
    return f"Draft: {title}"


def clean_url(url: str) -> str:
    """Drop any user:password@ from a URL."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def basic_auth_header(token: str) -> str:
    encoded = base64.b64encode(f"oauth2:{token}".encode()).decode()
    return f"Authorization: Basic {encoded}"


def _state(value: Any) -> str:
    """GitLab's `opened` is GitHub's `open`; `closed`, `merged`, `locked` stay."""
    state = str(value or "")
    return "open" if state == "opened" else state


def _username(user: Any) -> str:
    return str(user.get("username", "")) if isinstance(user, dict) else ""


def changed_file(change: dict[str, Any]) -> ChangedFile:
    if change.get("new_file"):
        status = "added"
    elif change.get("deleted_file"):
        status = "removed"
    elif change.get("renamed_file"):
        status = "renamed"
    else:
        status = "modified"
    path = str(change.get("new_path") or change.get("old_path") or "")
    previous = str(change["old_path"]) if status == "renamed" else None
    return ChangedFile(
        path=path,
        status=status,
        previous_path=previous,
        patch=str(change.get("diff") or "") or None,
    )


def render_diff(changes: list[dict[str, Any]]) -> str:
    """A `git diff`-style unified diff from GitLab's per-file change entries."""
    out: list[str] = []
    for change in changes:
        old, new = str(change.get("old_path", "")), str(change.get("new_path", ""))
        out.append(f"diff --git a/{old} b/{new}")
        before, after = f"a/{old}", f"b/{new}"
        if change.get("new_file"):
            out.append(f"new file mode {change.get('b_mode', '100644')}")
            before = "/dev/null"
        elif change.get("deleted_file"):
            out.append(f"deleted file mode {change.get('a_mode', '100644')}")
            after = "/dev/null"
        else:
            if change.get("renamed_file"):
                out += [f"rename from {old}", f"rename to {new}"]
            if change.get("a_mode") and change.get("a_mode") != change.get("b_mode"):
                out += [f"old mode {change['a_mode']}", f"new mode {change['b_mode']}"]
        diff = str(change.get("diff") or "")
        if diff:
            out += [f"--- {before}", f"+++ {after}", diff.rstrip("\n")]
    return "\n".join(out) + "\n" if out else ""


def review_position(
    refs: dict[str, Any], comment: ReviewComment, where: DiffLine | None
) -> dict[str, Any]:
    """A discussion's text position on the new side; a context line needs its old line."""
    position: dict[str, Any] = {
        "position_type": "text",
        "base_sha": refs.get("base_sha"),
        "start_sha": refs.get("start_sha"),
        "head_sha": refs.get("head_sha"),
        "new_path": comment.path,
        "old_path": where.old_path if where is not None else comment.path,
        "new_line": comment.line,
    }
    if where is not None and where.old_line is not None:
        position["old_line"] = where.old_line
    return position


# ------------------------------------------------------------------ the forge
class GitLabForge:
    """The `Forge` protocol for one GitLab instance, acting as the configured bot user."""

    kind: Literal["gitlab"] = "gitlab"

    def __init__(
        self, settings: Settings, *, retry: RetryPolicy | None = None, timeout: float | None = None
    ) -> None:
        token = settings.gitlab_token.get_secret_value() if settings.gitlab_token else ""
        if not settings.gitlab_url or not token:
            raise ForgeError(
                "GitLab is not configured: set AGENTOPS_GITLAB_URL and AGENTOPS_GITLAB_TOKEN"
            )
        self.url = settings.gitlab_url.rstrip("/")
        self.bot_username = settings.gitlab_bot_username
        self._token = token
        register_secret(token)
        self._basic = basic_auth_header(token)
        register_secret(self._basic.split()[-1])
        self._timeout = timeout if timeout is not None else settings.forge_timeout_seconds
        self._retry = retry or RetryPolicy()
        session = requests.Session()
        session.hooks["response"].append(raise_on_rate_limit)
        self._gl = gitlab.Gitlab(
            self.url,
            private_token=token,
            timeout=self._timeout,
            session=session,
            retry_transient_errors=False,
            keep_base_url=True,
            user_agent="AgentOps",
        )

    # -------------------------------------------------------------- plumbing
    async def _call(self, action: str, fn: Callable[[], T]) -> T:
        return await call_with_retries(
            fn, action=action, time_budget=self._timeout, policy=self._retry, secrets=[self._token]
        )

    def _get(self, path: str, **query: Any) -> dict[str, Any]:
        data = self._gl.http_get(path, query_data=query or None)
        if not isinstance(data, dict):
            raise ForgeError(f"GitLab answered GET {path} with something other than JSON")
        return data

    def _list(self, path: str, **query: Any) -> list[dict[str, Any]]:
        data = self._gl.http_list(path, query_data=query, get_all=True, per_page=100)
        return [item for item in data if isinstance(item, dict)]

    def _post(self, path: str, data: dict[str, Any]) -> dict[str, Any]:
        result = self._gl.http_post(path, post_data=data)
        return result if isinstance(result, dict) else {}

    def _put(self, path: str, data: dict[str, Any]) -> dict[str, Any]:
        result = self._gl.http_put(path, post_data=data)
        return result if isinstance(result, dict) else {}

    @staticmethod
    def _project(repo: str) -> str:
        return f"/projects/{quote(repo, safe='')}"

    def _noteable(self, target: Target) -> str:
        kind = "merge_requests" if target.kind == "pull_request" else "issues"
        return f"{self._project(target.repo)}/{kind}/{target.number}"

    def _note_url(self, target: Target, note_id: int) -> str:
        kind = "merge_requests" if target.kind == "pull_request" else "issues"
        return f"{self.url}/{target.repo}/-/{kind}/{target.number}#note_{note_id}"

    def _comment(self, target: Target, data: dict[str, Any]) -> Comment:
        note_id = int(data.get("id", 0))
        return Comment(
            id=note_id,
            body=str(data.get("body") or ""),
            author=_username(data.get("author")),
            url=self._note_url(target, note_id),
        )

    def _where(self, target: Target) -> str:
        sign = "!" if target.kind == "pull_request" else "#"
        return f"{target.repo}{sign}{target.number}"

    # -------------------------------------------------------------- access
    async def has_write_access(self, repo: str, user: str) -> bool:
        members = await self._call(
            f"read the members of {repo}",
            lambda: self._list(f"{self._project(repo)}/members/all", query=user),
        )
        for member in members:
            if str(member.get("username", "")).lower() != user.lower():
                continue
            active = (
                member.get("state", "active") == "active"
                and member.get("membership_state", "active") == "active"
            )
            return active and int(member.get("access_level") or 0) >= DEVELOPER
        return False

    async def current_username(self) -> str:
        """The bot's user name: from settings, else asked of GitLab (`GET /user`)."""
        if not self.bot_username:
            data = await self._call("read the bot user", lambda: self._get("/user"))
            self.bot_username = str(data.get("username", ""))
        return self.bot_username

    # -------------------------------------------------------------- notes and emoji
    async def add_reaction(self, target: Target, comment_id: int | None, emoji: str) -> None:
        path = self._noteable(target)
        if comment_id is not None:
            path += f"/notes/{comment_id}"
        name = gitlab_emoji(emoji)

        def award() -> None:
            try:
                self._post(f"{path}/award_emoji", {"name": name})
            except GitlabHttpError as exc:
                if "already been taken" not in str(exc.error_message):
                    raise

        await self._call(f"add :{name}: to {self._where(target)}", award)

    async def create_comment(self, target: Target, body: str) -> Comment:
        data = await self._call(
            f"comment on {self._where(target)}",
            lambda: self._post(f"{self._noteable(target)}/notes", {"body": truncate_note(body)}),
        )
        return self._comment(target, data)

    async def update_comment(self, target: Target, comment_id: int, body: str) -> Comment:
        data = await self._call(
            f"edit a comment on {self._where(target)}",
            lambda: self._put(
                f"{self._noteable(target)}/notes/{comment_id}", {"body": truncate_note(body)}
            ),
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

    # -------------------------------------------------------------- issues and MRs
    async def get_issue(self, target: Target) -> Issue:
        data = await self._call(
            f"read {self._where(target)}", lambda: self._get(self._noteable(target))
        )
        labels = tuple(str(label) for label in data.get("labels") or ())
        return Issue(
            target=target,
            title=str(data.get("title") or ""),
            body=str(data.get("description") or ""),
            author=_username(data.get("author")),
            state=_state(data.get("state")),
            labels=labels,
            url=str(data.get("web_url") or ""),
        )

    async def get_pull_request(self, target: Target) -> PullRequest:
        mr_target = dataclasses.replace(target, kind="pull_request")
        data = await self._call(
            f"read {self._where(mr_target)}", lambda: self._get(self._noteable(mr_target))
        )
        return await self._pull(target.repo, data)

    async def _pull(self, repo: str, data: dict[str, Any]) -> PullRequest:
        head_repo = repo
        source, target = data.get("source_project_id"), data.get("target_project_id")
        if source and target and source != target:
            fork = await self._call(
                f"read the source project of {repo}!{data.get('iid')}",
                lambda: self._get(f"/projects/{int(source)}"),
            )
            head_repo = str(fork.get("path_with_namespace") or head_repo)
        refs = data.get("diff_refs") or {}
        return PullRequest(
            target=Target(repo=repo, kind="pull_request", number=int(data.get("iid", 0))),
            title=str(data.get("title") or ""),
            body=str(data.get("description") or ""),
            author=_username(data.get("author")),
            state=_state(data.get("state")),
            head_ref=str(data.get("source_branch") or ""),
            head_sha=str(data.get("sha") or refs.get("head_sha") or ""),
            base_ref=str(data.get("target_branch") or ""),
            base_sha=str(refs.get("base_sha") or refs.get("start_sha") or ""),
            head_repo=head_repo,
            draft=bool(data.get("draft", data.get("work_in_progress", False))),
            url=str(data.get("web_url") or ""),
        )

    async def _changes(self, target: Target) -> list[dict[str, Any]]:
        mr = self._noteable(dataclasses.replace(target, kind="pull_request"))

        def read() -> list[dict[str, Any]]:
            try:
                return self._list(f"{mr}/diffs")
            except GitlabHttpError as exc:  # GitLab before 15.7 has only /changes
                if exc.response_code != 404:
                    raise
                changes = self._get(f"{mr}/changes").get("changes") or []
                return [c for c in changes if isinstance(c, dict)]

        return await self._call(f"read the changes of {target.repo}!{target.number}", read)

    async def list_changed_files(self, target: Target) -> list[ChangedFile]:
        return [changed_file(c) for c in await self._changes(target)]

    async def get_diff(self, target: Target) -> str:
        return render_diff(await self._changes(target))

    async def find_open_pull_request(self, repo: str, head: str) -> PullRequest | None:
        """The open merge request whose source branch is `head`, if any."""
        found = await self._call(
            f"look for an open merge request from {head} in {repo}",
            lambda: self._list(
                f"{self._project(repo)}/merge_requests", state="opened", source_branch=head
            ),
        )
        if not found:
            return None
        return await self.get_pull_request(
            Target(repo=repo, kind="pull_request", number=int(found[0]["iid"]))
        )

    async def open_pull_request(
        self, repo: str, head: str, base: str, title: str, body: str, draft: bool = True
    ) -> PullRequest:
        existing = await self.find_open_pull_request(repo, head)
        if existing is not None:
            return existing
        data = {
            "source_branch": head,
            "target_branch": base,
            "title": draft_title(title, draft),
            "description": truncate_note(body),
            "remove_source_branch": True,
        }
        try:
            created = await self._call(
                f"open a merge request from {head} into {base} in {repo}",
                lambda: self._post(f"{self._project(repo)}/merge_requests", data),
            )
        except GitLabAPIError as exc:
            if exc.status != 409:
                raise
            existing = await self.find_open_pull_request(repo, head)  # lost a race
            if existing is None:
                raise
            return existing
        return await self._pull(repo, created)

    # -------------------------------------------------------------- reviews
    async def create_review(
        self, target: Target, head_sha: str, summary: str, comments: Sequence[ReviewComment]
    ) -> str:
        """One diff discussion per comment (a text position on the new side, against the
        merge request's current `diff_refs`), then one note with the summary.

        A comment GitLab cannot place (400: not a line of the diff) goes into the summary.
        `head_sha` is the commit reviewed; the positions use the merge request's own refs.
        Posting again does not repeat itself: a note that starts with `summary` means the
        review is done (its URL is returned), and a comment already on its line is kept.
        """
        mr_target = dataclasses.replace(target, kind="pull_request")
        mr = self._noteable(mr_target)
        notes = await self._call(f"read the comments of {self._where(mr_target)}",
                                 lambda: self._list(f"{mr}/notes"))
        for note in notes:
            if summary and str(note.get("body") or "").startswith(truncate_note(summary)):
                return self._note_url(mr_target, int(note.get("id", 0)))
        done = {(str(n["position"].get("new_path")), n["position"].get("new_line"),
                 str(n.get("body"))) for n in notes if isinstance(n.get("position"), dict)}
        comments = [c for c in comments if (c.path, c.line, truncate_note(c.body)) not in done]
        unplaced: list[ReviewComment] = []
        if comments:
            data = await self._call(f"read {self._where(mr_target)}", lambda: self._get(mr))
            refs = data.get("diff_refs") or {}
            lines = diff_lines(render_diff(await self._changes(mr_target)))
            for comment in comments:
                where = lines.get(comment.path, {}).get(comment.line)
                position = review_position(refs, comment, where)
                try:
                    await self._post_discussion(mr_target, mr, comment.body, position)
                except GitLabAPIError as exc:
                    if exc.status != 400:
                        raise
                    unplaced.append(comment)
        posted = await self.create_comment(mr_target, folded_review_body(summary, unplaced))
        return posted.url

    async def _post_discussion(
        self, target: Target, mr: str, body: str, position: dict[str, Any]
    ) -> None:
        data = {"body": truncate_note(body), "position": position}
        await self._call(
            f"comment on line {position['new_line']} of {position['new_path']} in "
            f"{self._where(target)}",
            lambda: self._post(f"{mr}/discussions", data),
        )

    # -------------------------------------------------------------- repository
    async def get_repo(self, repo: str) -> RepoInfo:
        data = await self._call(f"read the project {repo}", lambda: self._get(self._project(repo)))
        return RepoInfo(
            repo=str(data.get("path_with_namespace") or repo),
            default_branch=str(data.get("default_branch") or "main"),
            private=data.get("visibility") != "public",
            clone_url=clean_url(str(data.get("http_url_to_repo") or "")),
        )

    async def git_remote(self, repo: str) -> GitRemote:
        info = await self.get_repo(repo)
        return GitRemote(
            url=info.clone_url, auth_header=self._basic, default_branch=info.default_branch
        )

    # -------------------------------------------------------------- progress display
    async def _set_status(self, repo: str, sha: str, name: str, update: CheckUpdate) -> int | None:
        state = commit_status_state(update)
        data: dict[str, Any] = {
            "state": state,
            "name": name,
            "description": update.title[:STATUS_DESCRIPTION_LIMIT],
        }
        if update.details_url:
            data["target_url"] = update.details_url

        def post() -> dict[str, Any]:
            try:
                return self._post(f"{self._project(repo)}/statuses/{sha}", data)
            except GitlabHttpError as exc:
                # Already in this state (e.g. running -> running): what we wanted.
                if exc.response_code == 400 and "Cannot transition status" in str(
                    exc.error_message
                ):
                    return {}
                raise

        result = await self._call(f"set the {name} commit status on {sha[:12]} in {repo}", post)
        return int(result["id"]) if result.get("id") is not None else None

    async def start_check(
        self, repo: str, head_sha: str, update: CheckUpdate, note_target: Target | None = None
    ) -> CheckRef:
        ref = CheckRef(repo=repo, head_sha=head_sha, note_target=note_target)
        status_id = await self._set_status(repo, head_sha, ref.name, update)
        ref = dataclasses.replace(ref, id=status_id)
        if note_target is not None:
            note = await self.create_comment(note_target, render_check_note(update))
            ref = dataclasses.replace(ref, note_id=note.id)
        return ref

    async def update_check(self, ref: CheckRef, update: CheckUpdate) -> CheckRef:
        status_id = await self._set_status(ref.repo, ref.head_sha, ref.name, update)
        ref = dataclasses.replace(ref, id=status_id or ref.id)
        if ref.note_target is not None:
            body = render_check_note(update)
            if ref.note_id is not None:
                try:
                    await self.update_comment(ref.note_target, ref.note_id, body)
                    return ref
                except GitLabAPIError as exc:
                    if exc.status != 404:  # someone deleted the note: post a new one
                        raise
            note = await self.create_comment(ref.note_target, body)
            ref = dataclasses.replace(ref, note_id=note.id)
        return ref

    async def aclose(self) -> None:
        self._gl.session.close()
