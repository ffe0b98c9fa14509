"""`deploy/compose.yml` with `deploy/compose.local.yml` under Debian's docker-compose 1.29
(`make image-test`; plus the test-only `compose.privileged.yml`, see its header): the
stack comes up in order (migrate exits 0 before web and worker),
web answers `/healthz` and `/readyz` on its loopback port, and two scaled workers each
probe their sandbox. Torn down with its volumes, also on failure."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.forges.markers import unmarked
from tests.e2e import github_events as events
from tests.e2e.conftest import GITHUB_SECRET, workdir
from tests.e2e.harness import ADMIN_TOKEN, wait_for
from tests.image.conftest import FIGURES
from tests.image.containers import DOCKER, IMAGE, ROOT, docker
from tests.sim.github import GitHubSim
from tests.sim.serve import free_port, serve_app

COMPOSE = os.environ.get("DOCKER_COMPOSE", "docker-compose")
FILES = (
    "-f", "deploy/compose.yml",
    "-f", "deploy/compose.local.yml",
    # test-only: docker-compose 1.29 here cannot give the worker its sandbox otherwise
    "-f", "tests/image/compose.privileged.yml",
)  # fmt: skip
__all__ = ["workdir"]


@dataclass
class Stack:
    project: str
    env_file: Path
    url: str
    override: Path

    def compose(self, *args: str, check: bool = True, timeout: float = 600) -> str:
        done = subprocess.run(
            [COMPOSE, "--project-name", self.project, "--env-file", str(self.env_file),
             *FILES, "-f", str(self.override), *args],
            cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
        if check and done.returncode != 0:
            raise AssertionError(f"docker-compose {' '.join(args)}: {done.stderr[-3000:]}")
        return done.stdout + done.stderr

    def containers(self, service: str) -> list[str]:
        return self.compose("ps", "-q", service).split()

    def state(self, container: str) -> dict[str, Any]:
        found: list[dict[str, Any]] = json.loads(docker("inspect", container))
        state: dict[str, Any] = found[0]["State"]
        return state

    def sandbox_line(self, container: str) -> str | None:
        """The worker's start-up line about its test sandbox, once it has logged it."""
        lines = self.logs(container).splitlines()
        return next((line for line in lines if "test sandbox" in line), None)

    def logs(self, container: str) -> str:
        done = subprocess.run(
            [DOCKER, "logs", container], capture_output=True, text=True, timeout=30, check=False
        )
        return done.stdout + done.stderr

    def status(self, path: str) -> int:
        try:
            return httpx.get(f"{self.url}{path}", timeout=2).status_code
        except httpx.HTTPError:
            return 0


def bridge_address() -> str:
    """The host's address on Docker's default bridge: what `host-gateway` resolves to."""
    out = subprocess.run(["ip", "-4", "-o", "addr", "show", "docker0"], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    return out.split()[3].split("/")[0]


@pytest.fixture(scope="module")
def github_on_bridge(workdir: Path) -> Iterator[tuple[GitHubSim, int]]:
    """The GitHub simulator on the bridge address (not 0.0.0.0), for the containers."""
    sim = GitHubSim(workdir / "github-compose")
    with serve_app(sim.app, host=bridge_address()) as url:
        yield sim, int(url.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, github_on_bridge: tuple[GitHubSim, int]
) -> Iterator[Stack]:
    gh, gh_port = github_on_bridge
    port = free_port()
    tmp = tmp_path_factory.mktemp("compose")
    env_file = tmp / "agentops.env"
    key = tmp / "github-app.pem"
    key.write_text(gh.private_key_pem)
    key.chmod(0o644)  # read by uid 10001 in the containers; the directory is private
    override = tmp / "compose.test.yml"
    reach = {
        "extra_hosts": ["host.docker.internal:host-gateway"],
        "volumes": [f"{key}:/run/secrets/github-app.pem:ro"],
    }
    override.write_text(json.dumps({"version": "3.9", "services": {"web": reach, "worker": reach}}))
    env_file.write_text(
        "\n".join(
            [
                f"POSTGRES_PASSWORD={secrets.token_hex(16)}",
                f"TENANT_DB_PASSWORD={secrets.token_hex(16)}",
                f"REDIS_PASSWORD={secrets.token_hex(16)}",
                f"AGENTOPS_ENV_FILE={env_file}",
                f"AGENTOPS_IMAGE={IMAGE}",
                f"AGENTOPS_WEB_PORT={port}",
                f"AGENTOPS_PUBLIC_URL=http://127.0.0.1:{port}",
                f"AGENTOPS_ADMIN_TOKEN={ADMIN_TOKEN}",
                "AGENTOPS_HEARTBEAT_SECONDS=0.5",
                "WORKER_PROC_OPTION=no-new-privileges",
                f"AGENTOPS_GITHUB_APP_ID={gh.app_id}",
                "AGENTOPS_GITHUB_APP_SLUG=agentops",
                f"AGENTOPS_GITHUB_WEBHOOK_SECRET={GITHUB_SECRET}",
                f"AGENTOPS_GITHUB_API_URL=http://host.docker.internal:{gh_port}",
                "AGENTOPS_GITHUB_PRIVATE_KEY_PATH=/run/secrets/github-app.pem",
                "AGENTOPS_OLLAMA_URL=http://127.0.0.1:9",
                "",
            ]
        )
    )
    env_file.chmod(0o600)
    stack = Stack(
        f"agentops-compose-{uuid.uuid4().hex[:8]}", env_file, f"http://127.0.0.1:{port}", override
    )
    try:
        stack.compose("build", "postgres", "redis")
        started = time.monotonic()
        stack.compose("up", "--detach")
        wait_for(lambda: stack.status("/readyz") == 200, 120, 0.1, "web /readyz")
        FIGURES["compose (docker-compose up → web /readyz 200)"] = (
            f"{time.monotonic() - started:.2f} s, load {os.getloadavg()[0]:.1f}"
        )
        yield stack
    finally:
        print(stack.compose("logs", "--no-color", "--tail", "30", check=False)[-6000:])
        stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "10", check=False)


