"""`deploy/compose.yml` with `deploy/compose.local.yml` under Debian's docker-compose 1.29
(`make image-test`): the stack comes up in order (migrate exits 0 before web and worker),
web answers `/healthz` and `/readyz` on its loopback port, and two scaled workers each
probe their sandbox. Torn down with its volumes, also on failure."""

from __future__ import annotations

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

from tests.e2e.harness import ADMIN_TOKEN, wait_for
from tests.image.conftest import FIGURES
from tests.image.containers import DOCKER, IMAGE, ROOT, docker
from tests.sim.serve import free_port

COMPOSE = os.environ.get("DOCKER_COMPOSE", "docker-compose")
FILES = ("-f", "deploy/compose.yml", "-f", "deploy/compose.local.yml")


@dataclass
class Stack:
    project: str
    env_file: Path
    url: str

    def compose(self, *args: str, check: bool = True, timeout: float = 600) -> str:
        done = subprocess.run(
            [COMPOSE, "--project-name", self.project, "--env-file", str(self.env_file),
             *FILES, *args],
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


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    port = free_port()
    env_file = tmp_path_factory.mktemp("compose") / "agentops.env"
    env_file.write_text(
        "\n".join(
            [
                f"POSTGRES_PASSWORD={secrets.token_hex(16)}",
                f"TENANT_DB_PASSWORD={secrets.token_hex(16)}",
                f"AGENTOPS_ENV_FILE={env_file}",
                f"AGENTOPS_IMAGE={IMAGE}",
                f"AGENTOPS_WEB_PORT={port}",
                f"AGENTOPS_PUBLIC_URL=http://127.0.0.1:{port}",
                f"AGENTOPS_ADMIN_TOKEN={ADMIN_TOKEN}",
                "AGENTOPS_HEARTBEAT_SECONDS=0.5",
                "WORKER_PROC_OPTION=no-new-privileges",
                "",
            ]
        )
    )
    env_file.chmod(0o600)
    stack = Stack(f"agentops-compose-{uuid.uuid4().hex[:8]}", env_file, f"http://127.0.0.1:{port}")
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
