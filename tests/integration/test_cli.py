"""The `agentops` command line as an operator runs it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import PG_BASE


def agentops(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("AGENTOPS_")}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("command", ["serve", "worker", "dev", "migrate"])
def test_every_service_command_has_help(command: str) -> None:
    done = agentops(command, "--help")
    assert done.returncode == 0
    assert f"usage: agentops {command}" in done.stdout


def test_a_github_app_without_webhook_secret_refuses_to_start() -> None:
    done = agentops(
        "serve", env={"AGENTOPS_GITHUB_APP_ID": "12", "AGENTOPS_GITHUB_PRIVATE_KEY": "k"}
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "AGENTOPS_GITHUB_WEBHOOK_SECRET" in lines[0]


def test_gitlab_without_webhook_secret_refuses_to_start() -> None:
    done = agentops(
        "worker",
        env={"AGENTOPS_GITLAB_URL": "https://gitlab.example", "AGENTOPS_GITLAB_TOKEN": "glpat-x"},
    )
    assert done.returncode == 2
    assert "AGENTOPS_GITLAB_WEBHOOK_SECRET" in done.stderr


@pytest.mark.parametrize(
    ("command", "variable", "value", "reason"),
    [
        ("serve", "AGENTOPS_GITHUB_WEBHOOK_SECRET", "s3cret-15-chars", "too short (15 characters)"),
        ("worker", "AGENTOPS_GITHUB_WEBHOOK_SECRET", " \t" * 10, "only whitespace"),
        ("dev", "AGENTOPS_GITLAB_WEBHOOK_SECRET", "gl-secret-token", "too short (15 characters)"),
        ("serve", "AGENTOPS_GITLAB_WEBHOOK_SECRET", "x" + " " * 20, "too short (1 characters)"),
        ("worker", "AGENTOPS_GITLAB_SIGNING_TOKEN", "whsec_abc", "too short (9 characters)"),
    ],
)
def test_a_weak_webhook_secret_refuses_to_start(
    command: str, variable: str, value: str, reason: str
) -> None:
    github = {
        "AGENTOPS_GITHUB_APP_ID": "12",
        "AGENTOPS_GITHUB_PRIVATE_KEY": "k",
        "AGENTOPS_GITHUB_WEBHOOK_SECRET": "a-long-enough-github-secret",
    }
    gitlab = {
        "AGENTOPS_GITLAB_URL": "https://gitlab.example",
        "AGENTOPS_GITLAB_TOKEN": "glpat-x",
        "AGENTOPS_GITLAB_WEBHOOK_SECRET": "a-long-enough-gitlab-secret",
    }
    # a database URL that cannot work: a process that did not refuse fails soon, otherwise
    env = {**github, **gitlab, variable: value, "AGENTOPS_DATABASE_URL": "nowhere://"}
    done = agentops(command, env=env)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"agentops {command}: configuration error: {variable} is {reason}")
    if len(value.strip()) > 3:
        assert value.strip() not in lines[0]  # the secret itself is never echoed


def test_a_sandbox_python_that_is_no_virtualenv_refuses_to_start(tmp_path: Path) -> None:
    done = agentops("worker", env={"AGENTOPS_SANDBOX_PYTHON": str(tmp_path)})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "AGENTOPS_SANDBOX_PYTHON" in lines[0] and "make sandbox-python" in lines[0]


async def test_migrate_creates_the_database_and_is_idempotent() -> None:
    name = f"agentops_cli_{uuid.uuid4().hex[:8]}"
    env = {"AGENTOPS_DATABASE_URL": f"{PG_BASE}/{name}"}
    try:
        first = agentops("migrate", env=env)
        assert first.returncode == 0, first.stderr
        assert "created the database" in first.stdout and "0001_core.sql" in first.stdout
        second = agentops("migrate", env=env)
        assert second.returncode == 0 and "up to date" in second.stdout
    finally:
        conn = await asyncpg.connect(f"{PG_BASE}/postgres")
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def test_migrate_against_an_unreachable_database_says_so_in_one_line() -> None:
    done = agentops(
        "migrate", env={"AGENTOPS_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/agentops"}
    )
    assert done.returncode == 2
    assert done.stderr.startswith("agentops migrate: cannot ")
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("command", "variable"),
    [
        ("serve", "AGENTOPS_LABELS"),
        ("worker", "AGENTOPS_LLM_MODELS"),
        ("doctor", "AGENTOPS_LLM_ENDPOINTS"),
    ],
)
def test_a_json_setting_that_does_not_parse_is_one_line(command: str, variable: str) -> None:
    done = agentops(command, env={variable: "{not json"})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"{variable} is not valid JSON" in lines[0]


def test_a_worker_whose_database_does_not_exist_says_so_in_one_line() -> None:
    done = agentops("worker", env={"AGENTOPS_DATABASE_URL": f"{PG_BASE}/agentops_nowhere_x"})
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        'agentops worker: database "agentops_nowhere_x" does not exist:'
        " `agentops migrate` creates it"
    )


async def test_an_idle_worker_is_quiet(own_database_url: str, tmp_path: Path) -> None:
    """Nothing to do, nothing said: no line every sweep (every 5 s) while idle (its own
    database: the session's holds the queued runs of other tests, which a sweep takes up)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("AGENTOPS_")}
    env = {
        **base,
        "AGENTOPS_DATABASE_URL": own_database_url,
        "AGENTOPS_QUEUE_NAME": f"agentops:idle:{uuid.uuid4().hex[:8]}",
    }
    log = tmp_path / "worker.log"
    with log.open("w") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "app", "worker"], env=env, stdout=out, stderr=out
        )
        try:
            # start-up: its lines (sandbox, test Python, toolchains) until 3 s of quiet
            settled, quiet_since = "", time.monotonic()
            for _ in range(600):
                await asyncio.sleep(0.1)
                now = log.read_text()
                if now != settled:
                    settled, quiet_since = now, time.monotonic()
                elif "test Python:" in now and time.monotonic() - quiet_since > 3:
                    break
            await asyncio.sleep(12)  # two sweeps and more
            assert log.read_text() == settled
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(30)


