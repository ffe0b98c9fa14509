"""Repositories: set-up, and the API's repository, branch, ref, commit, contents and
collaborator permission endpoints."""

from __future__ import annotations

import base64
import copy
import shutil
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.sim.git_http import commit_files, init_bare_repo, rev_parse
from tests.sim.github.auth import AuthSetup
from tests.sim.github.http import git, paginate, route
from tests.sim.github.shapes import check_json, repo_json
from tests.sim.github.state import ROLE_TO_PERMISSION, Call, SimRepo, repo_id_of, user_json
from tests.sim.skeleton import SimError

if TYPE_CHECKING:
    from starlette.responses import Response

    from tests.sim.github.app import GitHubSim


class ReposSetup(AuthSetup):
    """Set-up of repositories (each in an installation of its owner by default)."""

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
            repo_id = repo_id_of(full_name)
            if any(r.id == repo_id for r in self._repos.values()):  # its old name's, renamed
                repo_id = 5_000_000_000 + self._next_id()  # above any crc32: no one else's
            self._repos[full_name] = SimRepo(
                repo_id, full_name, bare, installation_id, private, default_branch
            )
        return bare

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
        name, _, email = author.partition(" <")
        env = {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email.rstrip(">"),
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email.rstrip(">"),
            "PATH": "/usr/bin:/bin:/usr/local/bin",
            "HOME": str(self.root),
        }
        start = base or self._repo(repo).default_branch
        with tempfile.TemporaryDirectory(dir=self.root) as work:
            return commit_files(
                self._repo(repo).bare,
                Path(work),
                start,
                branch,
                files,
                message=message,
                env=env,
                force=True,
            )

    def repo_id(self, full_name: str) -> int:
        with self._lock:
            return self._repo(full_name).id

    def rename_repo(self, full_name: str, new_full_name: str) -> int:
        """`full_name` is `new_full_name` from now on (same id, issues and permissions);
        the old name is free for another repository. Its id is returned."""
        with self._lock:
            repo = self._repos.pop(full_name)
            repo.full_name = new_full_name
            self._repos[new_full_name] = repo
            for item in [*self._comments.values(), *self._reactions, *self._reviews]:
                if item.get("repo") == full_name:
                    item["repo"] = new_full_name
            for repo_name, number in [k for k in self._issue_events if k[0] == full_name]:
                events = self._issue_events.pop((repo_name, number))
                self._issue_events[(new_full_name, number)] = events
            moved = self.git_root / f"{new_full_name}.git"
            moved.parent.mkdir(parents=True, exist_ok=True)
            repo.bare = repo.bare.rename(moved)
            shutil.rmtree(self.git_root / ".work" / full_name, ignore_errors=True)
            return repo.id

    def set_permission(self, repo: str, user: str, permission: str) -> None:
        if permission not in ROLE_TO_PERMISSION:
            raise ValueError(f"unknown permission {permission!r}")
        with self._lock:
            self._repo(repo).permissions[user] = permission


@route("GET", "/repos/{owner}/{repo}")
def _get_repo(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    return _repo_answer(sim, call)


def _repo_answer(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    repo = sim._visible_repo(call)
    data = repo_json(repo, call.web, call.api)
    if call.user is not None:  # a user token: what this person may do
        from tests.sim.github.oauth import user_permissions

        data["permissions"] = user_permissions(sim, repo, call.user)
    return 200, data


@route("GET", "/repositories/{repo_id:int}")
def _get_repo_by_id(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    """The repository of this id under whatever name it has now, to the same tokens that
    read it by name."""
    found = [r for r in sim._repos.values() if r.id == int(call.params["repo_id"])]
    if not found:
        raise SimError(404, "Not Found")
    owner, _, name = found[0].full_name.partition("/")
    return _repo_answer(sim, replace(call, params={"owner": owner, "repo": name}))


@route("GET", "/repos/{owner}/{repo}/branches")
def _list_branches(sim: GitHubSim, call: Call) -> Response:
    repo = sim._visible_repo(call)
    lines = git(
        repo.bare, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads"
    ).split("\n")
    branches = [
        {"name": n, "commit": {"sha": s}, "protected": False}
        for n, _, s in (line.partition(" ") for line in lines if line)
    ]
    return paginate(call, branches)


@route("GET", "/repos/{owner}/{repo}/branches/{branch:path}")
def _get_branch(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    repo = sim._visible_repo(call)
    sha = rev_parse(repo.bare, f"refs/heads/{call.params['branch']}")
    if sha is None:
        raise SimError(404, "Branch not found")
    return 200, {"name": call.params["branch"], "commit": {"sha": sha}, "protected": False}


@route("GET", "/repos/{owner}/{repo}/git/ref/{ref:path}")
def _get_ref(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    repo = sim._visible_repo(call)
    sha = rev_parse(repo.bare, f"refs/{call.params['ref']}")
    if sha is None:
        raise SimError(404, "Not Found")
    return 200, {"ref": f"refs/{call.params['ref']}", "object": {"sha": sha, "type": "commit"}}


@route("GET", "/repos/{owner}/{repo}/commits/{ref:path}")
def _get_commit(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    repo, ref = sim._visible_repo(call), call.params["ref"]
    if ref.endswith(("/check-runs", "/statuses")):
        return _commit_children(sim, call, repo)
    out = git(repo.bare, "log", "-1", "--format=%H%n%an%n%ae%n%B", ref, "--")
    sha, name, email, message = [*out.split("\n", 3), "", "", ""][:4]
    return 200, {
        "sha": sha,
        "commit": {"message": message.strip(), "author": {"name": name, "email": email}},
    }


def _commit_children(sim: GitHubSim, call: Call, repo: SimRepo) -> tuple[int, Any]:
    """`GET .../commits/{ref}/check-runs` and `.../statuses`."""
    ref, _, kind = call.params["ref"].rpartition("/")
    sha = rev_parse(repo.bare, ref) or ref
    if kind == "statuses":
        return 200, [copy.deepcopy(s) for s in reversed(repo.statuses) if s["sha"] == sha]
    name = call.query.get("check_name")
    runs = [
        check_json(sim, repo, r, call.web)
        for r in repo.check_runs
        if r["head_sha"] == sha and (name is None or r.get("name") == name)
    ]
    return 200, {"total_count": len(runs), "check_runs": runs}


@route("GET", "/repos/{owner}/{repo}/contents/{path:path}")
def _get_contents(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    repo = sim._visible_repo(call)
    ref = call.query.get("ref") or repo.default_branch
    done = subprocess.run(
        ["git", "show", f"{ref}:{call.params['path']}"], cwd=repo.bare, capture_output=True
    )
    if done.returncode:
        raise SimError(404, "Not Found")
    return 200, {
        "type": "file",
        "path": call.params["path"],
        "encoding": "base64",
        "size": len(done.stdout),
        "content": base64.b64encode(done.stdout).decode(),
    }


@route("GET", "/repos/{owner}/{repo}/collaborators/{user}/permission")
def _get_permission(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    repo, user = sim._visible_repo(call), call.params["user"]
    owner_account = sim._installations[repo.installation_id].account
    role = repo.permissions.get(user, "admin" if user == owner_account else "none")
    return 200, {"permission": ROLE_TO_PERMISSION[role], "role_name": role, "user": user_json(user)}
