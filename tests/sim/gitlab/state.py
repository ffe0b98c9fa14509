"""The GitLab simulator's state: users, projects and what lives in them."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.sim.skeleton import Fault, ForgeServer, SimError

ACCESS_NAMES = {10: "Guest", 20: "Reporter", 30: "Developer", 40: "Maintainer", 50: "Owner"}
NOTE_MAX_CHARS = 1_000_000


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def hook_time() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def kind_of(kind: str) -> str:
    """ "issue" or "merge_request", from any of the ways tests and URLs name them."""
    if kind in ("issue", "issues"):
        return "issue"
    if kind in ("merge_request", "merge_requests", "pull_request", "mr"):
        return "merge_request"
    raise ValueError(f"unknown kind {kind!r}")


def url_kind(kind: str) -> str:
    return "issues" if kind == "issue" else "merge_requests"


def not_found(what: str = "Not found") -> SimError:
    return SimError(404, f"404 {what} Not Found" if what != "Not found" else "404 Not Found")


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
class GitLabFault(Fault):
    """A fault of `fail`, `delay` or `drop`: answered with `status` and GitLab's message."""

    status: int = 500
    retry_after: float | None = None
    message: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class GitLabState(ForgeServer[GitLabFault]):
    """Everything the simulated GitLab holds, in memory (git repositories on disk)."""

    def __init__(self, root: Path, bot_username: str, bot_token: str) -> None:
        super().__init__("")
        self.root = Path(root)
        self.git_root = self.root / "git"
        self.git_root.mkdir(parents=True, exist_ok=True)
        self.users: dict[str, SimUser] = {}
        self.projects: dict[int, SimProject] = {}
        self._ids = itertools.count(1)
        self._notes: dict[tuple[int, str, int], list[dict[str, Any]]] = {}
        # (project id, kind, iid) -> resource label events, oldest first
        self._label_events: dict[tuple[int, str, int], list[dict[str, Any]]] = {}
        self._emoji: list[dict[str, Any]] = []
        self._statuses: dict[tuple[int, str], list[dict[str, Any]]] = {}
        self._discussions: dict[tuple[int, str, int], list[dict[str, Any]]] = {}
        self.bot = self.add_user(bot_username, token=bot_token, name="AgentOps")
        self.bot_token = bot_token

    def add_user(
        self, username: str, token: str | None = None, name: str | None = None, admin: bool = False
    ) -> SimUser:
        user = SimUser(
            next(self._ids),
            username,
            name or username.title(),
            token or f"glpat-{uuid.uuid4().hex[:20]}",
            admin,
        )
        self.users[username] = user
        return user

    def _author(self, username: str | None) -> SimUser:
        return self.users[username] if username else self.bot

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

    def _awardable(self, proj: SimProject, kind: str, iid: int) -> dict[str, Any]:
        """The issue or merge request `iid` (404 when there is none)."""
        table = proj.issues if kind == "issue" else proj.merge_requests
        if iid not in table:
            raise not_found("Issue" if kind == "issue" else "Merge Request")
        return table[iid]

    def _web_url(self, proj: SimProject, base: str | None = None) -> str:
        return f"{base or self.base_url}/{proj.path}"
