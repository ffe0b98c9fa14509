"""A GitHub REST simulator (Starlette) backed by real bare git repositories.

It answers the subset of GitHub's REST API that AgentOps uses, with GitHub-shaped JSON and
errors, checks every credential the way GitHub does, and serves real git over smart HTTP
(`git http-backend`, see `git_http.py`). State lives in memory; tests read it back.

Quick start::

    sim = GitHubSim(tmp_path)                       # makes an RSA key for the app (id 1)
    sim.add_repo("acme/app", {"README.md": "hi\\n"})  # installation 1, account "acme"
    number = sim.add_issue("acme/app", "Add a flag", "please", user="alice")
    sim.set_permission("acme/app", "alice", "write")
    with sim.serve() as base:                       # serve_app(sim.app) + sim.base_url
        gh = GitHubApp(sim.app_id, sim.private_key_pem, api_url=base)
        forge = gh.forge(sim.installation_id("acme/app"))
        ...
    sim.comments("acme/app", number)                # [{"id", "body", "user": {"login"}, ...}]

Layout (as on github.com): the API at `{base}{api_prefix}/...` and git at
`{base}/{owner}/{name}.git/...`. `GitHubSim(root, api_prefix="/api/v3")` looks like GitHub
Enterprise Server (`api_url = base + "/api/v3"`). Mounting the app under a path prefix works
(URLs in answers follow the request's root path).

Set-up: `add_installation(id=None, account=...) -> id`, `add_repo(full_name, files=None, *,
installation_id=None, private=True, default_branch="main") -> bare Path`,
`push_branch(repo, branch, files, *, message, base=None) -> sha` (commit straight into the
bare repo), `add_issue(repo, title, body="", *, user, labels=()) -> number`,
`add_pull(repo, head, base=None, title=..., body="", *, user, draft=False, head_repo=None)
-> number` (the head branch lives in the same bare repo; `head_repo` only labels a fork),
`add_comment(repo, number, body, *, user, association="OWNER") -> id`,
`set_permission(repo, user, "admin|maintain|write|triage|read|none")` (the account owning
the installation is admin, everyone else "none" unless set), `suspend(installation_id)`,
`revoke_tokens()` (every issued token now gets 401).

Faults: `fail_next(pattern, kind, count=1, retry_after=1.0)` makes the next `count` requests
whose `"METHOD /path"` (path without the API prefix and query) matches the regex `pattern`
fail. Kinds: "500", "502", "503", "429" (with retry-after), "secondary" (403 secondary rate
limit with retry-after), "rate_limit" (403, x-ratelimit-remaining 0 + x-ratelimit-reset),
"not_accessible" (403 Resource not accessible by integration), "suspended", "unauthorized"
(401 Bad credentials), "drop" (the connection is cut mid-answer). With `applied=True` the
request is carried out first (a POST creates its comment or check run) and only then is
its answer replaced by the fault (a 5xx, or "drop"), as when a forge fails after the
write; kind "hang" (only with `applied=True`) answers normally after `retry_after`
seconds. `body_contains="text"` makes only requests whose raw body contains it match.

Reading state (copies): `comments(repo, number)` (each with `edits`: earlier bodies),
`issue(repo, number)`, `reactions(repo, number=None, comment_id=None) -> [content]`,
`check_runs(repo)` (each with `history`: every state a user saw, oldest first),
`statuses(repo)`, `pulls(repo)`, `reviews(repo, number)` (each with its `comments`:
path, line, side, body), `branch_sha(repo, branch)`, `bare_path(repo)`,
`requests` (list of `LoggedRequest`), `tokens_issued` (list of tokens), `app_id`,
`private_key_pem`, `public_key_pem`, `bot_login`, `installation_id(repo)`.

Webhooks (payloads in GitHub's shapes, built from sim state; URLs use `sim.base_url`,
which `with sim.serve() as base:` sets): `webhook_issue_comment_event(repo, number, body,
*, user="alice", association="OWNER", comment_id=None)` (creates the comment unless
`comment_id` is given), `webhook_labeled_event(repo, number, label, *, user) -> (event,
payload)` (`issues`, or `pull_request` on a PR; adds the label and records a `labeled`
issue event, which `GET .../issues/{number}/events` lists, as `add_issue(labels=...)`
does),
`webhook_check_run_event(repo, check_run_id, identifier, *, user,
action="requested_action")`, `webhook_installation_event(installation_id,
action="created")`, and `webhook_request(event, payload, secret) -> (body, headers)` with
`X-GitHub-Event`, `X-GitHub-Delivery` and `X-Hub-Signature-256`.
`service_env(webhook_secret)` gives the `AGENTOPS_GITHUB_*` variables (app id, slug, key,
secret, API URL) for a service process pointed at the simulator (after `serve()`).

Pull request reviews: `POST .../pulls/{number}/reviews` (event COMMENT, APPROVE,
REQUEST_CHANGES or none for pending; `commit_id` defaults to the head) with line-based
`comments` (`path`, `line`, `side` RIGHT or LEFT, `body`) checked against the diff of
`commit_id` from its merge base: a path not in the diff answers 422 "Path could not be
resolved", a line outside its hunks 422 "Line could not be resolved" (nothing is stored).
`GET .../pulls/{number}/reviews` and `GET .../pulls/{number}/comments` list them.

The App manifest flow (the set-up page): `POST /settings/apps/new?state=S` with a form
field `manifest` (JSON) creates the App at once (as if the person confirmed on GitHub's
page) and answers 302 to the manifest's `redirect_url` with `?code=C&state=S`;
`POST /app-manifests/{code}/conversions` (no authentication) answers 201 with the App's
`id`, `slug`, `webhook_secret`, `pem`, ... once per code (then 404), within an hour.
`manifest_apps` lists the Apps made so far, with their manifest and whether their code
was converted.

`generate_app_key() -> (private_pem, public_pem)` makes an RSA key pair for tests (about
0.1 s; cache it per session when making many simulators).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import hmac
import json
import re
import secrets
import subprocess
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.sim.faults import DroppedResponse
from tests.sim.git_http import git_http_backend, init_bare_repo, rev_parse
from tests.sim.github_hooks import HookLog, register_routes

JSON = "application/json; charset=utf-8"
DOCS = "https://docs.github.com/rest"
REACTIONS = {"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}
CHECK_STATUSES = {"queued", "in_progress", "completed", "waiting", "requested", "pending"}
CONCLUSIONS = {
    "success",
    "failure",
    "cancelled",
    "neutral",
    "skipped",
    "timed_out",
    "action_required",
    "stale",
}
ROLE_TO_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}


def generate_app_key() -> tuple[str, str]:
    """A fresh RSA key pair for a test GitHub App: (private PEM, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def _iso(epoch: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if epoch is None else epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _later_than(previous: str) -> str:
    """Now, or a second after `previous` when that is not earlier: people take more than
    a second between two changes of one issue, a test does not."""
    earlier = datetime.strptime(previous, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    return _iso(max(time.time(), earlier + 1))


def _new_token() -> str:
    """A `ghs_` token in GitHub's newer long form: ~520 characters with dots."""
    head = "ghs_" + secrets.token_hex(18)
    tail = base64.urlsafe_b64encode(secrets.token_bytes(360)).decode().rstrip("=")
    return f"{head}.{tail[:240]}.{tail[240:]}"


def _user(login: str) -> dict[str, Any]:
    return {
        "login": login,
        "id": zlib.crc32(login.encode()),
        "type": "Bot" if login.endswith("[bot]") else "User",
    }


class _HTTPError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
        errors: list[Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        self.headers, self.errors = headers or {}, errors


@dataclass
class Fault:
    pattern: re.Pattern[str]
    kind: str
    remaining: int
    retry_after: float
    applied: bool = False  # handle the request first (state changes), then fail
    body_contains: str | None = None

    def matches(self, line: str, body: bytes) -> bool:
        return (
            self.remaining > 0
            and self.pattern.search(line) is not None
            and (
                self.body_contains is None
                or self.body_contains in body.decode("utf-8", errors="replace")
            )
        )


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: str
    status: int
    auth: str | None  # "token" | "jwt" | "basic" | None


@dataclass
class Installation:
    id: int
    account: str
    suspended: bool = False


@dataclass
class SimRepo:
    id: int
    full_name: str
    bare: Path
    installation_id: int
    private: bool
    default_branch: str
    next_number: int = 1
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    pulls: dict[int, dict[str, Any]] = field(default_factory=dict)
    check_runs: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    permissions: dict[str, str] = field(default_factory=dict)


@dataclass
class _Call:
    """What a handler sees: the request's parts, its credential, and the base URLs."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    accept: str
    installation: Installation | None
    web: str  # e.g. http://127.0.0.1:5000/ (with the root path)
    api: str  # web + api prefix, no trailing slash


Handler = Callable[["GitHubSim", _Call], tuple[int, Any] | Response]
_ROUTES: list[tuple[str, re.Pattern[str], str, Handler]] = []  # method, path, auth, handler


def _route(method: str, pattern: str, auth: str = "token") -> Callable[[Handler], Handler]:
    regex = re.compile(
        "^"
        + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", re.sub(r"\{(\w+):path\}", r"(?P<\1>.+)", pattern))
        + "$"
    )

    def register(handler: Handler) -> Handler:
        _ROUTES.append((method, regex, auth, handler))
        return handler

    return register


class GitHubSim:
    """In-memory GitHub with real git repositories under `root`. See the module docstring."""

    def __init__(
        self,
        root: Path,
        *,
        app_id: int = 1,
        slug: str = "agentops",
        private_key_pem: str | None = None,
        public_key_pem: str | None = None,
        api_prefix: str = "",
        token_ttl: float = 3600.0,
    ) -> None:
        self.root = Path(root)
        self.git_root = self.root / "git"
        self.git_root.mkdir(parents=True, exist_ok=True)
        self.app_id = app_id
        self.slug = slug
        if private_key_pem is None:
            private_key_pem, public_key_pem = generate_app_key()
        elif public_key_pem is None:
            key = serialization.load_pem_private_key(private_key_pem.encode(), None)
            public_key_pem = (
                key.public_key()
                .public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
                .decode()
            )
        self.private_key_pem: str = private_key_pem
        self.public_key_pem: str = public_key_pem or ""
        self.api_prefix = "/" + api_prefix.strip("/") if api_prefix.strip("/") else ""
        self.token_ttl = token_ttl
        self.base_url = "http://127.0.0.1"  # set by serve(); used in webhook payloads
        self.requests: list[LoggedRequest] = []
        self.tokens_issued: list[str] = []
        self.hooks = HookLog()  # the App's webhook: its URL, secret and delivery log
        self._lock = threading.RLock()
        self._installations: dict[int, Installation] = {}
        self._tokens: dict[str, tuple[int, float]] = {}  # token -> (installation, expires)
        self._repos: dict[str, SimRepo] = {}
        self._comments: dict[int, dict[str, Any]] = {}
        self._reactions: list[dict[str, Any]] = []
        self._reviews: list[dict[str, Any]] = []  # pull request reviews, oldest first
        # (repo, number) -> issue events ("labeled"), oldest first
        self._issue_events: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self._faults: list[Fault] = []
        self._ids = iter(range(1000, 10**9))
        self.manifest_apps: list[dict[str, Any]] = []  # the manifest flow's Apps
        self._manifest_codes: dict[str, tuple[dict[str, Any], float]] = {}
        self._app = Starlette(
            routes=[
                Route("/settings/apps/new", self._new_app_from_manifest, methods=["POST"]),
                Route(
                    "/{path:path}",
                    self._endpoint,
                    methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
                ),
            ]
        )

    @property
    def app(self) -> Starlette:
        return self._app

    @property
    def bot_login(self) -> str:
        return f"{self.slug}[bot]"

    def _next_id(self) -> int:
        return next(self._ids)

    # --- set-up --------------------------------------------------------------------

    def add_installation(self, installation_id: int | None = None, account: str = "acme") -> int:
        with self._lock:
            number = installation_id or (max(self._installations, default=0) + 1)
            self._installations[number] = Installation(number, account)
            return number

    def add_repo(
        self,
        full_name: str,
        files: dict[str, str] | None = None,
        *,
        installation_id: int | None = None,
        private: bool = True,
        default_branch: str = "main",
    ) -> Path:
        owner = full_name.split("/", 1)[0]
        with self._lock:
            if installation_id is None:
                installation_id = next(
                    (i.id for i in self._installations.values() if i.account == owner), None
                )
            if installation_id is None:
                installation_id = self.add_installation(account=owner)
            elif installation_id not in self._installations:
                self.add_installation(installation_id, owner)
        bare = init_bare_repo(
            self.git_root, full_name, files or {"README.md": "# repo\n"}, branch=default_branch
        )
        with self._lock:
            self._repos[full_name] = SimRepo(
                self._next_id(), full_name, bare, installation_id, private, default_branch
            )
        return bare

    def installation_id(self, repo: str) -> int:
        return self._repo(repo).installation_id

    def bare_path(self, repo: str) -> Path:
        return self._repo(repo).bare

    def branch_sha(self, repo: str, branch: str) -> str | None:
        return rev_parse(self._repo(repo).bare, f"refs/heads/{branch}")

    def push_branch(
        self,
        repo: str,
        branch: str,
        files: dict[str, str],
        *,
        message: str = "change",
        base: str | None = None,
        author: str = "Alice <alice@example.invalid>",
    ) -> str:
        """Commit `files` on `branch` (made from `base`, default branch) into the bare repo."""
        bare = self._repo(repo).bare
        start = base or self._repo(repo).default_branch
        name, _, email = author.partition(" <")
        env = {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email.rstrip(">"),
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email.rstrip(">"),
            "PATH": "/usr/bin:/bin:/usr/local/bin",
            "HOME": str(self.root),
        }
        with tempfile.TemporaryDirectory(dir=self.root) as work:

            def git(*args: str) -> str:
                done = subprocess.run(
                    ["git", *args], cwd=work, env=env, check=True, capture_output=True, text=True
                )
                return done.stdout.strip()

            git("clone", "-q", "--branch", start, str(bare), ".")
            git("checkout", "-q", "-B", branch)
            for path, content in files.items():
                target = Path(work) / path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(content)
            git("add", "-A")
            git("commit", "-q", "-m", message)
            git("push", "-q", "--force", "origin", f"HEAD:refs/heads/{branch}")
            return git("rev-parse", "HEAD")

    def add_issue(
        self,
        repo: str,
        title: str,
        body: str = "",
        *,
        user: str = "alice",
        labels: tuple[str, ...] | list[str] = (),
    ) -> int:
        with self._lock:
            sim_repo = self._repo(repo)
            number = sim_repo.next_number
            sim_repo.next_number += 1
            sim_repo.issues[number] = {
                "id": self._next_id(),
                "number": number,
                "title": title,
                "body": body,
                "user": user,
                "state": "open",
                "labels": list(labels),
                "created_at": _iso(),
                "updated_at": _iso(),
            }
            for label in labels:
                self._record_labeled(repo, number, label, user)
            return number

    def _record_labeled(self, repo: str, number: int, label: str, actor: str) -> None:
        self._issue_events.setdefault((repo, number), []).append(
            {
                "id": self._next_id(),
                "event": "labeled",
                "actor": _user(actor),
                "label": {"name": label, "color": "ededed"},
                "created_at": _iso(),
            }
        )

    def add_pull(
        self,
        repo: str,
        head: str,
        base: str | None = None,
        title: str = "A change",
        body: str = "",
        *,
        user: str = "alice",
        draft: bool = False,
        head_repo: str | None = None,
    ) -> int:
        with self._lock:
            sim_repo = self._repo(repo)
            number = self.add_issue(repo, title, body, user=user)
            sim_repo.pulls[number] = {
                "head": head,
                "base": base or sim_repo.default_branch,
                "head_repo": head_repo or repo,
                "draft": draft,
            }
            return number

    def add_comment(
        self, repo: str, number: int, body: str, *, user: str = "alice", association: str = "OWNER"
    ) -> int:
        with self._lock:
            return self._store_comment(repo, number, body, user, association)["id"]

    def set_permission(self, repo: str, user: str, permission: str) -> None:
        if permission not in ROLE_TO_PERMISSION:
            raise ValueError(f"unknown permission {permission!r}")
        with self._lock:
            self._repo(repo).permissions[user] = permission

    def suspend(self, installation_id: int, suspended: bool = True) -> None:
        with self._lock:
            self._installations[installation_id].suspended = suspended

    def revoke_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def fail_next(
        self,
        pattern: str,
        kind: str,
        count: int = 1,
        retry_after: float = 1.0,
        *,
        applied: bool = False,
        body_contains: str | None = None,
    ) -> None:
        with self._lock:
            self._faults.append(
                Fault(re.compile(pattern), kind, count, retry_after, applied, body_contains)
            )

    # --- webhooks ------------------------------------------------------------------

    @contextmanager
    def serve(self) -> Iterator[str]:
        """`serve_app(self.app)`, remembering the base URL for webhook payloads."""
        from tests.sim.serve import serve_app

        with serve_app(self.app) as base:
            self.base_url = base
            yield base

    def service_env(self, webhook_secret: str) -> dict[str, str]:
        """`AGENTOPS_GITHUB_*` variables that point a service process at this simulator."""
        return {
            "AGENTOPS_GITHUB_APP_ID": str(self.app_id),
            "AGENTOPS_GITHUB_APP_SLUG": self.slug,
            "AGENTOPS_GITHUB_PRIVATE_KEY": self.private_key_pem,
            "AGENTOPS_GITHUB_WEBHOOK_SECRET": webhook_secret,
            "AGENTOPS_GITHUB_API_URL": self.base_url.rstrip("/") + self.api_prefix,
        }

    def deliver(self, event: str, payload: dict[str, Any]) -> str:
        """Send `event` to the App's hook URL as GitHub does (once); its delivery id."""
        return self.hooks.send(event, payload).guid

    @staticmethod
    def webhook_request(
        event: str, payload: dict[str, Any], secret: str, delivery: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers GitHub would POST (signed with `X-Hub-Signature-256`)."""
        body = json.dumps(payload).encode()
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return body, {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
            "X-Hub-Signature-256": f"sha256={signature}",
            "Content-Type": "application/json",
            "User-Agent": "GitHub-Hookshot/sim",
        }

    def _event_base(self, repo: str, action: str, sender: str) -> dict[str, Any]:
        web = self.base_url.rstrip("/") + "/"
        sim_repo = self._repo(repo)
        return {
            "action": action,
            "sender": _user(sender),
            "repository": self._repo_json(sim_repo, web, web.rstrip("/") + self.api_prefix),
            "installation": {"id": sim_repo.installation_id},
        }

    def _issue_payload(self, repo: str, number: int) -> dict[str, Any]:
        web = self.base_url.rstrip("/") + "/"
        return self._issue_json(self._repo(repo), number, web, web.rstrip("/") + self.api_prefix)

    def webhook_issue_comment_event(
        self,
        repo: str,
        number: int,
        body: str,
        *,
        user: str = "alice",
        association: str = "OWNER",
        comment_id: int | None = None,
        action: str = "created",
    ) -> dict[str, Any]:
        """An `issue_comment` payload; the comment is created in the sim unless given."""
        with self._lock:
            if comment_id is None:
                comment_id = self._store_comment(repo, number, body, user, association)["id"]
            comment = self._comments[comment_id]
            payload = self._event_base(repo, action, user)
            web = self.base_url.rstrip("/") + "/"
            payload["issue"] = self._issue_payload(repo, number)
            payload["comment"] = self._comment_json(comment, web, web.rstrip("/"))
            payload["comment"].pop("edits")
            payload["comment"]["performed_via_github_app"] = None
            return payload

    def webhook_labeled_event(
        self, repo: str, number: int, label: str, *, user: str = "alice"
    ) -> tuple[str, dict[str, Any]]:
        """`(event, payload)`: `issues` or, on a PR, `pull_request` with action `labeled`.

        The label is added to the issue in the sim.
        """
        with self._lock:
            sim_repo = self._repo(repo)
            issue = sim_repo.issues[number]
            if label not in issue["labels"]:
                issue["labels"].append(label)
            issue["updated_at"] = _later_than(issue["updated_at"])  # labeling moves it
            self._record_labeled(repo, number, label, user)
            payload = self._event_base(repo, "labeled", user)
            payload["label"] = {"name": label}
            if number in sim_repo.pulls:
                web = self.base_url.rstrip("/") + "/"
                payload["number"] = number
                payload["pull_request"] = self._pull_json(
                    sim_repo, number, web, web.rstrip("/") + self.api_prefix
                )
                return "pull_request", payload
            payload["issue"] = self._issue_payload(repo, number)
            return "issues", payload

    def webhook_check_run_event(
        self,
        repo: str,
        check_run_id: int,
        identifier: str,
        *,
        user: str = "alice",
        action: str = "requested_action",
    ) -> dict[str, Any]:
        """A `check_run` payload: a person pressed the button `identifier`."""
        with self._lock:
            sim_repo = self._repo(repo)
            run = next(r for r in sim_repo.check_runs if r["id"] == check_run_id)
            payload = self._event_base(repo, action, user)
            payload["check_run"] = self._check_json(sim_repo, run, self.base_url + "/")
            payload["requested_action"] = {"identifier": identifier}
            return payload

    def webhook_installation_event(
        self, installation_id: int, action: str = "created", user: str | None = None
    ) -> dict[str, Any]:
        """An `installation` payload (created, deleted, suspend, unsuspend)."""
        with self._lock:
            installation = self._installations[installation_id]
            repos = [
                {
                    "id": r.id,
                    "full_name": r.full_name,
                    "name": r.full_name.split("/")[1],
                    "private": r.private,
                }
                for r in self._repos.values()
                if r.installation_id == installation_id
            ]
            return {
                "action": action,
                "sender": _user(user or installation.account),
                "installation": {
                    "id": installation_id,
                    "account": _user(installation.account),
                    "app_id": self.app_id,
                },
                "repositories": repos,
            }

    # --- reading state -------------------------------------------------------------

    def _repo(self, repo: str) -> SimRepo:
        try:
            return self._repos[repo]
        except KeyError:
            raise KeyError(f"no repository {repo!r} in the simulator") from None

    def comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        with self._lock:
            return [
                self._comment_json(c, "", "")
                for c in self._comments.values()
                if c["repo"] == repo and c["number"] == number
            ]

    def issue(self, repo: str, number: int) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._repo(repo).issues[number])

    def reactions(
        self, repo: str, number: int | None = None, comment_id: int | None = None
    ) -> list[str]:
        with self._lock:
            return [
                r["content"]
                for r in self._reactions
                if r["repo"] == repo
                and (number is None or r.get("number") == number)
                and (comment_id is None or r.get("comment_id") == comment_id)
            ]

    def check_runs(self, repo: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._repo(repo).check_runs)

    def check_run_of(self, repo: str, run_id: int) -> dict[str, Any]:
        """The check run AgentOps made for its run `run_id` (its external id)."""
        return next(c for c in self.check_runs(repo) if c["external_id"] == str(run_id))

    def statuses(self, repo: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._repo(repo).statuses)

    def pulls(self, repo: str) -> list[dict[str, Any]]:
        with self._lock:
            sim_repo = self._repo(repo)
            return [self._pull_json(sim_repo, n, "", "") for n in sorted(sim_repo.pulls)]

    def reviews(self, repo: str, number: int) -> list[dict[str, Any]]:
        """The reviews of a pull request, oldest first, each with its `comments`."""
        with self._lock:
            return [
                copy.deepcopy(r)
                for r in self._reviews
                if r["repo"] == repo and r["number"] == number
            ]

    # --- the ASGI side -------------------------------------------------------------

    async def _endpoint(self, request: Request) -> Response:
        path = "/" + request.path_params["path"]
        root_path = str(request.scope.get("root_path", "")).rstrip("/")
        web = str(request.url.replace(path=root_path + "/", query="", fragment=""))
        auth_kind = _auth_kind(request.headers.get("authorization", ""))
        try:
            fault = self._take_fault(
                f"{request.method} {self._api_path(path) or path}", await request.body()
            )
            if fault is not None and not fault.applied:
                if fault.kind == "drop":
                    self._log(request, path, 200, auth_kind)
                    return DroppedResponse()
                raise _fault_error(fault)
            git = re.match(r"^/(?P<owner>[^/]+)/(?P<name>[^/]+?)\.git(?P<rest>/.*)$", path)
            if git is not None:
                response = await self._git(request, git["owner"] + "/" + git["name"], git["rest"])
            else:
                response = await self._api(request, path, web)
            if fault is not None:  # applied: the request did its work, its answer is lost
                if fault.kind == "hang":
                    await asyncio.sleep(fault.retry_after)
                elif fault.kind == "drop":
                    self._log(request, path, 200, auth_kind)
                    return DroppedResponse()
                else:
                    raise _fault_error(fault)
        except _HTTPError as exc:
            body: dict[str, Any] = {
                "message": exc.message,
                "documentation_url": DOCS,
                "status": str(exc.status),
            }
            if exc.errors is not None:
                body["errors"] = exc.errors
            response = _json_response(exc.status, body, exc.headers)
        # GitHub's own answers, errors included, carry it; a proxy's do not
        response.headers["x-github-request-id"] = f"SIM:{len(self.requests):08X}"
        self._log(request, path, response.status_code, auth_kind)
        return response

    async def _new_app_from_manifest(self, request: Request) -> Response:
        """GitHub's web form of the manifest flow, confirmed at once."""
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        try:
            manifest = json.loads(form.get("manifest", [""])[0])
            redirect = str(manifest["redirect_url"])
        except (ValueError, KeyError, TypeError):
            self._log(request, "/settings/apps/new", 422, None)
            return Response("Invalid GitHub App configuration\n", status_code=422)
        private_pem, _ = generate_app_key()
        slug = re.sub(r"[^a-z0-9]+", "-", str(manifest.get("name", "app")).lower()).strip("-")
        app = {
            "id": self._next_id(),
            "slug": slug or "app",
            "name": manifest.get("name", slug),
            "owner": _user("acme"),
            "client_id": "Iv1." + secrets.token_hex(8),
            "client_secret": secrets.token_hex(20),
            "webhook_secret": secrets.token_hex(20),
            "pem": private_pem,
            "manifest": manifest,
            "converted": 0,
        }
        code = secrets.token_hex(10)
        with self._lock:
            self.manifest_apps.append(app)
            self._manifest_codes[code] = (app, time.time())
        query = {"code": code}
        if request.query_params.get("state") is not None:
            query["state"] = request.query_params["state"]
        self._log(request, "/settings/apps/new", 302, None)
        return Response(status_code=302, headers={"location": f"{redirect}?{urlencode(query)}"})

    def _log(self, request: Request, path: str, status: int, auth: str | None) -> None:
        with self._lock:
            self.requests.append(
                LoggedRequest(request.method, path, request.url.query, status, auth)
            )

    def _api_path(self, path: str) -> str | None:
        if not self.api_prefix:
            return path
        if path == self.api_prefix or path.startswith(self.api_prefix + "/"):
            return path[len(self.api_prefix) :] or "/"
        return None

    def _take_fault(self, line: str, body: bytes) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(line, body):
                    fault.remaining -= 1
                    return fault
        return None

    async def _git(self, request: Request, repo: str, rest: str) -> Response:
        token = _git_token(request.headers.get("authorization", ""))
        with self._lock:
            sim_repo = self._repos.get(repo)
            installation = self._token_installation(token) if token else None
        if installation is None:
            return Response(
                "Invalid username or token.\n",
                status_code=401,
                headers={"WWW-Authenticate": 'Basic realm="GitHub"'},
            )
        if sim_repo is None or sim_repo.installation_id != installation.id:
            return Response("Repository not found.\n", status_code=404)
        return await git_http_backend(request, self.git_root, f"/{repo}.git{rest}", self.bot_login)

    async def _api(self, request: Request, path: str, web: str) -> Response:
        api_path = self._api_path(path)
        if api_path is None:
            raise _HTTPError(404, "Not Found")
        raw = await request.body()
        try:
            body = _parse_json(raw) if raw else None
        except ValueError:
            raise _HTTPError(400, "Problems parsing JSON") from None
        for method, regex, auth, handler in _ROUTES:
            match = regex.match(api_path)
            if match is None or method != request.method:
                continue
            with self._lock:
                installation = self._authenticate(request, auth)
                call = _Call(
                    request.method,
                    api_path,
                    match.groupdict(),
                    dict(request.query_params),
                    body,
                    request.headers.get("accept", ""),
                    installation,
                    web,
                    web.rstrip("/") + self.api_prefix,
                )
                if "owner" in call.params and "repo" in call.params and auth == "token":
                    self._visible_repo(call)
                result = handler(self, call)
            if isinstance(result, Response):
                return result
            status, data = result
            return _json_response(status, data)
        raise _HTTPError(404, "Not Found")

    # --- credentials ---------------------------------------------------------------

    def _authenticate(self, request: Request, auth: str) -> Installation | None:
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        credential = credential.strip()
        if auth == "none":
            return None
        if auth == "jwt":
            if scheme.lower() != "bearer" or not credential:
                raise _HTTPError(401, "A JSON web token could not be decoded")
            self._verify_jwt(credential)
            return None
        if scheme.lower() not in {"token", "bearer"} or not credential:
            raise _HTTPError(401, "Requires authentication")
        installation = self._token_installation(credential)
        if installation is None:
            raise _HTTPError(401, "Bad credentials")
        if installation.suspended:
            raise _HTTPError(403, "This installation has been suspended")
        return installation

    def _verify_jwt(self, token: str) -> None:
        try:
            claims = jwt.decode(
                token,
                self.public_key_pem,
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise _HTTPError(
                401,
                "'Expiration time' claim ('exp') must be a numeric value "
                "representing the future time at which the assertion "
                "expires",
            ) from None
        except jwt.PyJWTError:
            raise _HTTPError(401, "A JSON web token could not be decoded") from None
        if str(claims["iss"]) != str(self.app_id):
            raise _HTTPError(401, "'Issuer' claim ('iss') must be an Integer")
        if int(claims["exp"]) - int(claims["iat"]) > 600:
            raise _HTTPError(401, "'Expiration time' claim ('exp') is too far in the future")
        if int(claims["iat"]) > time.time() + 60:
            raise _HTTPError(
                401,
                "'Issued at' claim ('iat') must be an Integer representing "
                "the time that the assertion was issued",
            )

    def _token_installation(self, token: str) -> Installation | None:
        found = self._tokens.get(token)
        if found is None or found[1] < time.time():
            return None
        return self._installations.get(found[0])

    def _visible_repo(self, call: _Call) -> SimRepo:
        repo = self._repos.get(f"{call.params['owner']}/{call.params['repo']}")
        if (
            repo is None
            or call.installation is None
            or repo.installation_id != call.installation.id
        ):
            raise _HTTPError(404, "Not Found")
        return repo

    def _issue_token(self, installation_id: int) -> dict[str, Any]:
        token = _new_token()
        expires = time.time() + self.token_ttl
        self._tokens[token] = (installation_id, expires)
        self.tokens_issued.append(token)
        return {
            "token": token,
            "expires_at": _iso(expires),
            "permissions": {
                "contents": "write",
                "issues": "write",
                "pull_requests": "write",
                "checks": "write",
            },
            "repository_selection": "all",
        }

    # --- JSON shapes ---------------------------------------------------------------

    def _store_comment(
        self, repo: str, number: int, body: str, user: str, association: str
    ) -> dict[str, Any]:
        if number not in self._repo(repo).issues:
            raise _HTTPError(404, "Not Found")
        comment = {
            "id": self._next_id(),
            "repo": repo,
            "number": number,
            "body": body,
            "user": user,
            "author_association": association,
            "created_at": _iso(),
            "updated_at": _iso(),
            "edits": [],
        }
        self._comments[comment["id"]] = comment
        return comment

    def _comment_json(self, comment: dict[str, Any], web: str, api: str) -> dict[str, Any]:
        repo, number, cid = comment["repo"], comment["number"], comment["id"]
        return {
            "id": cid,
            "node_id": f"IC_{cid}",
            "body": comment["body"],
            "user": _user(comment["user"]),
            "author_association": comment["author_association"],
            "created_at": comment["created_at"],
            "updated_at": comment["updated_at"],
            "html_url": f"{web}{repo}/issues/{number}#issuecomment-{cid}",
            "url": f"{api}/repos/{repo}/issues/comments/{cid}",
            "issue_url": f"{api}/repos/{repo}/issues/{number}",
            "edits": list(comment["edits"]),
        }

    def _repo_json(self, repo: SimRepo, web: str, api: str) -> dict[str, Any]:
        owner, name = repo.full_name.split("/", 1)
        return {
            "id": repo.id,
            "name": name,
            "full_name": repo.full_name,
            "owner": _user(owner),
            "private": repo.private,
            "default_branch": repo.default_branch,
            "clone_url": f"{web}{repo.full_name}.git",
            "html_url": f"{web}{repo.full_name}",
            "url": f"{api}/repos/{repo.full_name}",
        }

    def _issue_json(self, repo: SimRepo, number: int, web: str, api: str) -> dict[str, Any]:
        issue = repo.issues[number]
        kind = "pull" if number in repo.pulls else "issues"
        data = {
            "id": issue["id"],
            "number": number,
            "title": issue["title"],
            "body": issue["body"],
            "user": _user(issue["user"]),
            "state": issue["state"],
            "labels": [{"name": label} for label in issue["labels"]],
            "created_at": issue["created_at"],
            "updated_at": issue["updated_at"],
            "html_url": f"{web}{repo.full_name}/{kind}/{number}",
            "url": f"{api}/repos/{repo.full_name}/issues/{number}",
        }
        if number in repo.pulls:
            data["pull_request"] = {"url": f"{api}/repos/{repo.full_name}/pulls/{number}"}
        return data

    def _pull_json(self, repo: SimRepo, number: int, web: str, api: str) -> dict[str, Any]:
        pull = repo.pulls[number]
        data = self._issue_json(repo, number, web, api)
        data.pop("pull_request", None)
        head_owner = pull["head_repo"].split("/", 1)[0]
        owner = repo.full_name.split("/", 1)[0]
        data.update(
            {
                "draft": pull["draft"],
                "merged": False,
                "mergeable": True,
                "html_url": f"{web}{repo.full_name}/pull/{number}",
                "url": f"{api}/repos/{repo.full_name}/pulls/{number}",
                "head": {
                    "ref": pull["head"],
                    "label": f"{head_owner}:{pull['head']}",
                    "sha": rev_parse(repo.bare, f"refs/heads/{pull['head']}") or "",
                    "repo": {"full_name": pull["head_repo"]},
                },
                "base": {
                    "ref": pull["base"],
                    "label": f"{owner}:{pull['base']}",
                    "sha": rev_parse(repo.bare, f"refs/heads/{pull['base']}") or "",
                    "repo": {"full_name": repo.full_name},
                },
            }
        )
        return data

    def _check_json(self, repo: SimRepo, run: dict[str, Any], web: str) -> dict[str, Any]:
        data = {k: copy.deepcopy(v) for k, v in run.items() if k != "history"}
        data["html_url"] = f"{web}{repo.full_name}/runs/{run['id']}"
        data["app"] = {"id": self.app_id, "slug": self.slug}
        return data


# --- helpers -----------------------------------------------------------------------


def _auth_kind(header: str) -> str | None:
    scheme, _, credential = header.partition(" ")
    if not credential:
        return None
    if scheme.lower() == "basic":
        return "basic"
    return "jwt" if credential.strip().startswith("eyJ") else "token"


def _git_token(header: str) -> str | None:
    scheme, _, credential = header.partition(" ")
    if scheme.lower() == "bearer":
        return credential.strip() or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credential.strip()).decode()
        except ValueError:
            return None
        return decoded.partition(":")[2] or None
    return None


def _fault_error(fault: Fault) -> _HTTPError:
    kind, wait = fault.kind, fault.retry_after
    if kind in {"500", "502", "503"}:
        return _HTTPError(int(kind), "Server Error")
    if kind == "429":
        return _HTTPError(429, "Too many requests", {"retry-after": f"{wait:g}"})
    if kind == "secondary":
        return _HTTPError(
            403,
            "You have exceeded a secondary rate limit. Please wait a few "
            "minutes before you try again.",
            {"retry-after": f"{wait:g}"},
        )
    if kind == "rate_limit":
        return _HTTPError(
            403,
            "API rate limit exceeded for installation ID 1.",
            {
                "x-ratelimit-limit": "5000",
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": str(int(time.time() + wait)),
            },
        )
    if kind == "not_accessible":
        return _HTTPError(403, "Resource not accessible by integration")
    if kind == "suspended":
        return _HTTPError(403, "This installation has been suspended")
    if kind == "unauthorized":
        return _HTTPError(401, "Bad credentials")
    raise ValueError(f"unknown fault kind {kind!r}")


def _json_response(status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
    base = {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "4999",
        "x-ratelimit-reset": str(int(time.time()) + 3600),
        "x-github-media-type": "github.v3",
    }
    base.update(headers or {})
    content = b"" if status == 204 else json.dumps(data).encode()
    return Response(
        content, status_code=status, headers=base, media_type=None if status == 204 else JSON
    )


def _parse_json(raw: bytes) -> Any:
    return json.loads(raw)


def _paginate(call: _Call, items: list[Any]) -> Response:
    per_page = max(1, min(100, int(call.query.get("per_page", 30))))
    page = max(1, int(call.query.get("page", 1)))
    chunk = items[(page - 1) * per_page : page * per_page]
    headers = {}
    if page * per_page < len(items):
        query = {**call.query, "per_page": str(per_page), "page": str(page + 1)}
        encoded = "&".join(f"{k}={v}" for k, v in query.items())
        headers["link"] = f'<{call.api}{call.path}?{encoded}>; rel="next"'
    return _json_response(200, chunk, headers)


def _body(call: _Call) -> dict[str, Any]:
    if not isinstance(call.body, dict):
        raise _HTTPError(400, "Problems parsing JSON")
    return call.body


def _invalid(
    resource: str, field_name: str, code: str = "invalid", message: str | None = None
) -> _HTTPError:
    error: dict[str, Any] = {"resource": resource, "field": field_name, "code": code}
    if message:
        error = {"resource": resource, "code": "custom", "message": message}
    return _HTTPError(422, "Validation Failed", errors=[error])


def _git(bare: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=bare, capture_output=True, text=True)
    if done.returncode:
        raise _HTTPError(404, "Not Found")
    return done.stdout


# --- the app and installations -------------------------------------------------------


@_route("POST", "/app-manifests/{code}/conversions", auth="none")
def _convert_manifest(sim: GitHubSim, call: _Call) -> tuple[int, Any]:
    made = sim._manifest_codes.pop(call.params["code"], None)
    if made is None or time.time() - made[1] > 3600:
        raise _HTTPError(404, "Not Found")
    app, _ = made
    app["converted"] += 1
    return 201, {k: v for k, v in app.items() if k not in {"manifest", "converted"}}


@_route("GET", "/app", auth="jwt")
def _get_app(sim: GitHubSim, call: _Call) -> tuple[int, Any]:
    return 200, {"id": sim.app_id, "slug": sim.slug, "name": sim.slug, "owner": _user("acme")}


@_route("GET", "/app/installations", auth="jwt")
def _list_installations(sim: GitHubSim, call: _Call) -> tuple[int, Any]:
    return 200, [
        {"id": i.id, "account": _user(i.account), "suspended_at": _iso() if i.suspended else None}
        for i in sim._installations.values()
    ]


@_route("POST", "/app/installations/{installation_id}/access_tokens", auth="jwt")
def _create_token(sim: GitHubSim, call: _Call) -> tuple[int, Any]:
    installation = sim._installations.get(int(call.params["installation_id"]))
    if installation is None:
        raise _HTTPError(404, "Not Found")
    if installation.suspended:
        raise _HTTPError(403, "This installation has been suspended")
    return 201, sim._issue_token(installation.id)


@_route("GET", "/repos/{owner}/{repo}/installation", auth="jwt")
def _repo_installation(sim: GitHubSim, call: _Call) -> tuple[int, Any]:
    repo = sim._repos.get(f"{call.params['owner']}/{call.params['repo']}")
    if repo is None:
        raise _HTTPError(404, "Not Found")
    installation = sim._installations[repo.installation_id]
    return 200, {"id": installation.id, "account": _user(installation.account)}


@_route("GET", "/installation/repositories")
def _installation_repos(sim: GitHubSim, call: _Call) -> Response:
    assert call.installation is not None
    repos = [
        sim._repo_json(r, call.web, call.api)
        for r in sim._repos.values()
        if r.installation_id == call.installation.id
    ]
    response = _paginate(call, repos)
    response.body = json.dumps(
        {"total_count": len(repos), "repositories": json.loads(response.body)}
    ).encode()
    response.headers["content-length"] = str(len(response.body))
    return response


# --- repositories, branches, contents ------------------------------------------------


@_route("GET", "/repos/{owner}/{repo}")
def _get_repo(sim: GitHubSim, call: _Call) -> tuple[int, Any]:
    return 200, sim._repo_json(sim._visible_repo(call), call.web, call.api)


@_route("GET", "/repos/{owner}/{repo}/branches")
def _list_branches(sim: GitHubSim, call: _Call) -> Response:
    repo = sim._visible_repo(call)
    lines = _git(
        repo.bare, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads"
    ).split("\n")
    branches = [
        {"name": n, "commit": {"sha": s}, "protected": False}
        for n, _, s in (line.partition(" ") for line in lines if line)
    ]
    return _paginate(call, branches)


@_route("GET", "/repos/{owner}/{repo}/branches/{branch:path}")
def _get_branch(sim: GitHubSim, call: _Call) -> tuple[int, Any]:
    repo = sim._visible_repo(call)
    sha = rev_parse(repo.bare, f"refs/heads/{call.params['branch']}")
    if sha is None:
        raise _HTTPError(404, "Branch not found")
    return 200, {"name": call.params["branch"], "commit": {"sha": sha}, "protected": False}


@_route("GET", "/repos/{owner}/{repo}/git/ref/{ref:path}")
def _get_ref(sim: GitHubSim, call: _Call) -> tuple[int, Any]:
    repo = sim._visible_repo(call)
    sha = rev_parse(repo.bare, f"refs/{call.params['ref']}")
    if sha is None:
        raise _HTTPError(404, "Not Found")
    return 200, {"ref": f"refs/{call.params['ref']}", "object": {"sha": sha, "type": "commit"}}


@_route("GET", "/repos/{owner}/{repo}/commits/{ref:path}")
def _get_commit(sim: GitHubSim, call: _Call) -> tuple[int, Any]:
    repo, ref = sim._visible_repo(call), call.params["ref"]
    if ref.endswith(("/check-runs", "/statuses")):
        return _commit_children(sim, call, repo)
    out = _git(repo.bare, "log", "-1", "--format=%H%n%an%n%ae%n%B", ref, "--")
    sha, name, email, message = [*out.split("\n", 3), "", "", ""][:4]
    return 200, {
        "sha": sha,
        "commit": {"message": message.strip(), "author": {"name": name, "email": email}},
    }


def _commit_children(sim: GitHubSim, call: _Call, repo: SimRepo) -> tuple[int, Any]:
    ref, _, kind = call.params["ref"].rpartition("/")
    sha = rev_parse(repo.bare, ref) or ref
    if kind == "statuses":
        return 200, [copy.deepcopy(s) for s in reversed(repo.statuses) if s["sha"] == sha]
    name = call.query.get("check_name")
    runs = [
        sim._check_json(repo, r, call.web)
        for r in repo.check_runs
        if r["head_sha"] == sha and (name is None or r.get("name") == name)
    ]
    return 200, {"total_count": len(runs), "check_runs": runs}


@_route("GET", "/repos/{owner}/{repo}/contents/{path:path}")
def _get_contents(sim: GitHubSim, call: _Call) -> tuple[int, Any]:
    repo = sim._visible_repo(call)
    ref = call.query.get("ref") or repo.default_branch
    done = subprocess.run(
        ["git", "show", f"{ref}:{call.params['path']}"], cwd=repo.bare, capture_output=True
    )
    if done.returncode:
        raise _HTTPError(404, "Not Found")
    return 200, {
        "type": "file",
        "path": call.params["path"],
        "encoding": "base64",
        "size": len(done.stdout),
        "content": base64.b64encode(done.stdout).decode(),
    }


@_route("GET", "/repos/{owner}/{repo}/collaborators/{user}/permission")
def _get_permission(sim: GitHubSim, call: _Call) -> tuple[int, Any]:
    repo, user = sim._visible_repo(call), call.params["user"]
    owner_account = sim._installations[repo.installation_id].account
    role = repo.permissions.get(user, "admin" if user == owner_account else "none")
    return 200, {"permission": ROLE_TO_PERMISSION[role], "role_name": role, "user": _user(user)}


# --- issues, comments, reactions -----------------------------------------------------


@_route("GET", "/repos/{owner}/{repo}/issues/{number}")
def _get_issue(sim: GitHubSim, call: _Call) -> tuple[int, Any]:
    repo, number = sim._visible_repo(call), int(call.params["number"])
    if number not in repo.issues:
        raise _HTTPError(404, "Not Found")
    return 200, sim._issue_json(repo, number, call.web, call.api)


@_route("GET", "/repos/{owner}/{repo}/issues/{number}/events")
def _list_issue_events(sim: GitHubSim, call: _Call) -> Response:
    repo, number = sim._visible_repo(call), int(call.params["number"])
    if number not in repo.issues:
        raise _HTTPError(404, "Not Found")
    return _paginate(call, list(sim._issue_events.get((repo.full_name, number), [])))


@_route("GET", "/repos/{owner}/{repo}/issues/{number}/comments")
def _list_comments(sim: GitHubSim, call: _Call) -> Response:
    repo, number = sim._visible_repo(call), int(call.params["number"])
    if number not in repo.issues:
        raise _HTTPError(404, "Not Found")
    items = [
        sim._comment_json(c, call.web, call.api)
        for c in sim._comments.values()
        if c["repo"] == repo.full_name and c["number"] == number
    ]
    return _paginate(call, items)


@_route("POST", "/repos/{owner}/{repo}/issues/{number}/comments")
def _create_comment(sim: GitHubSim, call: _Call) -> tuple[int, Any]:
    repo, body = sim._visible_repo(call), _body(call)
    text = body.get("body")
    if not isinstance(text, str) or not text:
        raise _invalid("IssueComment", "body", "missing_field")
    if len(text) > 65_536:
        raise _invalid(
            "IssueComment", "body", message="Body is too long (maximum is 65536 characters)"
        )
    comment = sim._store_comment(
        repo.full_name, int(call.params["number"]), text, sim.bot_login, "NONE"
    )
    return 201, sim._comment_json(comment, call.web, call.api)


def _own_comment(sim: GitHubSim, call: _Call) -> dict[str, Any]:
    repo = sim._visible_repo(call)
    comment = sim._comments.get(int(call.params["comment_id"]))
    if comment is None or comment["repo"] != repo.full_name:
        raise _HTTPError(404, "Not Found")
    return comment


@_route("GET", "/repos/{owner}/{repo}/issues/comments/{comment_id}")
def _get_comment(sim: GitHubSim, call: _Call) -> tuple[int, Any]:
    return 200, sim._comment_json(_own_comment(sim, call), call.web, call.api)


@_route("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}")
def _update_comment(sim: GitHubSim, call: _Call) -> tuple[int, Any]:
    comment, text = _own_comment(sim, call), _body(call).get("body")
    if not isinstance(text, str) or not text:
        raise _invalid("IssueComment", "body", "missing_field")
    if len(text) > 65_536:
        raise _invalid(
            "IssueComment", "body", message="Body is too long (maximum is 65536 characters)"
        )
    comment["edits"].append(comment["body"])
    comment["body"], comment["updated_at"] = text, _iso()
    return 200, sim._comment_json(comment, call.web, call.api)


def _react(sim: GitHubSim, call: _Call, **subject: int) -> tuple[int, Any]:
    repo, content = sim._visible_repo(call), _body(call).get("content")
    if content not in REACTIONS:
        raise _invalid("Reaction", "content")
    for reaction in sim._reactions:
        if (
            reaction["repo"] == repo.full_name
            and reaction["content"] == content
            and all(reaction.get(k) == v for k, v in subject.items())
        ):
            return 200, {"id": reaction["id"], "content": content, "user": _user(sim.bot_login)}
    reaction = {
        "id": sim._next_id(),
        "repo": repo.full_name,
        "content": content,
        "user": sim.bot_login,
        **subject,
    }
    sim._reactions.append(reaction)
    return 201, {"id": reaction["id"], "content": content, "user": _user(sim.bot_login)}


@_route("POST", "/repos/{owner}/{repo}/issues/{number}/reactions")
def _react_issue(sim: GitHubSim, call: _Call) -> tuple[int, Any]:
    number = int(call.params["number"])
    if number not in sim._visible_repo(call).issues:
        raise _HTTPError(404, "Not Found")
    return _react(sim, call, number=number)


@_route("POST", "/repos/{owner}/{repo}/issues/comments/{comment_id}/reactions")
def _react_comment(sim: GitHubSim, call: _Call) -> tuple[int, Any]:
    comment = _own_comment(sim, call)
    return _react(sim, call, comment_id=comment["id"])


# --- pull requests -------------------------------------------------------------------


@_route("GET", "/repos/{owner}/{repo}/pulls")
def _list_pulls(sim: GitHubSim, call: _Call) -> Response:
    repo, state = sim._visible_repo(call), call.query.get("state", "open")
    head, base = call.query.get("head"), call.query.get("base")
    items = []
    for number in sorted(repo.pulls, reverse=True):
        pull, issue = repo.pulls[number], repo.issues[number]
        label = f"{pull['head_repo'].split('/', 1)[0]}:{pull['head']}"
        if (
            (state != "all" and issue["state"] != state)
            or (head and head != label)
            or (base and base != pull["base"])
        ):
            continue
        items.append(sim._pull_json(repo, number, call.web, call.api))
    return _paginate(call, items)


@_route("POST", "/repos/{owner}/{repo}/pulls")
def _create_pull(sim: GitHubSim, call: _Call) -> tuple[int, Any]:
    repo, body = sim._visible_repo(call), _body(call)
    owner = repo.full_name.split("/", 1)[0]
    for required in ("title", "head", "base"):
        if not body.get(required):
            raise _invalid("PullRequest", required, "missing_field")
    head_owner, _, head = str(body["head"]).rpartition(":")
    if (head_owner and head_owner != owner) or not rev_parse(repo.bare, f"refs/heads/{head}"):
        raise _invalid("PullRequest", "head")
    if not rev_parse(repo.bare, f"refs/heads/{body['base']}"):
        raise _invalid("PullRequest", "base")
    for number, pull in repo.pulls.items():
        if pull["head"] == head and repo.issues[number]["state"] == "open":
            raise _invalid(
                "PullRequest", "head", message=f"A pull request already exists for {owner}:{head}."
            )
    if not _git(repo.bare, "rev-list", f"{body['base']}..{head}").strip():
        raise _invalid(
            "PullRequest", "head", message=f"No commits between {body['base']} and {head}"
        )
    number = sim.add_pull(
        repo.full_name,
        head,
        str(body["base"]),
        str(body["title"]),
        str(body.get("body") or ""),
        user=sim.bot_login,
        draft=bool(body.get("draft", False)),
    )
    return 201, sim._pull_json(repo, number, call.web, call.api)


def _merge_base(repo: SimRepo, pull: dict[str, Any]) -> tuple[str, str]:
    head = rev_parse(repo.bare, f"refs/heads/{pull['head']}") or ""
    base = rev_parse(repo.bare, f"refs/heads/{pull['base']}") or ""
    return _git(repo.bare, "merge-base", base, head).strip(), head


@_route("GET", "/repos/{owner}/{repo}/pulls/{number}")
def _get_pull(sim: GitHubSim, call: _Call) -> tuple[int, Any] | Response:
    repo, number = sim._visible_repo(call), int(call.params["number"])
    if number not in repo.pulls:
        raise _HTTPError(404, "Not Found")
    if "diff" in call.accept:
        start, head = _merge_base(repo, repo.pulls[number])
        return Response(
            _git(repo.bare, "diff", start, head),
            media_type="application/vnd.github.v3.diff; charset=utf-8",
        )
    return 200, sim._pull_json(repo, number, call.web, call.api)


@_route("GET", "/repos/{owner}/{repo}/pulls/{number}/files")
def _list_pull_files(sim: GitHubSim, call: _Call) -> Response:
    repo, number = sim._visible_repo(call), int(call.params["number"])
    if number not in repo.pulls:
        raise _HTTPError(404, "Not Found")
    start, head = _merge_base(repo, repo.pulls[number])
    statuses = {"A": "added", "M": "modified", "D": "removed", "R": "renamed", "C": "copied"}
    files = []
    for line in _git(repo.bare, "diff", "--name-status", "-M", start, head).splitlines():
        code, *paths = line.split("\t")
        patch = _git(repo.bare, "diff", "-M", start, head, "--", *paths)
        hunk = patch.find("\n@@")
        item: dict[str, Any] = {
            "filename": paths[-1],
            "status": statuses.get(code[0], "modified"),
            "patch": patch[hunk + 1 :] if hunk >= 0 else None,
        }
        if code[0] == "R":
            item["previous_filename"] = paths[0]
        files.append(item)
    return _paginate(call, files)


# --- pull request reviews ----------------------------------------------------------

REVIEW_STATES = {
    "COMMENT": "COMMENTED",
    "APPROVE": "APPROVED",
    "REQUEST_CHANGES": "CHANGES_REQUESTED",
    None: "PENDING",
}
_HUNK_HEADER = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def diff_hunk_lines(diff: str) -> dict[str, dict[str, set[int]]]:
    """Per new path, the lines a review comment may sit on: "RIGHT" (new side: added and
    context lines of the hunks) and "LEFT" (old side: removed and context lines)."""
    found: dict[str, dict[str, set[int]]] = {}
    sides: dict[str, set[int]] = {}
    old = new = 0
    for line in diff.splitlines():
        if line.startswith("diff --git "):
            sides = {}
        elif line.startswith("+++ "):
            name = line[4:]
            sides = found.setdefault(
                name[2:] if name.startswith("b/") else name, {"RIGHT": set(), "LEFT": set()}
            )
        elif (hunk := _HUNK_HEADER.match(line)) is not None:
            old, new = int(hunk.group(1)), int(hunk.group(2))
        elif sides and line[:1] in (" ", "+", "-"):
            if line[0] in " -":
                sides["LEFT"].add(old)
                old += 1
            if line[0] in " +":
                sides["RIGHT"].add(new)
                new += 1
    return found


def _pull_number(repo: SimRepo, call: _Call) -> int:
    number = int(call.params["number"])
    if number not in repo.pulls:
        raise _HTTPError(404, "Not Found")
    return number


def _review_json(review: dict[str, Any], web: str, api: str) -> dict[str, Any]:
    repo, number, rid = review["repo"], review["number"], review["id"]
    return {
        "id": rid,
        "node_id": f"PRR_{rid}",
        "user": _user(review["user"]),
        "body": review["body"],
        "state": review["state"],
        "commit_id": review["commit_id"],
        "author_association": "NONE",
        "submitted_at": review["submitted_at"],
        "html_url": f"{web}{repo}/pull/{number}#pullrequestreview-{rid}",
        "pull_request_url": f"{api}/repos/{repo}/pulls/{number}",
    }


def _review_comment_json(
    review: dict[str, Any], comment: dict[str, Any], web: str, api: str
) -> dict[str, Any]:
    repo, number, cid = review["repo"], review["number"], comment["id"]
    return {
        **comment,
        "pull_request_review_id": review["id"],
        "user": _user(review["user"]),
        "commit_id": review["commit_id"],
        "html_url": f"{web}{repo}/pull/{number}#discussion_r{cid}",
        "url": f"{api}/repos/{repo}/pulls/comments/{cid}",
    }


@_route("POST", "/repos/{owner}/{repo}/pulls/{number}/reviews")
def _create_review(sim: GitHubSim, call: _Call) -> tuple[int, Any]:
    repo, body = sim._visible_repo(call), _body(call)
    number = _pull_number(repo, call)
    event = body.get("event")
    if event not in REVIEW_STATES:
        raise _invalid("PullRequestReview", "event")
    pull = repo.pulls[number]
    commit = str(body.get("commit_id") or rev_parse(repo.bare, f"refs/heads/{pull['head']}"))
    if not rev_parse(repo.bare, f"{commit}^{{commit}}"):
        raise _HTTPError(422, "Unprocessable Entity", errors=["Commit could not be resolved"])
    base = rev_parse(repo.bare, f"refs/heads/{pull['base']}") or ""
    start = _git(repo.bare, "merge-base", base, commit).strip()
    hunks = diff_hunk_lines(_git(repo.bare, "diff", "-M", start, commit))
    text, comments = str(body.get("body") or ""), body.get("comments") or []
    if event in ("COMMENT", "REQUEST_CHANGES") and not text and not comments:
        raise _HTTPError(
            422,
            "Unprocessable Entity",
            errors=[f"Review Body is required for {event.lower().replace('_', ' ')} reviews"],
        )
    stored = []
    for comment in comments:
        if not isinstance(comment, dict) or not comment.get("path") or not comment.get("body"):
            raise _invalid("PullRequestReviewComment", "comments", "missing_field")
        side = comment.get("side", "RIGHT")
        if comment["path"] not in hunks:
            raise _HTTPError(422, "Unprocessable Entity", errors=["Path could not be resolved"])
        if (
            side not in ("LEFT", "RIGHT")
            or not isinstance(comment.get("line"), int)
            or comment["line"] not in hunks[comment["path"]][side]
        ):
            raise _HTTPError(422, "Unprocessable Entity", errors=["Line could not be resolved"])
        if len(str(comment["body"])) > 65_536:
            raise _invalid("PullRequestReviewComment", "body")
        stored.append(
            {
                "id": sim._next_id(),
                "path": comment["path"],
                "line": comment["line"],
                "side": side,
                "body": comment["body"],
            }
        )
    if len(text) > 65_536:
        raise _invalid("PullRequestReview", "body")
    review = {
        "id": sim._next_id(),
        "repo": repo.full_name,
        "number": number,
        "user": sim.bot_login,
        "body": text,
        "state": REVIEW_STATES[event],
        "commit_id": commit,
        "submitted_at": _iso(),
        "comments": stored,
    }
    sim._reviews.append(review)
    return 200, _review_json(review, call.web, call.api)


@_route("GET", "/repos/{owner}/{repo}/pulls/{number}/reviews")
def _list_reviews(sim: GitHubSim, call: _Call) -> Response:
    repo = sim._visible_repo(call)
    number = _pull_number(repo, call)
    return _paginate(
        call,
        [
            _review_json(r, call.web, call.api)
            for r in sim._reviews
            if r["repo"] == repo.full_name and r["number"] == number
        ],
    )


@_route("GET", "/repos/{owner}/{repo}/pulls/{number}/comments")
def _list_review_comments(sim: GitHubSim, call: _Call) -> Response:
    repo = sim._visible_repo(call)
    number = _pull_number(repo, call)
    return _paginate(
        call,
        [
            _review_comment_json(r, c, call.web, call.api)
            for r in sim._reviews
            if r["repo"] == repo.full_name and r["number"] == number
            for c in r["comments"]
        ],
    )


# --- check runs and statuses ---------------------------------------------------------


def _check_fields(body: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key in ("name", "head_sha", "details_url", "external_id"):
        if key in body:
            fields[key] = body[key]
    if "status" in body:
        if body["status"] not in CHECK_STATUSES:
            raise _invalid("CheckRun", "status")
        fields["status"] = body["status"]
    if "conclusion" in body:
        if body["conclusion"] not in CONCLUSIONS:
            raise _invalid("CheckRun", "conclusion")
        fields["conclusion"], fields["status"] = body["conclusion"], "completed"
        fields["completed_at"] = _iso()
    if "output" in body:
        output = body["output"]
        if not isinstance(output, dict) or not output.get("title") or not output.get("summary"):
            raise _invalid("CheckRun", "output", "missing_field")
        for key in ("summary", "text"):
            if len(str(output.get(key, "")).encode()) > 65_535:
                raise _invalid(
                    "CheckRun",
                    f"output.{key}",
                    message=f"Only 65535 characters "
                    f"are allowed; {len(str(output[key]))} were supplied.",
                )
        fields["output"] = {
            "title": output["title"],
            "summary": output["summary"],
            "text": output.get("text"),
        }
    if "actions" in body:
        actions = body["actions"]
        if len(actions) > 3:
            raise _invalid("CheckRun", "actions", message="Only 3 actions are allowed")
        for action in actions:
            if (
                len(action.get("label", "")) > 20
                or len(action.get("identifier", "")) > 20
                or len(action.get("description", "")) > 40
            ):
                raise _invalid("CheckRun", "actions")
        fields["actions"] = actions
    return fields


@_route("POST", "/repos/{owner}/{repo}/check-runs")
def _create_check(sim: GitHubSim, call: _Call) -> tuple[int, Any]:
    repo, body = sim._visible_repo(call), _body(call)
    if not body.get("name") or not body.get("head_sha"):
        raise _invalid("CheckRun", "name" if not body.get("name") else "head_sha", "missing_field")
    fields = _check_fields(body)
    if fields.get("status") == "completed" and "conclusion" not in fields:
        raise _invalid("CheckRun", "conclusion", "missing_field")
    run = {
        "id": sim._next_id(),
        "status": "queued",
        "conclusion": None,
        "output": None,
        "actions": [],
        "details_url": None,
        "started_at": _iso(),
        "completed_at": None,
        **fields,
    }
    run["history"] = [copy.deepcopy(run)]
    repo.check_runs.append(run)
    return 201, sim._check_json(repo, run, call.web)


def _find_check(sim: GitHubSim, call: _Call) -> tuple[SimRepo, dict[str, Any]]:
    repo = sim._visible_repo(call)
    for run in repo.check_runs:
        if run["id"] == int(call.params["check_run_id"]):
            return repo, run
    raise _HTTPError(404, "Not Found")


@_route("GET", "/repos/{owner}/{repo}/check-runs/{check_run_id}")
def _get_check(sim: GitHubSim, call: _Call) -> tuple[int, Any]:
    repo, run = _find_check(sim, call)
    return 200, sim._check_json(repo, run, call.web)


@_route("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}")
def _update_check(sim: GitHubSim, call: _Call) -> tuple[int, Any]:
    repo, run = _find_check(sim, call)
    fields = _check_fields(_body(call))
    if (
        fields.get("status") == "completed"
        and "conclusion" not in fields
        and run["conclusion"] is None
    ):
        raise _invalid("CheckRun", "conclusion", "missing_field")
    run.update(fields)
    run["history"].append({k: copy.deepcopy(v) for k, v in run.items() if k != "history"})
    return 200, sim._check_json(repo, run, call.web)


@_route("POST", "/repos/{owner}/{repo}/statuses/{sha}")
def _create_status(sim: GitHubSim, call: _Call) -> tuple[int, Any]:
    repo, body = sim._visible_repo(call), _body(call)
    if body.get("state") not in {"error", "failure", "pending", "success"}:
        raise _invalid("Status", "state")
    status = {
        "id": sim._next_id(),
        "sha": call.params["sha"],
        "state": body["state"],
        "context": body.get("context", "default"),
        "description": body.get("description"),
        "target_url": body.get("target_url"),
        "created_at": _iso(),
    }
    repo.statuses.append(status)
    return 201, status


register_routes(_route, _json_response, _HTTPError)
