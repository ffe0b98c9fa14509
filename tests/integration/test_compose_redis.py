"""Compose's Redis command (deploy/compose.yml), run as compose runs it, on a real
`redis-server`: the password (given as configuration on standard input, not as an
argument) holds, the append-only file is on, and the server is the process compose
started, so that it gets the stop signal."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import yaml

from tests.sim.serve import free_port

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "compose.yml"


def compose_command() -> list[str]:
    """The command as the container gets it: compose turns `$$` into `$`."""
    command = yaml.safe_load(COMPOSE.read_text())["services"]["redis"]["command"]
    return [part.replace("$$", "$") for part in command]


@pytest.fixture
def compose_redis(tmp_path: Path) -> Iterator[tuple[int, str, subprocess.Popen[bytes]]]:
    password, port = secrets.token_hex(16), free_port()
    process = subprocess.Popen(
        [*compose_command(), "--port", str(port), "--dir", str(tmp_path), "--save", ""],
        env={**os.environ, "REDIS_PASSWORD": password},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis(port=port, password=password).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.05)
        yield port, password, process
    finally:
        process.terminate()
        process.wait(10)


def test_the_password_holds_and_the_server_gets_the_signals(
    compose_redis: tuple[int, str, subprocess.Popen[bytes]],
) -> None:
    port, password, process = compose_redis
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=port).ping()
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=port, password="wrong").ping()
    client = redis.Redis(port=port, password=password)
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    # `exec`: the server is the process compose started (it gets the stop signal)
    assert Path(f"/proc/{process.pid}/cmdline").read_bytes().startswith(b"redis-server")
    process.terminate()
    assert process.wait(10) == 0  # a clean shutdown: the append-only file is synced