def test_migrate_ran_once_and_exited_zero(stack: Stack) -> None:
    (migrate,) = stack.containers("migrate")
    state = stack.state(migrate)
    assert state["Status"] == "exited" and state["ExitCode"] == 0, state
    assert "Traceback" not in stack.logs(migrate)


def test_web_answers_on_its_loopback_port(stack: Stack) -> None:
    assert stack.status("/healthz") == 200
    assert stack.status("/readyz") == 200
    (web,) = stack.containers("web")
    ports = json.loads(docker("inspect", "--format", "{{json .NetworkSettings.Ports}}", web))
    assert [b["HostIp"] for b in ports["8000/tcp"]] == ["127.0.0.1"], ports


def test_postgres_and_redis_report_healthy(stack: Stack) -> None:
    for service in ("postgres", "redis"):
        (container,) = stack.containers(service)
        health = stack.state(container)["Health"]
        assert isinstance(health, dict) and health["Status"] == "healthy", (service, health)


def test_redis_refuses_a_client_without_its_password(stack: Stack) -> None:
    (redis,) = stack.containers("redis")
    (web,) = stack.containers("web")
    address = docker(
        "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", redis
    ).strip()
    # from another container of the project, as anything on its network would try
    probe = (
        f"import socket; s = socket.create_connection(({address!r}, 6379), 5); "
        "s.sendall(b'PING\\r\\n'); print(s.recv(200).decode())"
    )
    answer = docker("exec", web, "python", "-c", probe)
    assert answer.startswith("-NOAUTH"), answer


def test_two_scaled_workers_each_probe_their_sandbox(stack: Stack) -> None:
    stack.compose("up", "--detach", "--no-recreate", "--scale", "worker=2", "worker")
    wait_for(lambda: len(stack.containers("worker")) == 2, 60, 0.5, "two worker containers")
    for worker in stack.containers("worker"):
        line = wait_for(
            partial(stack.sandbox_line, worker),
            90,
            0.5,
            f"worker {worker[:12]} to probe its sandbox",
        )
        assert "no test sandbox" not in line, line
        assert stack.state(worker)["Running"] is True


def test_help_round_trip_through_the_github_simulator(
    stack: Stack, github_on_bridge: tuple[GitHubSim, int]
) -> None:
    gh, _ = github_on_bridge
    repo = "acme/compose"
    gh.add_repo(repo, {"README.md": "# compose\n"})
    gh.set_permission(repo, "alice", "write")
    number = gh.add_issue(repo, "Help", "what can you do", user="alice")
    comment_id = gh.add_comment(repo, number, "/agentops help", user="alice")
    payload = events.issue_comment(
        repo, gh.installation_id(repo), number, "/agentops help", "alice", comment_id=comment_id
    )
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = httpx.post(
        f"{stack.url}/webhooks/github",
        content=body,
        timeout=10,
        headers={
            "X-GitHub-Event": "issue_comment",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": signature,
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 202, response.text
    replies = wait_for(
        lambda: [
            unmarked(c["body"])
            for c in gh.comments(repo, number)
            if c["user"]["login"] == gh.bot_login
        ],
        60,
        0.2,
        "the help reply",
    )
    assert "/agentops implement" in replies[0]
