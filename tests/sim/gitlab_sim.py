"""A GitLab REST v4 simulator with real git behind it, for integration and end-to-end tests.

State lives in memory (users, projects, issues, merge requests, notes, award emoji,
commit statuses, members); repositories are real bare git repositories served through
`git http-backend` (tests/sim/git_http.py). JSON shapes, errors and pagination headers
are those python-gitlab reads.

Typical use::

    sim = GitLabSim(tmp_path)                      # creates the bot user "agentops-bot"
    alice = sim.add_user("alice")                  # token: sim.users["alice"].token
    sim.add_project("group/app", {"README.md": "hi\\n"}, default_branch="main")
    sim.set_access("group/app", "alice", 30)       # Developer
    issue = sim.add_issue("group/app", "Add foo", "Please add foo", author="alice",
                          labels=["bug"])          # -> dict, issue["iid"] == 1
    with sim.serve() as base_url:                  # serve_app + sim.base_url = base_url
        settings = Settings(gitlab_url=base_url, gitlab_token=sim.bot_token, ...)
        ...
        sim.notes("group/app", "issue", 1)         # -> list of note dicts
        sim.statuses("group/app", sha)             # -> list of commit status dicts

Setup: `add_user(username, token=None, name=None, admin=False) -> SimUser`,
`add_project(path, files, default_branch="main", visibility="private", bot_access=40)
-> SimProject` (the bot becomes a member at `bot_access`; None for none),
`set_access(project, username, level)` (10 guest, 20 reporter, 30 developer,
40 maintainer, 50 owner; `level=None` removes), `add_issue(project, title, description,
author, labels=())`, `add_merge_request(project, source_branch, target_branch, title,
author, description="", source_project=None)` (the branch must exist in git;
`source_project` names a fork), `add_note(project, kind, iid,
body, author) -> dict` where kind is "issue" or "merge_request", `delete_note(project,
kind, iid, note_id)`,
`push_files(project, branch, files, message="change", base=None) -> sha` (commit straight
into the bare repository).

Reading state: `notes(project, kind, iid)` (diff notes too), `discussions(project, iid,
kind="merge_request")` (each `{"id", "individual_note", "notes": [...]}`; a diff note
carries `type` "DiffNote" and its `position`), `award_emoji(project, kind, iid, note_id=None)`,
`statuses(project, sha)`, `merge_requests(project)`, `issues(project)`,
`label_events(project, kind, iid)` (GitLab's resource label events: who added or removed
which label, recorded by `add_issue(labels=...)` and the label-changing webhook payload
builders; `GET .../issues|merge_requests/:iid/resource_label_events` lists them),
`project(path) -> SimProject` (`.bare` is the bare repo path, `.id`), `head_sha(project,
branch)`, `requests` (the request log: `SimRequest(method, path, query, status, user,
body)`; tokens are never logged), `clear_requests()`.

Faults: `fail(method, path_regex, status=500, times=1, retry_after=None,
message=None, headers=None)` makes the next `times` calls whose "METHOD /decoded/path"
(path after /api/v4, e.g. "POST /projects/group/app/issues/1/notes") matches
`path_regex` (re.search; method "*" for any) answer `status`; 429 answers carry
`Retry-After` (and `RateLimit-Reset`). `delay(method, path_regex, seconds, times=1)`
makes them answer late (a hung server); `drop(method, path_regex, times=1)` cuts the
connection mid-answer. Each takes `applied=True`: the request is carried out first (a
POST creates its note) and then answered with the fault (a 5xx, a cut connection, or
the real answer late), as when a forge fails after the write; the log shows only the
fault's status. `body_contains="text"` makes only requests with a parameter containing
the text match. `clear_faults()`.

Discussions: `GET|POST /projects/:id/merge_requests/:iid/discussions` (and on issues).
A `position` (JSON object, or form fields `position[...]`) must be `position_type` text
with the merge request's current `diff_refs` (base_sha, start_sha, head_sha; every MR's
JSON carries them) and name a line of the diff's hunks on `new_path` as GitLab wants it:
an added line by `new_line`, a removed line by `old_line`, an unchanged context line by
both; anything else answers 400 with GitLab's "line_code ... must be a valid line code".

Webhook payloads (GitLab's documented shapes, built from sim state; `sim.base_url` must
be set, as `serve()` does): `webhook_note_event(project, kind, iid, body, author,
note_id=None, action="create")` (creates the note in the sim unless `note_id` is given),
`webhook_issue_event(project, iid, author, action="update", labels_previous=None,
labels_current=None)` (sets the issue's labels to `labels_current`),
`webhook_merge_request_event(project, iid, author, action="update", labels_previous=None,
labels_current=None)`, and `webhook_headers(event, secret, uuid=None)` for the
`X-Gitlab-Event` / `X-Gitlab-Token` / `X-Gitlab-Event-UUID` / `Idempotency-Key` headers
(with `body=` and `signing_token=` also the Standard Webhooks `webhook-signature`), and
`webhook_request(event, payload, secret, signing_token=None) -> (body, headers)`.

Git: clone URLs are `{base_url}/{path}.git`; git requests need HTTP Basic auth with any
user name and a valid token as password (`oauth2:<token>`); no or bad credentials -> 401.
Fetching a private project needs Reporter (20), pushing needs Developer (30).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import itertools
import json
import math
import os
import re
import subprocess
import threading
import time
import uuid as uuid_module
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.sim.faults import DroppedResponse
from tests.sim.git_http import git_http_backend, init_bare_repo, rev_parse
from tests.sim.serve import serve_app

ACCESS_NAMES = {10: "Guest", 20: "Reporter", 30: "Developer", 40: "Maintainer", 50: "Owner"}
NOTE_MAX_CHARS = 1_000_000
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Sim",
    "GIT_AUTHOR_EMAIL": "sim@example.invalid",
    "GIT_COMMITTER_NAME": "Sim",
    "GIT_COMMITTER_EMAIL": "sim@example.invalid",
}

# GitLab's commit status state machine (Ci::HasStatus): event -> states it may leave.
_EVENT_FROM = {
    "enqueue": {"created", "skipped", "manual", "scheduled"},
    "run": {"pending"},
    "succeed": {"created", "pending", "running"},
    "drop": {"created", "pending", "running"},
    "cancel": {"created", "pending", "running"},
}
_EVENT_TO = {
    "enqueue": "pending",
    "run": "running",
    "succeed": "success",
    "drop": "failed",
    "cancel": "canceled",
}
_STATE_EVENTS = {
    "pending": ["enqueue"],
    "running": ["enqueue?", "run"],
    "success": ["succeed"],
    "failed": ["drop"],
    "canceled": ["cancel"],
}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _hook_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass
class SimUser:
    id: int
    username: str
    name: str
    token: str = field(repr=False)
    admin: bool = False

    def json(self, base: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "name": self.name,
            "state": "active",
            "locked": False,
            "avatar_url": None,
            "web_url": f"{base}/{self.username}",
        }


@dataclass
class SimProject:
    id: int
    path: str
    default_branch: str
    visibility: str
    bare: Path
    members: dict[int, int] = field(default_factory=dict)  # user id -> access level
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    merge_requests: dict[int, dict[str, Any]] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)  # title -> label id
    next_iid: dict[str, int] = field(default_factory=lambda: {"issue": 1, "merge_request": 1})

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]

    @property
    def namespace(self) -> str:
        return self.path.rsplit("/", 1)[0] if "/" in self.path else ""


@dataclass
class SimRequest:
    method: str
    path: str  # decoded, after /api/v4 (or the git path)
    query: str
    status: int
    user: str | None
    body: Any = None


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    remaining: int
    status: int = 500
    delay: float = 0.0
    retry_after: float | None = None
    message: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    applied: bool = False  # carry the request out first, then answer with the fault
    drop: bool = False  # cut the connection mid-answer instead of answering `status`
    body_contains: str | None = None

    def matches(self, method: str, path: str, data: dict[str, Any]) -> bool:
        return (
            self.remaining > 0
            and self.method in ("*", method)
            and self.pattern.search(f"{method} {path}") is not None
            and (
                self.body_contains is None
                or any(self.body_contains in str(v) for v in data.values())
            )
        )


class _HttpError(Exception):
    def __init__(self, status: int, message: Any, headers: dict[str, str] | None = None):
        super().__init__(str(message))
        self.status = status
        self.message = message
        self.headers = headers or {}


def _not_found(what: str = "Not found") -> _HttpError:
    return _HttpError(404, f"404 {what} Not Found" if what != "Not found" else "404 Not Found")


Handler = Callable[..., Awaitable[Response] | Response]


class GitLabSim:
    """In-memory GitLab; `.app` is the Starlette application to serve."""

    def __init__(
        self,
        root: Path,
        bot_username: str = "agentops-bot",
        bot_token: str = "glpat-simbot0000000000000000",  # noqa: S107
    ) -> None:
        self.root = Path(root)
        self.git_root = self.root / "git"
        self.git_root.mkdir(parents=True, exist_ok=True)
        self.base_url = ""
        self.users: dict[str, SimUser] = {}
        self.projects: dict[int, SimProject] = {}
        self.requests: list[SimRequest] = []
        self._faults: list[_Fault] = []
        self._ids = itertools.count(1)
        self._notes: dict[tuple[int, str, int], list[dict[str, Any]]] = {}
        # (project id, kind, iid) -> resource label events, oldest first
        self._label_events: dict[tuple[int, str, int], list[dict[str, Any]]] = {}
        self._emoji: list[dict[str, Any]] = []
        self._statuses: dict[tuple[int, str], list[dict[str, Any]]] = {}
        self._discussions: dict[tuple[int, str, int], list[dict[str, Any]]] = {}
        self.bot = self.add_user(bot_username, token=bot_token, name="AgentOps")
        self.bot_token = bot_token
        self.app = Starlette(
            routes=[
                Route("/api/v4/{rest:path}", self._api, methods=["GET", "POST", "PUT", "DELETE"]),
                Route("/{rest:path}", self._git, methods=["GET", "POST"]),
            ]
        )
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = [
            (m, re.compile(f"^{p}$"), h) for m, p, h in self._route_table()
        ]

    # ------------------------------------------------------------------ setup
    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve the simulator on loopback; yields (and remembers) its base URL."""
        with serve_app(self.app) as base:
            self.base_url = base
            yield base

    def add_user(
        self, username: str, token: str | None = None, name: str | None = None, admin: bool = False
    ) -> SimUser:
        user = SimUser(
            next(self._ids),
            username,
            name or username.title(),
            token or f"glpat-{uuid_module.uuid4().hex[:20]}",
            admin,
        )
        self.users[username] = user
        return user

    def add_project(
        self,
        path: str,
        files: dict[str, str],
        default_branch: str = "main",
        visibility: str = "private",
        bot_access: int | None = 40,
    ) -> SimProject:
        bare = init_bare_repo(self.git_root, path, files, branch=default_branch)
        project = SimProject(next(self._ids), path, default_branch, visibility, bare)
        self.projects[project.id] = project
        if bot_access is not None:
            project.members[self.bot.id] = bot_access
        return project

    def project(self, ref: str | int | SimProject) -> SimProject:
        if isinstance(ref, SimProject):
            return ref
        if isinstance(ref, int) or str(ref).isdigit():
            found = self.projects.get(int(ref))
            if found:
                return found
        for project in self.projects.values():
            if project.path.lower() == str(ref).lower():
                return project
        raise KeyError(f"no project {ref!r}")

    def set_access(self, project: str | SimProject, username: str, level: int | None) -> None:
        proj = self.project(project)
        user = self.users[username]
        if level is None:
            proj.members.pop(user.id, None)
        else:
            proj.members[user.id] = level

    def add_issue(
        self,
        project: str | SimProject,
        title: str,
        description: str = "",
        author: str | None = None,
        labels: Iterable[str] = (),
    ) -> dict[str, Any]:
        proj = self.project(project)
        user = self.users[author] if author else self.bot
        return self._create_issue(proj, user, title, description, list(labels))

    def add_merge_request(
        self,
        project: str | SimProject,
        source_branch: str,
        target_branch: str | None = None,
        title: str = "Change",
        author: str | None = None,
        description: str = "",
        source_project: str | None = None,
    ) -> dict[str, Any]:
        """Open a merge request; `source_project` (a fork's path) defaults to `project`."""
        proj = self.project(project)
        user = self.users[author] if author else self.bot
        data: dict[str, Any] = {
            "source_branch": source_branch,
            "target_branch": target_branch or proj.default_branch,
            "title": title,
            "description": description,
        }
        if source_project is not None:
            data["source_project_id"] = self.project(source_project).id
        return self._create_mr(proj, user, data)

    def add_note(
        self, project: str | SimProject, kind: str, iid: int, body: str, author: str | None = None
    ) -> dict[str, Any]:
        proj = self.project(project)
        user = self.users[author] if author else self.bot
        return self._create_note(proj, kind, iid, body, user)

    def delete_note(self, project: str | SimProject, kind: str, iid: int, note_id: int) -> None:
        notes = self._notes.get((self.project(project).id, _kind(kind), iid), [])
        notes[:] = [n for n in notes if n["id"] != note_id]

    def push_files(
        self,
        project: str | SimProject,
        branch: str,
        files: dict[str, str],
        message: str = "change",
        base: str | None = None,
    ) -> str:
        """Commit `files` onto `branch` (created from `base`, default branch by default)."""
        proj = self.project(project)
        work = self.root / ".push" / uuid_module.uuid4().hex
        env = {**os.environ, **GIT_ENV}

        def git(*args: str, cwd: Path = work) -> str:
            done = subprocess.run(
                ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
            )
            return done.stdout.strip()

        start = rev_parse(proj.bare, f"refs/heads/{branch}") and branch
        subprocess.run(
            [
                "git",
                "clone",
                "-q",
                "-b",
                start or base or proj.default_branch,
                str(proj.bare),
                str(work),
            ],
            check=True,
            capture_output=True,
            env=env,
        )
        if not start:
            git("checkout", "-q", "-b", branch)
        for name, content in files.items():
            target = work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        git("add", "-A")
        git("commit", "-q", "-m", message)
        git("push", "-q", "origin", f"HEAD:refs/heads/{branch}")
        return git("rev-parse", "HEAD")

    def head_sha(self, project: str | SimProject, branch: str | None = None) -> str | None:
        proj = self.project(project)
        return rev_parse(proj.bare, f"refs/heads/{branch or proj.default_branch}")

    # ------------------------------------------------------------------ reading state
    def notes(self, project: str | SimProject, kind: str, iid: int) -> list[dict[str, Any]]:
        return list(self._notes.get((self.project(project).id, _kind(kind), iid), []))

    def award_emoji(
        self, project: str | SimProject, kind: str, iid: int, note_id: int | None = None
    ) -> list[dict[str, Any]]:
        proj = self.project(project)
        if note_id is not None:
            return [
                e
                for e in self._emoji
                if e["awardable_type"] == "Note" and e["awardable_id"] == note_id
            ]
        obj = self._awardable(proj, _kind(kind), iid)
        return [
            e
            for e in self._emoji
            if e["awardable_type"] == obj["_type"] and e["awardable_id"] == obj["id"]
        ]

    def discussions(
        self, project: str | SimProject, iid: int, kind: str = "merge_request"
    ) -> list[dict[str, Any]]:
        """The discussions of a merge request (or issue), oldest first, with their notes."""
        return list(self._discussions.get((self.project(project).id, _kind(kind), iid), []))

    def statuses(self, project: str | SimProject, sha: str) -> list[dict[str, Any]]:
        return list(self._statuses.get((self.project(project).id, sha), []))

    def merge_requests(self, project: str | SimProject) -> list[dict[str, Any]]:
        proj = self.project(project)
        return [self._mr_json(proj, mr) for mr in proj.merge_requests.values()]

    def issues(self, project: str | SimProject) -> list[dict[str, Any]]:
        proj = self.project(project)
        return [self._issue_json(proj, i) for i in proj.issues.values()]

    def clear_requests(self) -> None:
        self.requests.clear()

    # ------------------------------------------------------------------ faults
    def fail(
        self,
        method: str,
        path_regex: str,
        status: int = 500,
        times: int = 1,
        retry_after: float | None = None,
        message: str | None = None,
        headers: dict[str, str] | None = None,
        *,
        applied: bool = False,
        body_contains: str | None = None,
    ) -> None:
        self._add_fault(
            method,
            path_regex,
            times,
            status=status,
            retry_after=retry_after,
            message=message,
            headers=dict(headers or {}),
            applied=applied,
            body_contains=body_contains,
        )

    def delay(
        self,
        method: str,
        path_regex: str,
        seconds: float,
        times: int = 1,
        *,
        applied: bool = False,
        body_contains: str | None = None,
    ) -> None:
        self._add_fault(
            method,
            path_regex,
            times,
            status=0,
            delay=seconds,
            applied=applied,
            body_contains=body_contains,
        )

    def drop(
        self,
        method: str,
        path_regex: str,
        times: int = 1,
        *,
        applied: bool = False,
        body_contains: str | None = None,
    ) -> None:
        self._add_fault(
            method,
            path_regex,
            times,
            status=0,
            drop=True,
            applied=applied,
            body_contains=body_contains,
        )

    def _add_fault(self, method: str, path_regex: str, times: int, **kind: Any) -> None:
        self._faults.append(_Fault(method.upper(), re.compile(path_regex), times, **kind))

    def clear_faults(self) -> None:
        self._faults.clear()

    # ------------------------------------------------------------------ webhooks
    def webhook_headers(
        self,
        event: str,
        secret: str,
        uuid: str | None = None,
        body: bytes | None = None,
        signing_token: str | None = None,
        timestamp: int | None = None,
    ) -> dict[str, str]:
        """Headers GitLab sends: event is "Note Hook", "Issue Hook", "Merge Request Hook".

        With `body` and a `signing_token` (`whsec_<base64 key>`) the delivery is also signed
        the Standard Webhooks way (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
        """
        event_id = uuid or str(uuid_module.uuid4())
        headers = {
            "Content-Type": "application/json",
            "X-Gitlab-Event": event,
            "X-Gitlab-Token": secret,
            "X-Gitlab-Event-UUID": event_id,
            "Idempotency-Key": event_id,
            "X-Gitlab-Webhook-UUID": str(
                uuid_module.uuid5(uuid_module.NAMESPACE_URL, self.base_url or "sim")
            ),
            "X-Gitlab-Instance": self.base_url,
            "User-Agent": "GitLab/17.5.0",
        }
        if signing_token is not None and body is not None:
            sent = str(timestamp if timestamp is not None else int(time.time()))
            key = base64.b64decode(signing_token.removeprefix("whsec_"))
            signed = f"{event_id}.{sent}.".encode() + body
            digest = hmac.new(key, signed, hashlib.sha256).digest()
            headers.update(
                {
                    "webhook-id": event_id,
                    "webhook-timestamp": sent,
                    "webhook-signature": "v1," + base64.b64encode(digest).decode(),
                }
            )
        return headers

    def webhook_request(
        self, event: str, payload: dict[str, Any], secret: str, signing_token: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one delivery, ready for `POST /webhooks/gitlab`."""
        body = json.dumps(payload).encode()
        return body, self.webhook_headers(event, secret, body=body, signing_token=signing_token)

    def webhook_note_event(
        self,
        project: str | SimProject,
        kind: str,
        iid: int,
        body: str,
        author: str,
        note_id: int | None = None,
        action: str = "create",
    ) -> dict[str, Any]:
        """A Note Hook payload for a comment on an issue or merge request."""
        proj = self.project(project)
        kind = _kind(kind)
        user = self.users[author]
        if note_id is None:
            note = self._create_note(proj, kind, iid, body, user)
        else:
            note = next(n for n in self._notes.get((proj.id, kind, iid), []) if n["id"] == note_id)
        obj = self._awardable(proj, kind, iid)
        noteable_type = "Issue" if kind == "issue" else "MergeRequest"
        url = f"{self._web_url(proj)}/-/{_url_kind(kind)}/{iid}#note_{note['id']}"
        payload: dict[str, Any] = {
            "object_kind": "note",
            "event_type": "note",
            "user": self._hook_user(user),
            "project_id": proj.id,
            "project": self._hook_project(proj),
            "object_attributes": {
                "id": note["id"],
                "note": note["body"],
                "noteable_type": noteable_type,
                "author_id": user.id,
                "created_at": _hook_time(),
                "updated_at": _hook_time(),
                "project_id": proj.id,
                "attachment": None,
                "line_code": None,
                "commit_id": "",
                "noteable_id": obj["id"],
                "system": False,
                "st_diff": None,
                "url": url,
                "action": action,
                "type": None,
                "internal": False,
                "confidential": False,
                "discussion_id": uuid_module.uuid4().hex + "00000000",
                "description": note["body"],
            },
            "repository": self._hook_repository(proj),
        }
        if kind == "issue":
            payload["issue"] = self._hook_issue(proj, obj)
        else:
            payload["merge_request"] = self._hook_mr(proj, obj)
        return payload

    def webhook_issue_event(
        self,
        project: str | SimProject,
        iid: int,
        author: str,
        action: str = "update",
        labels_previous: list[str] | None = None,
        labels_current: list[str] | None = None,
    ) -> dict[str, Any]:
        """An Issue Hook payload; with label lists it carries `changes.labels`."""
        proj = self.project(project)
        issue = proj.issues[iid]
        user = self.users[author]
        changes = self._label_changes(proj, issue, labels_previous, labels_current, user)
        attrs = self._hook_issue(proj, issue)
        attrs["action"] = action
        return {
            "object_kind": "issue",
            "event_type": "issue",
            "user": self._hook_user(user),
            "project": self._hook_project(proj),
            "object_attributes": attrs,
            "repository": self._hook_repository(proj),
            "assignees": [],
            "labels": attrs["labels"],
            "changes": changes,
        }

    def webhook_merge_request_event(
        self,
        project: str | SimProject,
        iid: int,
        author: str,
        action: str = "update",
        labels_previous: list[str] | None = None,
        labels_current: list[str] | None = None,
    ) -> dict[str, Any]:
        """A Merge Request Hook payload; with label lists it carries `changes.labels`."""
        proj = self.project(project)
        mr = proj.merge_requests[iid]
        user = self.users[author]
        changes = self._label_changes(proj, mr, labels_previous, labels_current, user)
        attrs = self._hook_mr(proj, mr)
        attrs["action"] = action
        return {
            "object_kind": "merge_request",
            "event_type": "merge_request",
            "user": self._hook_user(user),
            "project": self._hook_project(proj),
            "object_attributes": attrs,
            "repository": self._hook_repository(proj),
            "assignees": [],
            "reviewers": [],
            "labels": attrs["labels"],
            "changes": changes,
        }

    def _label_changes(
        self,
        proj: SimProject,
        obj: dict[str, Any],
        previous: list[str] | None,
        current: list[str] | None,
        user: SimUser,
    ) -> dict[str, Any]:
        if previous is None and current is None:
            return {}
        prev = list(previous if previous is not None else obj["labels"])
        curr = list(current if current is not None else obj["labels"])
        obj["labels"] = curr
        obj["updated_at"] = _now()
        self._record_label_events(proj, obj, user, [t for t in curr if t not in prev], "add")
        self._record_label_events(proj, obj, user, [t for t in prev if t not in curr], "remove")
        return {
            "labels": {
                "previous": [self._label_json(proj, t) for t in prev],
                "current": [self._label_json(proj, t) for t in curr],
            },
            "updated_at": {"previous": _hook_time(), "current": _hook_time()},
        }

    def _record_label_events(
        self, proj: SimProject, obj: dict[str, Any], user: SimUser, titles: list[str], action: str
    ) -> None:
        """GitLab's resource label events: who added or removed which label, when."""
        kind = "issue" if obj["_type"] == "Issue" else "merge_request"
        events = self._label_events.setdefault((proj.id, kind, int(obj["iid"])), [])
        for title in titles:
            label_id = proj.labels.setdefault(title, next(self._ids))
            events.append(
                {
                    "id": next(self._ids),
                    "user": user.json(self.base_url),
                    "created_at": _now(),
                    "resource_type": obj["_type"],
                    "resource_id": obj["id"],
                    "label": {
                        "id": label_id,
                        "name": title,
                        "color": "#428BCA",
                        "description": None,
                    },
                    "action": action,
                }
            )

    def label_events(self, project: str | SimProject, kind: str, iid: int) -> list[dict[str, Any]]:
        return list(self._label_events.get((self.project(project).id, _kind(kind), iid), []))

    def _label_json(self, proj: SimProject, title: str) -> dict[str, Any]:
        label_id = proj.labels.setdefault(title, next(self._ids))
        return {
            "id": label_id,
            "title": title,
            "color": "#428BCA",
            "project_id": proj.id,
            "created_at": _hook_time(),
            "updated_at": _hook_time(),
            "template": False,
            "description": None,
            "type": "ProjectLabel",
            "group_id": None,
        }

    def _hook_user(self, user: SimUser) -> dict[str, Any]:
        return {
            "id": user.id,
            "name": user.name,
            "username": user.username,
            "avatar_url": None,
            "email": "[REDACTED]",
        }

    def _hook_project(self, proj: SimProject) -> dict[str, Any]:
        web = self._web_url(proj)
        return {
            "id": proj.id,
            "name": proj.name,
            "description": "",
            "web_url": web,
            "avatar_url": None,
            "git_ssh_url": f"git@sim.invalid:{proj.path}.git",
            "git_http_url": f"{web}.git",
            "namespace": proj.namespace,
            "visibility_level": {"private": 0, "internal": 10}.get(proj.visibility, 20),
            "path_with_namespace": proj.path,
            "default_branch": proj.default_branch,
            "ci_config_path": None,
            "homepage": web,
            "url": f"{web}.git",
            "ssh_url": f"git@sim.invalid:{proj.path}.git",
            "http_url": f"{web}.git",
        }

    def _hook_repository(self, proj: SimProject) -> dict[str, Any]:
        web = self._web_url(proj)
        return {
            "name": proj.name,
            "url": f"{web}.git",
            "description": "",
            "homepage": web,
            "git_http_url": f"{web}.git",
            "git_ssh_url": f"git@sim.invalid:{proj.path}.git",
            "visibility_level": 0,
        }

    def _hook_issue(self, proj: SimProject, issue: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": issue["id"],
            "iid": issue["iid"],
            "title": issue["title"],
            "description": issue["description"],
            "state": issue["state"],
            "author_id": issue["author"]["id"],
            "project_id": proj.id,
            "created_at": _hook_time(),
            "updated_at": _hook_time(),
            "closed_at": None,
            "confidential": False,
            "url": f"{self._web_url(proj)}/-/issues/{issue['iid']}",
            "labels": [self._label_json(proj, t) for t in issue["labels"]],
            "assignee_ids": [],
            "assignee_id": None,
            "milestone_id": None,
            "due_date": None,
            "weight": None,
            "type": "ISSUE",
            "severity": "unknown",
        }

    def _hook_mr(self, proj: SimProject, mr: dict[str, Any]) -> dict[str, Any]:
        full = self._mr_json(proj, mr)
        src = self._hook_project(self.project(mr["source_project_id"]))
        return {
            "id": mr["id"],
            "iid": mr["iid"],
            "title": full["title"],
            "description": mr["description"],
            "state": mr["state"],
            "source_branch": mr["source_branch"],
            "target_branch": mr["target_branch"],
            "source_project_id": mr["source_project_id"],
            "target_project_id": proj.id,
            "author_id": mr["author"]["id"],
            "created_at": _hook_time(),
            "updated_at": _hook_time(),
            "merge_status": "can_be_merged",
            "detailed_merge_status": "mergeable",
            "draft": full["draft"],
            "work_in_progress": full["draft"],
            "url": full["web_url"],
            "last_commit": {
                "id": full["sha"],
                "message": "",
                "title": "",
                "timestamp": _now(),
                "url": f"{src['web_url']}/-/commit/{full['sha']}",
                "author": {"name": "Sim", "email": "sim@example.invalid"},
            },
            "source": src,
            "target": self._hook_project(proj),
            "labels": [self._label_json(proj, t) for t in mr["labels"]],
            "assignee_ids": [],
            "reviewer_ids": [],
            "head_pipeline_id": None,
            "oldrev": None,
        }

    # ------------------------------------------------------------------ model helpers
    def _web_url(self, proj: SimProject, base: str | None = None) -> str:
        return f"{base or self.base_url}/{proj.path}"

    def _project_json(self, proj: SimProject, base: str) -> dict[str, Any]:
        web = self._web_url(proj, base)
        ns_path = proj.namespace
        return {
            "id": proj.id,
            "name": proj.name,
            "path": proj.name,
            "path_with_namespace": proj.path,
            "name_with_namespace": proj.path.replace("/", " / "),
            "description": "",
            "default_branch": proj.default_branch,
            "visibility": proj.visibility,
            "web_url": web,
            "http_url_to_repo": f"{web}.git",
            "ssh_url_to_repo": f"git@sim.invalid:{proj.path}.git",
            "archived": False,
            "empty_repo": False,
            "created_at": _now(),
            "last_activity_at": _now(),
            "namespace": {
                "id": 1000 + proj.id,
                "name": ns_path.rsplit("/", 1)[-1],
                "path": ns_path.rsplit("/", 1)[-1],
                "kind": "group",
                "full_path": ns_path,
                "web_url": f"{base}/groups/{ns_path}",
            },
            "merge_requests_enabled": True,
            "issues_enabled": True,
        }

    def _create_issue(
        self, proj: SimProject, user: SimUser, title: str, description: str, labels: list[str]
    ) -> dict[str, Any]:
        iid = proj.next_iid["issue"]
        proj.next_iid["issue"] += 1
        issue = {
            "id": next(self._ids),
            "iid": iid,
            "title": title,
            "description": description,
            "state": "opened",
            "labels": labels,
            "author": user.json(self.base_url),
            "created_at": _now(),
            "updated_at": _now(),
            "_type": "Issue",
        }
        proj.issues[iid] = issue
        self._record_label_events(proj, issue, user, list(labels), "add")
        return self._issue_json(proj, issue)

    def _issue_json(
        self, proj: SimProject, issue: dict[str, Any], base: str | None = None
    ) -> dict[str, Any]:
        out = {k: v for k, v in issue.items() if not k.startswith("_")}
        out.update(
            project_id=proj.id,
            closed_at=None,
            closed_by=None,
            assignees=[],
            assignee=None,
            milestone=None,
            confidential=False,
            type="ISSUE",
            issue_type="issue",
            user_notes_count=len(self._notes.get((proj.id, "issue", issue["iid"]), [])),
            web_url=f"{self._web_url(proj, base)}/-/issues/{issue['iid']}",
            references={
                "short": f"#{issue['iid']}",
                "relative": f"#{issue['iid']}",
                "full": f"{proj.path}#{issue['iid']}",
            },
        )
        return out

    def _create_mr(self, proj: SimProject, user: SimUser, data: dict[str, Any]) -> dict[str, Any]:
        source = str(data.get("source_branch") or "")
        target = str(data.get("target_branch") or "")
        title = str(data.get("title") or "")
        if not source or not target or not title:
            missing = [k for k in ("source_branch", "target_branch", "title") if not data.get(k)]
            raise _HttpError(400, f"{', '.join(missing)} is missing")
        source_proj = proj
        if data.get("source_project_id"):
            source_proj = self.project(int(data["source_project_id"]))
        if not rev_parse(source_proj.bare, f"refs/heads/{source}"):
            raise _HttpError(400, [f'Source branch "{source}" does not exist'])
        if not rev_parse(proj.bare, f"refs/heads/{target}"):
            raise _HttpError(400, [f'Target branch "{target}" does not exist'])
        for other in proj.merge_requests.values():
            if (
                other["source_branch"] == source
                and other["state"] == "opened"
                and other["source_project_id"] == source_proj.id
            ):
                raise _HttpError(
                    409,
                    [
                        "Another open merge request already exists for "
                        f"this source branch: !{other['iid']}"
                    ],
                )
        iid = proj.next_iid["merge_request"]
        proj.next_iid["merge_request"] += 1
        labels = data.get("labels") or []
        if isinstance(labels, str):
            labels = [x for x in labels.split(",") if x]
        mr = {
            "id": next(self._ids),
            "iid": iid,
            "title": title,
            "description": str(data.get("description") or ""),
            "state": "opened",
            "source_branch": source,
            "target_branch": target,
            "source_project_id": source_proj.id,
            "target_project_id": proj.id,
            "labels": list(labels),
            "author": user.json(self.base_url),
            "created_at": _now(),
            "updated_at": _now(),
            "_type": "MergeRequest",
            "remove_source_branch": bool(data.get("remove_source_branch")),
        }
        proj.merge_requests[iid] = mr
        return self._mr_json(proj, mr)

    def _mr_json(
        self, proj: SimProject, mr: dict[str, Any], base: str | None = None
    ) -> dict[str, Any]:
        source_proj = self.project(mr["source_project_id"])
        head = rev_parse(source_proj.bare, f"refs/heads/{mr['source_branch']}")
        target = rev_parse(proj.bare, f"refs/heads/{mr['target_branch']}")
        merge_base = _merge_base(proj, source_proj, target, head) if head and target else None
        draft = bool(
            re.match(r"^\s*(\[draft\]|\(draft\)|draft:|draft\s-\s|draft\s|wip:)", mr["title"], re.I)
        )
        out = {k: v for k, v in mr.items() if not k.startswith("_")}
        out.update(
            project_id=proj.id,
            draft=draft,
            work_in_progress=draft,
            sha=head,
            merge_status="can_be_merged",
            detailed_merge_status="mergeable",
            merge_commit_sha=None,
            squash_commit_sha=None,
            assignees=[],
            reviewers=[],
            web_url=f"{self._web_url(proj, base)}/-/merge_requests/{mr['iid']}",
            diff_refs={"base_sha": merge_base, "head_sha": head, "start_sha": target},
            references={
                "short": f"!{mr['iid']}",
                "relative": f"!{mr['iid']}",
                "full": f"{proj.path}!{mr['iid']}",
            },
            user_notes_count=len(self._notes.get((proj.id, "merge_request", mr["iid"]), [])),
        )
        return out

    def _awardable(self, proj: SimProject, kind: str, iid: int) -> dict[str, Any]:
        table = proj.issues if kind == "issue" else proj.merge_requests
        if iid not in table:
            raise _not_found("Issue" if kind == "issue" else "Merge Request")
        return table[iid]

    def _create_note(
        self, proj: SimProject, kind: str, iid: int, body: str, user: SimUser
    ) -> dict[str, Any]:
        obj = self._awardable(proj, kind, iid)
        if not body.strip():
            raise _HttpError(400, {"note": ["can't be blank"]})
        if len(body) > NOTE_MAX_CHARS:
            raise _HttpError(
                400, {"note": [f"is too long (maximum is {NOTE_MAX_CHARS} characters)"]}
            )
        note = {
            "id": next(self._ids),
            "type": None,
            "body": body,
            "attachment": None,
            "author": user.json(self.base_url),
            "created_at": _now(),
            "updated_at": _now(),
            "system": False,
            "noteable_id": obj["id"],
            "noteable_type": obj["_type"],
            "noteable_iid": iid,
            "project_id": proj.id,
            "resolvable": False,
            "confidential": False,
            "internal": False,
        }
        self._notes.setdefault((proj.id, kind, iid), []).append(note)
        return note

    def _set_status(
        self, proj: SimProject, sha: str, user: SimUser, data: dict[str, Any]
    ) -> dict[str, Any]:
        state = str(data.get("state") or "")
        if state not in _STATE_EVENTS:
            raise _HttpError(400, "state does not have a valid value")
        if not _sha_exists(proj.bare, sha):
            raise _not_found("Commit")
        name = str(data.get("name") or data.get("context") or "default")
        ref = str(data.get("ref") or proj.default_branch)
        statuses = self._statuses.setdefault((proj.id, sha), [])
        current = next(
            (
                s
                for s in reversed(statuses)
                if s["name"] == name and s["ref"] == ref and s["status"] in ("pending", "running")
            ),
            None,
        )
        if current is None:
            current = {
                "id": next(self._ids),
                "sha": sha,
                "ref": ref,
                "status": "created",
                "name": name,
                "target_url": None,
                "description": None,
                "created_at": _now(),
                "started_at": None,
                "finished_at": None,
                "allow_failure": False,
                "coverage": None,
                "pipeline_id": 1,
                "author": user.json(self.base_url),
            }
            fresh = True
        else:
            fresh = False
        status = current["status"]
        for event in _STATE_EVENTS[state]:
            optional = event.endswith("?")
            event = event.rstrip("?")
            if status not in _EVENT_FROM[event]:
                if optional:
                    continue
                raise _HttpError(
                    400,
                    f"Cannot transition status via :{event} from "
                    f":{status} (Reason(s): Status cannot transition "
                    f'via "{event}")',
                )
            status = _EVENT_TO[event]
        current["status"] = status
        for key in ("target_url", "description", "coverage"):
            if data.get(key) is not None:
                current[key] = data[key]
        if status == "running" and not current["started_at"]:
            current["started_at"] = _now()
        if status in ("success", "failed", "canceled"):
            current["finished_at"] = _now()
        if fresh:
            statuses.append(current)
        return dict(current)

    # ------------------------------------------------------------------ HTTP: API
    def _route_table(self) -> list[tuple[str, str, Handler]]:
        proj = r"/projects/(?P<pid>[^/]+)"
        kind = r"(?P<kind>issues|merge_requests)"
        return [
            ("GET", r"/user", self._h_current_user),
            ("GET", r"/users", self._h_users),
            ("GET", r"/projects", self._h_projects),
            ("GET", proj, self._h_project),
            ("GET", proj + r"/members/all", self._h_members_all),
            ("GET", proj + r"/members/all/(?P<uid>\d+)", self._h_member_all),
            ("GET", proj + r"/issues", self._h_list_issues),
            ("POST", proj + r"/issues", self._h_create_issue),
            ("GET", proj + r"/issues/(?P<iid>\d+)", self._h_get_issue),
            ("GET", proj + "/" + kind + r"/(?P<iid>\d+)/notes", self._h_list_notes),
            ("POST", proj + "/" + kind + r"/(?P<iid>\d+)/notes", self._h_create_note),
            ("GET", proj + "/" + kind + r"/(?P<iid>\d+)/notes/(?P<nid>\d+)", self._h_get_note),
            ("PUT", proj + "/" + kind + r"/(?P<iid>\d+)/notes/(?P<nid>\d+)", self._h_update_note),
            (
                "GET",
                proj + "/" + kind + r"/(?P<iid>\d+)/resource_label_events",
                self._h_label_events,
            ),
            (
                "GET",
                proj + "/" + kind + r"/(?P<iid>\d+)(?:/notes/(?P<nid>\d+))?/award_emoji",
                self._h_list_emoji,
            ),
            (
                "POST",
                proj + "/" + kind + r"/(?P<iid>\d+)(?:/notes/(?P<nid>\d+))?/award_emoji",
                self._h_award_emoji,
            ),
            ("GET", proj + r"/merge_requests", self._h_list_mrs),
            ("POST", proj + r"/merge_requests", self._h_create_mr),
            ("GET", proj + r"/merge_requests/(?P<iid>\d+)", self._h_get_mr),
            ("PUT", proj + r"/merge_requests/(?P<iid>\d+)", self._h_update_mr),
            ("GET", proj + r"/merge_requests/(?P<iid>\d+)/changes", self._h_mr_changes),
            ("GET", proj + r"/merge_requests/(?P<iid>\d+)/diffs", self._h_mr_diffs),
            ("GET", proj + "/" + kind + r"/(?P<iid>\d+)/discussions", self._h_list_discussions),
            ("POST", proj + "/" + kind + r"/(?P<iid>\d+)/discussions", self._h_create_discussion),
            ("POST", proj + r"/statuses/(?P<sha>[0-9a-fA-F]+)", self._h_post_status),
            ("GET", proj + r"/repository/commits/(?P<sha>[^/]+)/statuses", self._h_list_statuses),
            ("GET", proj + r"/repository/branches/(?P<branch>.+)", self._h_branch),
        ]

    async def _api(self, request: Request) -> Response:
        raw = request.scope.get("raw_path") or request.url.path.encode()
        raw_path = raw.decode("latin-1").split("?", 1)[0]
        rel_raw = raw_path.split("/api/v4", 1)[1] or "/"
        rel = unquote(rel_raw)
        method = request.method
        base = str(request.base_url).rstrip("/")
        if not self.base_url:
            self.base_url = base
        body = await self._params(request)
        token = request.headers.get("private-token") or ""
        auth = request.headers.get("authorization", "")
        if not token and auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        user = next((u for u in self.users.values() if token and u.token == token), None)

        def log(status: int) -> None:
            self.requests.append(
                SimRequest(
                    method, rel, request.url.query, status, user.username if user else None, body
                )
            )

        fault = next((f for f in self._faults if f.matches(method, rel, body)), None)
        if fault is None:
            return await self._dispatch(request, rel_raw, user, body, base, log)
        fault.remaining -= 1
        if fault.delay:
            if not fault.applied:
                await asyncio.sleep(fault.delay)
            answer = await self._dispatch(request, rel_raw, user, body, base, log)
            if fault.applied:
                await asyncio.sleep(fault.delay)
            return answer
        if fault.applied:  # the request does its work; only the fault's answer is logged
            await self._dispatch(request, rel_raw, user, body, base, lambda status: None)
        return self._fault_answer(fault, log)

    def _fault_answer(self, fault: _Fault, log: Callable[[int], None]) -> Response:
        if fault.drop:
            log(200)
            return DroppedResponse()
        headers = dict(fault.headers)
        if fault.status == 429:
            wait = fault.retry_after if fault.retry_after is not None else 60
            headers.setdefault("Retry-After", str(math.ceil(wait)))
            headers.setdefault("RateLimit-Reset", str(int(datetime.now(UTC).timestamp() + wait)))
            headers.setdefault("RateLimit-Remaining", "0")
        message = fault.message or _status_message(fault.status)
        log(fault.status)
        return JSONResponse({"message": message}, fault.status, headers=headers)

    async def _dispatch(
        self,
        request: Request,
        rel_raw: str,
        user: SimUser | None,
        body: dict[str, Any],
        base: str,
        log: Callable[[int], None],
    ) -> Response:
        method = request.method
        if user is None:
            log(401)
            return JSONResponse({"message": "401 Unauthorized"}, 401)
        for route_method, pattern, handler in self._routes:
            match = pattern.match(rel_raw)
            if route_method == method and match:
                params = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
                try:
                    if "pid" in params:
                        params["proj"] = self._find_project(params.pop("pid"), user)
                    result = handler(request=request, user=user, data=body, base=base, **params)
                    if asyncio.iscoroutine(result):
                        result = await result
                except _HttpError as exc:
                    log(exc.status)
                    return JSONResponse({"message": exc.message}, exc.status, headers=exc.headers)
                assert isinstance(result, Response)
                log(result.status_code)
                return result
        log(404)
        return JSONResponse({"error": "404 Not Found"}, 404)

    async def _params(self, request: Request) -> dict[str, Any]:
        data: dict[str, Any] = {k: v for k, v in request.query_params.items()}
        raw = await request.body()
        if not raw:
            return data
        ctype = request.headers.get("content-type", "")
        if "json" in ctype:
            try:
                loaded = json.loads(raw)
            except ValueError:
                loaded = None
            if isinstance(loaded, dict):
                data.update(loaded)
        elif "form" in ctype:
            data.update({k: v[-1] for k, v in parse_qs(raw.decode()).items()})
        return data

    def _find_project(self, ref: str, user: SimUser) -> SimProject:
        try:
            proj = self.project(ref)
        except KeyError:
            raise _not_found("Project") from None
        if proj.visibility == "private" and not user.admin and proj.members.get(user.id, 0) < 10:
            raise _not_found("Project")
        return proj

    def _page(self, request: Request, items: list[Any]) -> Response:
        page = max(1, _int(request.query_params.get("page"), 1))
        per_page = min(100, max(1, _int(request.query_params.get("per_page"), 20)))
        total = len(items)
        pages = max(1, math.ceil(total / per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Total": str(total),
            "X-Total-Pages": str(pages),
            "X-Next-Page": str(page + 1) if page < pages else "",
            "X-Prev-Page": str(page - 1) if page > 1 else "",
        }
        base_query = {
            k: v for k, v in request.query_params.items() if k not in ("page", "per_page")
        }

        raw = request.scope.get("raw_path") or request.url.path.encode()
        here = str(request.base_url).rstrip("/") + raw.decode("latin-1").split("?", 1)[0]

        def link(n: int) -> str:
            query = urlencode({**base_query, "page": n, "per_page": per_page})
            return f"{here}?{query}"

        links = []
        if page < pages:
            links.append(f'<{link(page + 1)}>; rel="next"')
        if page > 1:
            links.append(f'<{link(page - 1)}>; rel="prev"')
        links.append(f'<{link(1)}>; rel="first"')
        links.append(f'<{link(pages)}>; rel="last"')
        headers["Link"] = ", ".join(links)
        return JSONResponse(chunk, headers=headers)

    def _h_current_user(self, user: SimUser, base: str, **_: Any) -> Response:
        return JSONResponse({**user.json(base), "is_admin": user.admin, "bot": user is self.bot})

    def _h_users(self, request: Request, data: dict[str, Any], base: str, **_: Any) -> Response:
        wanted = data.get("username")
        found = [
            u.json(base)
            for u in self.users.values()
            if not wanted or u.username.lower() == str(wanted).lower()
        ]
        return self._page(request, found)

    def _h_projects(self, request: Request, user: SimUser, base: str, **_: Any) -> Response:
        found = [
            self._project_json(p, base)
            for p in self.projects.values()
            if p.visibility != "private" or user.admin or p.members.get(user.id)
        ]
        return self._page(request, found)

    def _h_project(self, proj: SimProject, base: str, user: SimUser, **_: Any) -> Response:
        out = self._project_json(proj, base)
        level = proj.members.get(user.id)
        out["permissions"] = {
            "project_access": {"access_level": level, "notification_level": 3} if level else None,
            "group_access": None,
        }
        return JSONResponse(out)

    def _member_json(self, uid: int, level: int, base: str) -> dict[str, Any]:
        user = next(u for u in self.users.values() if u.id == uid)
        return {
            **user.json(base),
            "access_level": level,
            "expires_at": None,
            "created_at": _now(),
            "membership_state": "active",
        }

    def _h_members_all(
        self, request: Request, proj: SimProject, data: dict[str, Any], base: str, **_: Any
    ) -> Response:
        query = str(data.get("query") or "").lower()
        ids = {
            int(x)
            for x in request.query_params.getlist("user_ids[]")
            + request.query_params.getlist("user_ids")
            if x.isdigit()
        }
        members = []
        for uid, level in proj.members.items():
            member = self._member_json(uid, level, base)
            if (
                query
                and query not in member["username"].lower()
                and query not in member["name"].lower()
            ):
                continue
            if ids and uid not in ids:
                continue
            members.append(member)
        return self._page(request, members)

    def _h_member_all(self, proj: SimProject, uid: str, base: str, **_: Any) -> Response:
        level = proj.members.get(int(uid))
        if level is None:
            raise _not_found()
        return JSONResponse(self._member_json(int(uid), level, base))

    def _h_list_issues(
        self, request: Request, proj: SimProject, data: dict[str, Any], base: str, **_: Any
    ) -> Response:
        state = data.get("state", "all")
        found = [
            self._issue_json(proj, i, base)
            for i in proj.issues.values()
            if state in ("all", i["state"])
        ]
        return self._page(request, list(reversed(found)))

    def _h_create_issue(
        self, proj: SimProject, user: SimUser, data: dict[str, Any], base: str, **_: Any
    ) -> Response:
        if not data.get("title"):
            raise _HttpError(400, "title is missing")
        labels = data.get("labels") or []
        if isinstance(labels, str):
            labels = [x for x in labels.split(",") if x]
        issue = self._create_issue(
            proj, user, str(data["title"]), str(data.get("description") or ""), list(labels)
        )
        return JSONResponse(issue, 201)

    def _h_get_issue(self, proj: SimProject, iid: str, base: str, **_: Any) -> Response:
        return JSONResponse(self._issue_json(proj, self._awardable(proj, "issue", int(iid)), base))

    def _h_label_events(
        self, request: Request, proj: SimProject, kind: str, iid: str, **_: Any
    ) -> Response:
        kind = _kind(kind)
        self._awardable(proj, kind, int(iid))
        return self._page(request, list(self._label_events.get((proj.id, kind, int(iid)), [])))

    def _h_list_notes(
        self,
        request: Request,
        proj: SimProject,
        kind: str,
        iid: str,
        data: dict[str, Any],
        **_: Any,
    ) -> Response:
        kind = _kind(kind)
        self._awardable(proj, kind, int(iid))
        notes = list(self._notes.get((proj.id, kind, int(iid)), []))
        key = data.get("order_by", "created_at")
        key = key if key in ("created_at", "updated_at") else "created_at"
        notes.sort(key=lambda n: (n[key], n["id"]), reverse=data.get("sort", "desc") == "desc")
        return self._page(request, notes)

    def _h_create_note(
        self, proj: SimProject, kind: str, iid: str, user: SimUser, data: dict[str, Any], **_: Any
    ) -> Response:
        if "body" not in data:
            raise _HttpError(400, "body is missing")
        return JSONResponse(
            self._create_note(proj, _kind(kind), int(iid), str(data["body"]), user), 201
        )

    def _note(self, proj: SimProject, kind: str, iid: str, nid: str) -> dict[str, Any]:
        self._awardable(proj, _kind(kind), int(iid))
        for note in self._notes.get((proj.id, _kind(kind), int(iid)), []):
            if note["id"] == int(nid):
                return note
        raise _not_found("Note")

    def _h_get_note(self, proj: SimProject, kind: str, iid: str, nid: str, **_: Any) -> Response:
        return JSONResponse(self._note(proj, kind, iid, nid))

    def _h_update_note(
        self,
        proj: SimProject,
        kind: str,
        iid: str,
        nid: str,
        user: SimUser,
        data: dict[str, Any],
        **_: Any,
    ) -> Response:
        note = self._note(proj, kind, iid, nid)
        if note["author"]["id"] != user.id and not user.admin:
            raise _HttpError(403, "403 Forbidden")
        body = str(data.get("body") or "")
        if not body.strip():
            raise _HttpError(400, "body is missing")
        if len(body) > NOTE_MAX_CHARS:
            raise _HttpError(
                400, {"note": [f"is too long (maximum is {NOTE_MAX_CHARS} characters)"]}
            )
        note["body"] = body
        note["updated_at"] = _now()
        return JSONResponse(note)

    def _emoji_target(
        self, proj: SimProject, kind: str, iid: str, nid: str | None
    ) -> tuple[str, int]:
        if nid is not None:
            return "Note", self._note(proj, kind, iid, nid)["id"]
        obj = self._awardable(proj, _kind(kind), int(iid))
        return obj["_type"], obj["id"]

    def _h_list_emoji(
        self,
        request: Request,
        proj: SimProject,
        kind: str,
        iid: str,
        nid: str | None = None,
        **_: Any,
    ) -> Response:
        typ, oid = self._emoji_target(proj, kind, iid, nid)
        return self._page(
            request,
            [e for e in self._emoji if e["awardable_type"] == typ and e["awardable_id"] == oid],
        )

    def _h_award_emoji(
        self,
        proj: SimProject,
        kind: str,
        iid: str,
        user: SimUser,
        data: dict[str, Any],
        base: str,
        nid: str | None = None,
        **_: Any,
    ) -> Response:
        typ, oid = self._emoji_target(proj, kind, iid, nid)
        name = str(data.get("name") or "")
        if not name:
            raise _HttpError(400, "name is missing")
        if not re.fullmatch(r"[a-z0-9_+\-]+", name) or name in ("+1", "-1"):
            raise _not_found("Award Emoji Name is not a valid emoji name")
        for emoji in self._emoji:
            if (
                emoji["awardable_type"],
                emoji["awardable_id"],
                emoji["name"],
                emoji["user"]["id"],
            ) == (typ, oid, name, user.id):
                raise _not_found("Award Emoji Name has already been taken")
        emoji = {
            "id": next(self._ids),
            "name": name,
            "user": user.json(base),
            "created_at": _now(),
            "updated_at": _now(),
            "awardable_id": oid,
            "awardable_type": typ,
        }
        self._emoji.append(emoji)
        return JSONResponse(emoji, 201)

    def _h_list_mrs(
        self, request: Request, proj: SimProject, data: dict[str, Any], base: str, **_: Any
    ) -> Response:
        state = data.get("state", "all")
        found = []
        for mr in reversed(list(proj.merge_requests.values())):
            if state not in ("all", mr["state"]):
                continue
            if data.get("source_branch") and mr["source_branch"] != data["source_branch"]:
                continue
            if data.get("target_branch") and mr["target_branch"] != data["target_branch"]:
                continue
            found.append(self._mr_json(proj, mr, base))
        return self._page(request, found)

    def _h_create_mr(
        self, proj: SimProject, user: SimUser, data: dict[str, Any], **_: Any
    ) -> Response:
        return JSONResponse(self._create_mr(proj, user, data), 201)

    def _get_mr(self, proj: SimProject, iid: str) -> dict[str, Any]:
        return self._awardable(proj, "merge_request", int(iid))

    def _h_get_mr(self, proj: SimProject, iid: str, base: str, **_: Any) -> Response:
        return JSONResponse(self._mr_json(proj, self._get_mr(proj, iid), base))

    def _h_update_mr(
        self, proj: SimProject, iid: str, base: str, data: dict[str, Any], **_: Any
    ) -> Response:
        mr = self._get_mr(proj, iid)
        for key in ("title", "description", "target_branch"):
            if data.get(key) is not None:
                mr[key] = str(data[key])
        if data.get("state_event") == "close":
            mr["state"] = "closed"
        elif data.get("state_event") == "reopen":
            mr["state"] = "opened"
        mr["updated_at"] = _now()
        return JSONResponse(self._mr_json(proj, mr, base))

    def _changes(self, proj: SimProject, mr: dict[str, Any]) -> list[dict[str, Any]]:
        full = self._mr_json(proj, mr)
        refs = full["diff_refs"]
        if not refs["base_sha"] or not refs["head_sha"]:
            return []
        source = self.project(mr["source_project_id"])
        return _git_changes(proj, source, refs["base_sha"], refs["head_sha"])

    def _h_mr_changes(self, proj: SimProject, iid: str, base: str, **_: Any) -> Response:
        mr = self._get_mr(proj, iid)
        out = self._mr_json(proj, mr, base)
        out["changes"] = self._changes(proj, mr)
        out["changes_count"] = str(len(out["changes"]))
        out["overflow"] = False
        return JSONResponse(out)

    def _h_mr_diffs(self, request: Request, proj: SimProject, iid: str, **_: Any) -> Response:
        return self._page(request, self._changes(proj, self._get_mr(proj, iid)))

    def _h_list_discussions(
        self, request: Request, proj: SimProject, kind: str, iid: str, **_: Any
    ) -> Response:
        kind = _kind(kind)
        self._awardable(proj, kind, int(iid))
        return self._page(request, list(self._discussions.get((proj.id, kind, int(iid)), [])))

    def _h_create_discussion(
        self, proj: SimProject, kind: str, iid: str, user: SimUser, data: dict[str, Any], **_: Any
    ) -> Response:
        kind = _kind(kind)
        if "body" not in data:
            raise _HttpError(400, "body is missing")
        position = data.get("position")
        if not isinstance(position, dict):  # form-encoded: position[new_line]=...
            position = {
                k[len("position[") : -1]: v
                for k, v in data.items()
                if k.startswith("position[") and k.endswith("]")
            } or None
        if position is not None:
            if kind != "merge_request":
                raise _HttpError(400, "position is only allowed on merge requests")
            position = self._diff_position(proj, self._get_mr(proj, iid), position)
        note = self._create_note(proj, kind, int(iid), str(data["body"]), user)
        note.update(
            type="DiffNote" if position else "DiscussionNote",
            resolvable=True,
            resolved=False,
            position=position,
        )
        discussion = {
            "id": uuid_module.uuid4().hex + uuid_module.uuid4().hex[:8],
            "individual_note": False,
            "notes": [note],
        }
        note["discussion_id"] = discussion["id"]
        self._discussions.setdefault((proj.id, kind, int(iid)), []).append(discussion)
        return JSONResponse(discussion, 201)

    def _diff_position(
        self, proj: SimProject, mr: dict[str, Any], given: dict[str, Any]
    ) -> dict[str, Any]:
        """A text position checked as GitLab does: the MR's current diff refs, and a line
        that is in a hunk (an added line: new_line; removed: old_line; context: both)."""
        invalid = _HttpError(
            400,
            '400 Bad request - Note {:line_code=>["can\'t be blank", "must be a valid line code"]}',
        )
        if given.get("position_type") != "text":
            raise _HttpError(400, "position[position_type] does not have a valid value")
        refs = self._mr_json(proj, mr)["diff_refs"]
        for key in ("base_sha", "start_sha", "head_sha"):
            if not given.get(key):
                raise _HttpError(400, f"position[{key}] is missing")
            if given[key] != refs[key]:
                raise invalid
        new_line = _int(str(given["new_line"]), 0) if given.get("new_line") else None
        old_line = _int(str(given["old_line"]), 0) if given.get("old_line") else None
        new_path = given.get("new_path") or given.get("old_path")
        change = next((c for c in self._changes(proj, mr) if c["new_path"] == new_path), None)
        if change is None or (new_line is None and old_line is None):
            raise invalid
        added, removed, context = _diff_line_kinds(str(change["diff"]))
        if new_line is not None and old_line is None:
            valid = new_line in added
        elif old_line is not None and new_line is None:
            valid = old_line in removed
        else:
            valid = context.get(new_line or 0) == old_line
        if not valid:
            raise invalid
        return {
            "base_sha": refs["base_sha"],
            "start_sha": refs["start_sha"],
            "head_sha": refs["head_sha"],
            "position_type": "text",
            "old_path": given.get("old_path") or change["old_path"],
            "new_path": new_path,
            "old_line": old_line,
            "new_line": new_line,
            "line_range": None,
        }

    def _h_post_status(
        self, proj: SimProject, sha: str, user: SimUser, data: dict[str, Any], **_: Any
    ) -> Response:
        if proj.members.get(user.id, 0) < 30 and not user.admin:
            raise _HttpError(403, "403 Forbidden")
        return JSONResponse(self._set_status(proj, sha, user, data), 201)

    def _h_list_statuses(
        self, request: Request, proj: SimProject, sha: str, data: dict[str, Any], **_: Any
    ) -> Response:
        found = list(self._statuses.get((proj.id, sha), []))
        if data.get("name"):
            found = [s for s in found if s["name"] == data["name"]]
        return self._page(request, found)

    def _h_branch(self, proj: SimProject, branch: str, base: str, **_: Any) -> Response:
        sha = rev_parse(proj.bare, f"refs/heads/{branch}")
        if not sha:
            raise _not_found("Branch")
        return JSONResponse(
            {
                "name": branch,
                "merged": False,
                "protected": False,
                "default": branch == proj.default_branch,
                "web_url": f"{self._web_url(proj, base)}/-/tree/{branch}",
                "commit": {"id": sha, "short_id": sha[:8]},
            }
        )

    # ------------------------------------------------------------------ HTTP: git
    async def _git(self, request: Request) -> Response:
        path = request.url.path
        match = re.match(r"^/(?P<repo>.+?)\.git(?P<rest>/.*)$", path)
        if not match:
            return JSONResponse({"error": "404 Not Found"}, 404)
        user = self._basic_user(request.headers.get("authorization", ""))
        service = request.query_params.get("service", "")
        pushing = match["rest"].endswith("git-receive-pack") or service == "git-receive-pack"

        def log(status: int) -> None:
            self.requests.append(
                SimRequest(
                    request.method, path, request.url.query, status, user.username if user else None
                )
            )

        challenge = {"WWW-Authenticate": 'Basic realm="GitLab"'}
        if user is None:
            log(401)
            return Response("HTTP Basic: Access denied\n", 401, headers=challenge)
        try:
            proj = self.project(match["repo"])
        except KeyError:
            log(404)
            return Response("Not Found\n", 404)
        level = 50 if user.admin else proj.members.get(user.id, 0)
        needed = 30 if pushing else (0 if proj.visibility == "public" else 20)
        if level < needed:
            log(403)
            return Response("You are not allowed to do this.\n", 403)
        response = await git_http_backend(
            request, self.git_root, f"/{proj.path}.git{match['rest']}", user.username
        )
        log(response.status_code)
        return response

    def _basic_user(self, header: str) -> SimUser | None:
        if not header.lower().startswith("basic "):
            return None
        try:
            decoded = base64.b64decode(header[6:].strip()).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        _, _, token = decoded.partition(":")
        return next((u for u in self.users.values() if token and u.token == token), None)


# ---------------------------------------------------------------------- git helpers
def _kind(kind: str) -> str:
    if kind in ("issue", "issues"):
        return "issue"
    if kind in ("merge_request", "merge_requests", "pull_request", "mr"):
        return "merge_request"
    raise ValueError(f"unknown kind {kind!r}")


def _url_kind(kind: str) -> str:
    return "issues" if kind == "issue" else "merge_requests"


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


def _status_message(status: int) -> str:
    return {
        403: "403 Forbidden",
        404: "404 Not Found",
        429: "Retry later",
        500: "500 Internal Server Error",
        502: "502 Bad Gateway",
        503: "503 Service Unavailable",
    }.get(status, f"{status} Error")


def _git(bare: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "core.quotepath=off", *args], cwd=bare, capture_output=True, text=True
    )
    return done.stdout


def _sha_exists(bare: Path, sha: str) -> bool:
    return rev_parse(bare, f"{sha}^{{commit}}") is not None


# Requests are answered concurrently; two `git fetch` into one bare repository at once
# can fail on git's lock files, which left a fork's diff empty now and then.
_FETCH_LOCK = threading.Lock()


def _fetch_from_fork(proj: SimProject, source: SimProject, head: str) -> None:
    with _FETCH_LOCK:
        if not _sha_exists(proj.bare, head):
            _git(proj.bare, "fetch", "-q", str(source.bare), head)


def _merge_base(proj: SimProject, source: SimProject, target: str, head: str) -> str | None:
    if source.id != proj.id:
        _fetch_from_fork(proj, source, head)
    return _git(proj.bare, "merge-base", target, head).strip() or None


def _diff_line_kinds(diff: str) -> tuple[set[int], set[int], dict[int, int]]:
    """Of one file's hunks: added new lines, removed old lines, context new -> old line."""
    added: set[int] = set()
    removed: set[int] = set()
    context: dict[int, int] = {}
    old = new = 0
    for line in diff.splitlines():
        header = re.match(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@", line)
        if header:
            old, new = int(header.group(1)), int(header.group(2))
        elif line.startswith("+"):
            added.add(new)
            new += 1
        elif line.startswith("-"):
            removed.add(old)
            old += 1
        elif line.startswith(" "):
            context[new] = old
            old, new = old + 1, new + 1
    return added, removed, context


def _git_changes(
    proj: SimProject, source: SimProject, base: str, head: str
) -> list[dict[str, Any]]:
    """GitLab's `changes`/`diffs` entries for the diff base..head."""
    if source.id != proj.id:
        _fetch_from_fork(proj, source, head)
    text = _git(proj.bare, "diff", "-M", "--no-color", "--no-ext-diff", base, head)
    changes = []
    for chunk in re.split(r"^diff --git ", text, flags=re.M)[1:]:
        header, sep, rest = chunk.partition("\n@@")
        lines = header.splitlines()
        first = lines[0]
        old_path = new_path = ""
        match = re.match(r"a/(.*) b/(.*)$", first)
        if match:
            old_path, new_path = match.group(1), match.group(2)
        entry = {
            "new_file": False,
            "deleted_file": False,
            "renamed_file": False,
            "generated_file": False,
            "a_mode": "100644",
            "b_mode": "100644",
            "too_large": False,
            "collapsed": False,
        }
        for line in lines[1:]:
            if line.startswith("new file mode "):
                entry["new_file"] = True
                entry["a_mode"], entry["b_mode"] = "0", line.split()[-1]
            elif line.startswith("deleted file mode "):
                entry["deleted_file"] = True
                entry["a_mode"], entry["b_mode"] = line.split()[-1], "0"
            elif line.startswith("rename from "):
                entry["renamed_file"] = True
                old_path = line[len("rename from ") :]
            elif line.startswith("rename to "):
                new_path = line[len("rename to ") :]
            elif line.startswith("old mode "):
                entry["a_mode"] = line.split()[-1]
            elif line.startswith("new mode "):
                entry["b_mode"] = line.split()[-1]
            elif line.startswith("index ") and len(line.split()) == 3:
                entry["a_mode"] = entry["b_mode"] = line.split()[-1]
        entry["old_path"], entry["new_path"] = old_path, new_path
        entry["diff"] = "@@" + rest if sep else ""
        changes.append(entry)
    return changes
