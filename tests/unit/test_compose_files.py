"""What a user copying `deploy/` gets: no privileged container, a Redis with a password.

The image tests (`tests/image/test_compose.py`) bring the stack up; these read the files
a user is told to use, as docker-compose would merge them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
USER_FILES = ("compose.yml", "compose.local.yml")


def services(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / name).read_text())
    found: dict[str, Any] = loaded["services"]
    return found


def test_no_compose_file_users_are_told_to_use_makes_a_container_privileged() -> None:
    for name in USER_FILES:
        for service, spec in services(name).items():
            assert not spec.get("privileged"), f"{name}: {service} is privileged"
            assert "CAP_SYS_ADMIN" not in spec.get("cap_add", []), (name, service)
    readme = (DEPLOY.parent / "README.md").read_text()
    assert "runs the worker privileged" not in readme


def test_redis_wants_the_env_files_password_and_every_service_gives_it() -> None:
    text = (DEPLOY / "compose.yml").read_text()
    redis = services("compose.yml")["redis"]
    command = " ".join(redis["command"])
    assert "requirepass $$REDIS_PASSWORD" in command and "--requirepass" not in command
    assert "protected-mode" not in command
    assert redis["environment"]["REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?")
    loaded = yaml.safe_load(text)
    url = loaded["x-agentops"]["environment"]["AGENTOPS_REDIS_URL"]
    assert url.startswith("redis://:${REDIS_PASSWORD:?") and url.endswith("@redis:6379/0")
    dockerfile = (DEPLOY / "docker" / "redis.Dockerfile").read_text()
    assert "protected-mode" not in dockerfile


def test_the_env_example_names_the_redis_password_without_a_value() -> None:
    lines = (DEPLOY / "agentops.env.example").read_text().splitlines()
    assert "REDIS_PASSWORD=" in lines


def test_compose_waits_for_the_workers_own_shutdown_before_killing_it() -> None:
    from app.config import Settings

    fields = Settings.model_fields
    grace = fields["shutdown_grace_seconds"].default
    forge_wait = fields["forge_timeout_seconds"].default + 1  # cut GitLab calls' threads
    period = services("compose.yml")["worker"]["stop_grace_period"]
    assert period.endswith("s")
    assert float(period[:-1]) > grace + forge_wait, (period, grace, forge_wait)