@pytest.mark.parametrize(
    ("command", "variable", "value", "reason"),
    [
        ("serve", "AGENTOPS_LABELS", '{"bug": "frobnicate"}', "unknown command(s) frobnicate"),
        ("worker", "AGENTOPS_LLM_MODELS", '{"wizard": ["openai:x"]}', "unknown role(s) wizard"),
        ("dev", "AGENTOPS_LLM_MODELS", '{"coder": ["nonsense"]}', "'nonsense' is not PROVIDER"),
        ("worker", "AGENTOPS_METRICS_PORT", "70000", "65535"),
    ],
)
def test_a_setting_with_a_wrong_value_stops_at_start_in_one_line(
    command: str, variable: str, value: str, reason: str
) -> None:
    done = agentops(command, env={variable: value})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert variable in lines[0] and reason in lines[0]


def test_a_worker_whose_metrics_port_is_taken_says_so_in_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = agentops("worker", env={"AGENTOPS_METRICS_PORT": str(port)})
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"agentops worker: cannot serve the worker's metrics on 127.0.0.1:{port}"
    )


def test_a_worker_will_not_open_its_metrics_beyond_loopback_without_the_token() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    env = {"AGENTOPS_METRICS_PORT": str(port), "AGENTOPS_METRICS_HOST": "0.0.0.0"}
    done = agentops("worker", env=env)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("agentops worker: the worker's metrics port on 0.0.0.0")
    assert "AGENTOPS_METRICS_TOKEN" in last
    with socket.socket() as probe:  # and nothing was left listening
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_run_checks_its_arguments_before_importing_the_model_sdks(tmp_path: Path) -> None:
    probe = (
        "import sys\n"
        "from app.cli import main\n"
        f"code = main(['run', {str(tmp_path)!r}, '--task-file', '/dev/null'])\n"
        "print(code, sorted(m for m in ('anthropic', 'openai') if m in sys.modules))\n"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("AGENTOPS_")}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=base, timeout=60
    )
    assert done.stdout.strip() == "2 []"
    assert "is not a git checkout" in done.stderr


def test_a_misspelled_setting_is_reported_at_start() -> None:
    done = agentops("gitlab-secret", "team/app", env={"AGENTOPS_GITLAB_WEBHOOK_SECERT": "x" * 20})
    assert done.returncode == 2  # the setting it meant is not set
    assert done.stderr.splitlines()[0] == (
        "agentops: warning: AGENTOPS_GITLAB_WEBHOOK_SECERT is not a setting"
        " (did you mean AGENTOPS_GITLAB_WEBHOOK_SECRET?)"
    )


def test_run_with_no_reachable_model_says_what_to_configure(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "calc.py").write_text("def one():\n    return 1\n")
    git = ["git", "-C", str(repo), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    task = tmp_path / "task.md"
    task.write_text("make one() return 2\n")
    done = agentops(
        "run",
        str(repo),
        "--task-file",
        str(task),
        env={"AGENTOPS_OLLAMA_URL": "http://127.0.0.1:9", "AGENTOPS_WORKDIR": str(tmp_path)},
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "agentops run: Ollama is not reachable at http://127.0.0.1:9: start it (`ollama serve`),"
        " set AGENTOPS_OLLAMA_URL, or configure another provider (AGENTOPS_ANTHROPIC_API_KEY,"
        " AGENTOPS_OPENAI_API_KEY, AGENTOPS_MISTRAL_API_KEY)"
    )


def test_a_port_in_use_is_one_line() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = agentops("serve", "--port", str(port))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"agentops serve: cannot listen on 127.0.0.1:{port}: Address already in use"
        " (choose another --port)"
    ]
