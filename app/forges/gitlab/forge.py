"""`GitLabForge`: the `Forge` protocol over python-gitlab (blocking, so run in threads).

Build it from the process settings: `GitLabForge(settings)` (see `client.py` for
the plumbing and `notes.py` for notes and emoji). A target's `repo` is the full
project path (`group/sub/project`), its `number` the iid; a "pull request" is a merge
request. The live progress display is a commit status (named `AgentOps`) on the head sha
plus one note on the issue/MR that is edited in place and carries the run's marker.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from gitlab.exceptions import GitlabHttpError

from app.edits.review_positions import diff_lines
from app.forges.base import (
    ChangedFile,
    CheckRef,
    CheckUpdate,
    GitRemote,
    Issue,
    PullRequest,
    RepoInfo,
    ReviewComment,
    Target,
    folded_review_body,
)
from app.forges.gitlab.errors import GitLabAPIError
from app.forges.gitlab.format import (
    STATUS_DESCRIPTION_LIMIT,
    changed_file,
    clean_url,
    commit_status_state,
    draft_title,
    fit_note,
    mr_state,
    render_check_note,
    render_diff,
    review_position,
    username_of,
)
from app.forges.gitlab.notes import GitLabNotes
from app.forges.markers import run_key
from app.forges.mentions import quiet_mentions, quiet_review

log = logging.getLogger(__name__)

DEVELOPER = 30


def check_note_key(external_id: str | None) -> str | None:
    """The marker key of a run's progress note (None: a display no run owns)."""
    return run_key(external_id, "check") if external_id else None


class GitLabForge(GitLabNotes):
    """The `Forge` protocol for one GitLab instance, acting as the configured bot user."""

    def forge_for(self, context: Mapping[str, Any], what: str) -> GitLabForge:
        """The one bot user serves every project of the instance."""
        return self

    # -------------------------------------------------------------- access
    async def repository_name(self, repo: str, context: Mapping[str, Any]) -> str | None:
        """None: the path stands. A hook's token proves the project's path, not the id its
        payload names; the run's read-back (app/workflow/provenance.py) refuses a run whose
        id and path disagree, a project renamed since included, before anything is said."""
        return None

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
            author=username_of(data.get("author")),
            state=mr_state(data.get("state")),
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
            author=username_of(data.get("author")),
            state=mr_state(data.get("state")),
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
        title, body = quiet_mentions(title), quiet_mentions(body)
        existing = await self.find_open_pull_request(repo, head)
        if existing is not None:
            return existing
        data = {
            "source_branch": head,
            "target_branch": base,
            "title": draft_title(title, draft),
            "description": fit_note(body),
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
        summary, comments = quiet_mentions(summary), quiet_review(comments)
        mr_target = dataclasses.replace(target, kind="pull_request")
        mr = self._noteable(mr_target)
        notes = await self._call(
            f"read the comments of {self._where(mr_target)}", lambda: self._list(f"{mr}/notes")
        )
        for note in notes:
            if summary and str(note.get("body") or "").startswith(fit_note(summary)):
                return self._note_url(mr_target, int(note.get("id", 0)))
        done = {
            (str(n["position"].get("new_path")), n["position"].get("new_line"), str(n.get("body")))
            for n in notes
            if isinstance(n.get("position"), dict)
        }
        comments = [c for c in comments if (c.path, c.line, fit_note(c.body)) not in done]
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

    # -------------------------------------------------------------- repository
    async def get_repo(self, repo: str) -> RepoInfo:
        data = await self._call(f"read the project {repo}", lambda: self._get(self._project(repo)))
        return RepoInfo(
            repo=str(data.get("path_with_namespace") or repo),
            default_branch=str(data.get("default_branch") or "main"),
            private=data.get("visibility") != "public",
            clone_url=clean_url(str(data.get("http_url_to_repo") or "")),
            id=int(data["id"]) if isinstance(data.get("id"), int) else None,
        )

    async def git_remote(self, repo: str) -> GitRemote:
        info = await self.get_repo(repo)
        return GitRemote(
            url=info.clone_url, auth_header=self._basic, default_branch=info.default_branch
        )

    # -------------------------------------------------------------- progress display
    async def _set_status(self, repo: str, sha: str, name: str, update: CheckUpdate) -> None:
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

        await self._call(f"set the {name} commit status on {sha[:12]} in {repo}", post)

    async def start_check(
        self, repo: str, head_sha: str, update: CheckUpdate, target: Target | None = None
    ) -> CheckRef:
        # A commit status is set, not created: GitLab keeps one per name, so it is retried
        # like a read. The note on `target` is a creation, guarded by the run's marker;
        # its id is the ref's (a status is addressed by sha and name).
        ref = CheckRef(repo=repo, head_sha=head_sha, target=target)
        await self._set_status(repo, head_sha, ref.name, update)
        if target is not None:
            note = await self.create_comment(
                target, render_check_note(update), check_note_key(update.external_id)
            )
            ref = dataclasses.replace(ref, id=note.id)
        return ref

    async def find_check(
        self, repo: str, head_sha: str, external_id: str, target: Target | None = None
    ) -> CheckRef | None:
        key = check_note_key(external_id)
        if target is None or key is None:
            return None
        note = await self.find_comment(target, key)
        if note is None:
            return None
        return CheckRef(repo=repo, head_sha=head_sha, target=target, id=note.id)

    async def update_check(self, ref: CheckRef, update: CheckUpdate) -> CheckRef:
        await self._set_status(ref.repo, ref.head_sha, ref.name, update)
        if ref.target is not None:
            body, key = render_check_note(update), check_note_key(update.external_id)
            if ref.id is not None:
                try:
                    await self.update_comment(ref.target, ref.id, body, key)
                    return ref
                except GitLabAPIError as exc:
                    if exc.status != 404:  # someone deleted the note: post a new one
                        raise
            note = await self.create_comment(ref.target, body, key)
            ref = dataclasses.replace(ref, id=note.id)
        return ref
