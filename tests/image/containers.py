"""Containers of the image under test, run with the `docker` CLI on the host network (so
that they reach this machine's PostgreSQL, a private Redis and the simulators on loopback).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DOCKER = os.environ.get("DOCKER", "docker")
IMAGE = os.environ.get("AGENTOPS_IMAGE", "agentops:test")
PROFILE = ROOT / "deploy" / "seccomp-bwrap.json"
# The narrowest setting under which the worker's sandbox starts (README, "Deploying"):
# the shipped seccomp profile and an unmasked /proc; no capability, no privilege gain.
SANDBOX_OPTIONS = (
    "--security-opt",
    f"seccomp={PROFILE}",
    "--security-opt",
    "systempaths=unconfined",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
)


def docker(
    *args: str, check: bool = True, timeout: float = 120, env: dict[str, str] | None = None
) -> str:
    done = subprocess.run(
        [DOCKER, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if check and done.returncode != 0:
        raise AssertionError(
            f"`docker {shlex.join(args)}` exited {done.returncode}:\n{done.stderr[-3000:]}"
        )
    return done.stdout + (done.stderr if "--progress=plain" in args else "")


def run_once(*args: str, options: tuple[str, ...] = (), env: dict[str, str] | None = None) -> str:
    """`docker run --rm IMAGE args…`: its output (stdout and stderr), whatever it exits."""
    env_args = [a for k, v in (env or {}).items() for a in ("-e", f"{k}={v}")]
    done = subprocess.run(
        [DOCKER, "run", "--rm", "--network", "host", *options, *env_args, IMAGE, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done.stdout + done.stderr


class Container:
    """One detached container of the image, removed by `remove`."""

    def __init__(self, role: str, args: list[str], env: dict[str, str]) -> None:
        self.name = f"agentops-image-test-{role}-{uuid.uuid4().hex[:8]}"
        self.args = args
        self.env = env

    def start(self, *options: str) -> None:
        env_args = [a for k, v in self.env.items() for a in ("-e", f"{k}={v}")]
        docker(
            "run", "--detach", "--name", self.name, "--network", "host",
            *options, *env_args, IMAGE, *self.args,
        )  # fmt: skip

    def inspect(self) -> dict[str, Any]:
        found: list[dict[str, Any]] = json.loads(docker("inspect", self.name))
        return found[0]

    def health(self) -> str:
        state = self.inspect()["State"]
        return str(state.get("Health", {}).get("Status", "none"))

    def running(self) -> bool:
        return bool(self.inspect()["State"]["Running"])

    def logs(self) -> str:
        done = subprocess.run(
            [DOCKER, "logs", self.name], capture_output=True, text=True, timeout=30, check=False
        )
        return done.stdout + done.stderr

    def exec(self, *args: str) -> str:
        return docker("exec", self.name, *args)

    def remove(self) -> None:
        docker("rm", "--force", self.name, check=False)
