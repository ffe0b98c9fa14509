"""The GitHub simulator's state: installations, repositories and what lives in them."""

from __future__ import annotations

import re
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.sim.git_http import rev_parse
from tests.sim.github.hooks import HookLog
from tests.sim.skeleton import Fault, ForgeServer, SimError

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
    return private, public_pem_of(private)


def public_pem_of(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def iso(epoch: float | None = None) -> str:
    moment = datetime.fromtimestamp(time.time() if epoch is None else epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def later_than(previous: str) -> str:
    """Now, or a second after `previous` when that is not earlier: people take more than
    a second between two changes of one issue, a test does not."""
    earlier = datetime.strptime(previous, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    return iso(max(time.time(), earlier + 1))


def repo_id_of(full_name: str) -> int:
    """The id the simulator gives the first repository made with this name, so that a
    test's own webhook payload (tests/e2e/github_events.py) names it as GitHub would."""
    return zlib.crc32(full_name.lower().encode())


def user_json(login: str) -> dict[str, Any]:
    return {
        "login": login,
        "id": zlib.crc32(login.encode()),
        "type": "Bot" if login.endswith("[bot]") else "User",
    }


@dataclass
class GitHubFault(Fault):
    """A fault of `fail_next`: `kind` says which error answers (see the package docs)."""

    kind: str = "500"
    retry_after: float = 1.0


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
class Call:
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
    user: str | None = None  # a user-to-server token's person (oauth.py)


class GitHubState(ForgeServer[GitHubFault]):
    """Everything the simulated GitHub holds, in memory (git repositories on disk)."""

    def __init__(
        self,
        root: Path,
        *,
        app_id: int,
        slug: str,
        private_key_pem: str | None,
        public_key_pem: str | None,
        api_prefix: str,
        token_ttl: float,
    ) -> None:
        super().__init__("http://127.0.0.1")
        self.root = Path(root)
        self.git_root = self.root / "git"
        self.git_root.mkdir(parents=True, exist_ok=True)
        # git config of the server's side of every clone and fetch (e.g. a hostile
        # `uploadpack.packObjectsHook`); empty: a plain git server
        self.git_server_config: dict[str, str] = {}
        self.app_id = app_id
        self.slug = slug
        if private_key_pem is None:
            private_key_pem, public_key_pem = generate_app_key()
        elif public_key_pem is None:
            public_key_pem = public_pem_of(private_key_pem)
        self.private_key_pem: str = private_key_pem
        self.public_key_pem: str = public_key_pem or ""
        self.api_prefix = "/" + api_prefix.strip("/") if api_prefix.strip("/") else ""
        self.token_ttl = token_ttl
        self.tokens_issued: list[str] = []
        self.hooks = HookLog()  # the App's webhook: its URL, secret and delivery log
        self._installations: dict[int, Installation] = {}
        self._tokens: dict[str, tuple[int, float]] = {}  # token -> (installation, expires)
        self._repos: dict[str, SimRepo] = {}
        self._comments: dict[int, dict[str, Any]] = {}
        self._reactions: list[dict[str, Any]] = []
        self._reviews: list[dict[str, Any]] = []  # pull request reviews, oldest first
        # (repo, number) -> issue events ("labeled"), oldest first
        self._issue_events: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self._ids = iter(range(1000, 10**9))
        self.manifest_apps: list[dict[str, Any]] = []  # the manifest flow's Apps
        self._manifest_codes: dict[str, tuple[dict[str, Any], float]] = {}

    @property
    def bot_login(self) -> str:
        return f"{self.slug}[bot]"

    def _next_id(self) -> int:
        return next(self._ids)

    def _repo(self, repo: str) -> SimRepo:
        try:
            return self._repos[repo]
        except KeyError:
            raise KeyError(f"no repository {repo!r} in the simulator") from None

    def _named_repo(self, owner: str, name: str) -> SimRepo | None:
        """`owner/name` in any case, as GitHub's API finds it (its answers spell it right)."""
        wanted = f"{owner}/{name}"
        found = self._repos.get(wanted)
        if found is None:
            found = next((r for k, r in self._repos.items() if k.lower() == wanted.lower()), None)
        return found

    def _visible_repo(self, call: Call) -> SimRepo:
        repo = self._named_repo(call.params["owner"], call.params["repo"])
        if repo is not None and call.user is not None and self.user_reads(repo, call.user):
            return repo
        if (
            repo is None
            or call.installation is None
            or repo.installation_id != call.installation.id
        ):
            raise SimError(404, "Not Found")
        return repo

    def user_reads(self, repo: SimRepo, login: str) -> bool:
        """Whether a user token of `login` reads `repo` (oauth.py)."""
        return False

    def _api_path(self, path: str) -> str | None:
        if not self.api_prefix:
            return path
        if path == self.api_prefix or path.startswith(self.api_prefix + "/"):
            return path[len(self.api_prefix) :] or "/"
        return None

    def _urls(self) -> tuple[str, str]:
        """(web, api) base URLs of webhook payloads: those of `base_url`."""
        web = self.base_url.rstrip("/") + "/"
        return web, web.rstrip("/") + self.api_prefix

    def installation_id(self, repo: str) -> int:
        return self._repo(repo).installation_id

    def bare_path(self, repo: str) -> Path:
        return self._repo(repo).bare

    def branch_sha(self, repo: str, branch: str) -> str | None:
        return rev_parse(self._repo(repo).bare, f"refs/heads/{branch}")

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
        """The next `count` requests matching `pattern` fail with `kind` (package docs)."""
        fault = GitHubFault(
            re.compile(pattern),
            count,
            applied=applied,
            drop=kind == "drop",
            delay=retry_after if kind == "hang" else 0.0,
            body_contains=body_contains,
            kind=kind,
            retry_after=retry_after,
        )
        with self._lock:
            self._faults.append(fault)
