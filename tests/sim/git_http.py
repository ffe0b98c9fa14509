"""Real git over HTTP for the forge simulators: `git http-backend` run as a CGI program.

Clone, fetch and push against a simulator go through git's own smart-HTTP server, so the
service's `app/git.py` is exercised exactly as against a real forge.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response


def init_bare_repo(root: Path, path: str, files: dict[str, str], branch: str = "main") -> Path:
    """Create `root/path.git` holding one commit with `files` on `branch`."""
    bare = root / f"{path}.git"
    bare.parent.mkdir(parents=True, exist_ok=True)
    work = root / ".work" / path
    work.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Sim",
        "GIT_AUTHOR_EMAIL": "sim@example.invalid",
        "GIT_COMMITTER_NAME": "Sim",
        "GIT_COMMITTER_EMAIL": "sim@example.invalid",
        # Fixed dates: the same files give the same first commit, so a project made from
        # another's files shares its history (a fork), whatever second the test runs in.
        "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
    }

    def git(*args: str, cwd: Path = work) -> None:
        subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)

    git("init", "-q", "-b", branch)
    for name, content in files.items():
        target = work / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    git("add", "-A")
    git("commit", "-q", "-m", "initial commit")
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(work), str(bare)],
        check=True,
        capture_output=True,
        env=env,
    )
    subprocess.run(["git", "config", "http.receivepack", "true"], cwd=bare, check=True)
    return bare


def rev_parse(bare: Path, ref: str) -> str | None:
    done = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", ref], cwd=bare, capture_output=True, text=True
    )
    return done.stdout.strip() or None


async def git_http_backend(
    request: Request,
    project_root: Path,
    path_info: str,
    remote_user: str,
    server_config: dict[str, str] | None = None,
) -> Response:
    """Answer one smart-HTTP request (`info/refs`, `git-upload-pack`, `git-receive-pack`).
    server_config: git config for the server's side (a test's hostile server, say)."""
    body = await request.body()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_PROJECT_ROOT": str(project_root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": path_info,
        "REQUEST_METHOD": request.method,
        "QUERY_STRING": request.url.query,
        "CONTENT_TYPE": request.headers.get("content-type", ""),
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_USER": remote_user,
        "REMOTE_ADDR": "127.0.0.1",
        "GIT_HTTP_MAX_REQUEST_BUFFER": "100M",
    }
    for number, (key, value) in enumerate((server_config or {}).items()):
        env[f"GIT_CONFIG_KEY_{number}"], env[f"GIT_CONFIG_VALUE_{number}"] = key, value
    env["GIT_CONFIG_COUNT"] = str(len(server_config or {}))
    if request.headers.get("content-encoding"):
        env["HTTP_CONTENT_ENCODING"] = request.headers["content-encoding"]
    if request.headers.get("git-protocol"):
        env["GIT_PROTOCOL"] = request.headers["git-protocol"]
    proc = await asyncio.create_subprocess_exec(
        "git",
        "http-backend",
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate(body)
    head, _, payload = out.partition(b"\r\n\r\n")
    if not _ and b"\n\n" in out:
        head, _, payload = out.partition(b"\n\n")
    status = 200
    headers: dict[str, str] = {}
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        elif name:
            headers[name.strip()] = value.strip()
    if proc.returncode and not out:
        return Response(err or b"git http-backend failed", status_code=500)
    return Response(payload, status_code=status, headers=headers)


def commit_files(
    bare: Path,
    work: Path,
    start: str,
    branch: str,
    files: dict[str, str],
    *,
    message: str,
    env: dict[str, str],
    force: bool = False,
) -> str:
    """Commit `files` on `branch` (made from `start`) straight into `bare`: its sha.

    `work` is an empty scratch directory for the clone.
    """

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=work, env=env, check=True, capture_output=True, text=True
        )
        return done.stdout.strip()

    git("clone", "-q", "--branch", start, str(bare), ".")
    git("checkout", "-q", "-B", branch)
    for path, content in files.items():
        target = work / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    git("add", "-A")
    git("commit", "-q", "-m", message)
    git("push", "-q", *(["--force"] if force else []), "origin", f"HEAD:refs/heads/{branch}")
    return git("rev-parse", "HEAD")
