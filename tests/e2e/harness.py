"""Real processes for end-to-end tests: a private Redis, the web process and the worker.

The service is started exactly as an operator would (`python -m app serve|worker`), with
its settings in the environment pointing at the simulators on loopback.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from tests.sim.serve import free_port

if TYPE_CHECKING:
    from tests.sim.github import GitHubSim

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "e2e-admin-token"


def wait_for(
    predicate: Callable[[], T | None],
    timeout: float = 20.0,
    interval: float = 0.1,
    what: str = "condition",
) -> T:
    """Poll until `predicate()` is truthy; its value, or AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


class RedisServer:
    """A redis-server of our own on a free port, so a test may stop and start it."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, 10, what="redis-server to answer")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def kill(self) -> None:
        """As a crash or an OOM kill would: no goodbye to its clients."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def _answers(self) -> bool:
        done = subprocess.run(
            ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True, check=False
        )
        return done.stdout.strip() == "PONG"


class ServiceProcess:
    """`python -m app <command>` with its output kept in a log file for failures."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.args = args
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app", *self.args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        self.process = None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Service:
    """The web process and the worker, sharing one environment; with `dev`, one
    `agentops dev` process holding both; with `intakes`, `agentops serve --workers N`."""

    def __init__(
        self, env: dict[str, str], workdir: Path, dev: bool = False, intakes: int = 1
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "AGENTOPS_PUBLIC_URL": self.url}
        self.dev = dev
        args = ["dev" if dev else "serve", "--port", str(self.port)]
        if intakes > 1:
            args += ["--workers", str(intakes)]
        self.web = ServiceProcess(args, self.env, workdir / "web.log")
        # several intake processes start slower than one on a loaded machine
        self.start_seconds = 30.0 if intakes == 1 else 90.0
        self.worker = ServiceProcess(["worker"], self.env, workdir / "worker.log")
        self._started = False

    def start(self, worker: bool = True) -> None:
        for attempt in range(3):
            self.web.start()
            try:
                wait_for(
                    self._healthy, self.start_seconds, what="the web process to answer /healthz"
                )
                break
            except AssertionError as exc:
                # `free_port` only found the port free: another process may take it before
                # the web binds it. At the first start nothing knows the URL yet: take another.
                if self._started or attempt == 2 or "Address already in use" not in str(exc):
                    raise
                self.web.stop()
                self._move_to(free_port())
        self._started = True
        if worker and not self.dev:
            self.worker.start()

    def _move_to(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env["AGENTOPS_PUBLIC_URL"] = self.url  # the one dict both processes read
        args = self.web.args
        args[args.index("--port") + 1] = str(port)

    def stop(self) -> None:
        self.worker.stop()
        self.web.stop()

    def _healthy(self) -> bool:
        if self.web.process is not None and self.web.process.poll() is not None:
            raise AssertionError(f"web process exited:\n{self.web.output()}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def logs(self) -> str:
        return f"--- web ---\n{self.web.output()}\n--- worker ---\n{self.worker.output()}"

    def wait_for(self, predicate: Callable[[], T | None], timeout: float, what: str) -> T:
        """`wait_for`, with the end of the service's logs in the failure."""
        try:
            return wait_for(predicate, timeout, what=what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs()[-5000:]}") from None

    def post_github(
        self,
        event: str,
        payload: dict[str, Any],
        secret: str,
        delivery: str | None = None,
        client: httpx.Client | None = None,
    ) -> httpx.Response:
        """With `client`, through it (a client made beforehand: making one loads the CA
        bundle, tens of ms of CPU that a timed request should not include)."""
        body = json.dumps(payload).encode()
        signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return (client or httpx).post(
            f"{self.url}/webhooks/github",
            content=body,
            timeout=10,
            headers={
                "X-GitHub-Event": event,
                "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
                "X-Hub-Signature-256": signature,
                "Content-Type": "application/json",
            },
        )

    def post_gitlab(self, payload: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
        return httpx.post(
            f"{self.url}/webhooks/gitlab",
            content=json.dumps(payload).encode(),
            headers={**headers, "Content-Type": "application/json"},
            timeout=10,
        )

    def run(self, run_id: int) -> dict[str, Any]:
        """A run with its steps, as the admin API shows it."""
        run: dict[str, Any] = self.api(f"/api/runs/{run_id}", ADMIN_TOKEN)
        return run

    def finished(self, run_id: int) -> dict[str, Any] | None:
        """The run once it has ended, else None (for `wait_for`)."""
        run = self.run(run_id)
        return run if run["status"] in ("succeeded", "failed", "cancelled") else None

    def api_status(self, path: str) -> int:
        return httpx.get(f"{self.url}{path}", timeout=10).status_code

    def api(self, path: str, token: str) -> Any:
        response = httpx.get(
            f"{self.url}{path}", timeout=10, headers={"Authorization": f"Bearer {token}"}
        )
        response.raise_for_status()
        return response.json()


@contextmanager
def running(
    env: dict[str, str],
    workdir: Path,
    settings: Mapping[str, str] | None = None,
    *,
    sign_in: GitHubSim | None = None,
    session_secret: str = "",
    worker: bool = True,
) -> Iterator[Service]:
    """A `Service` on `env` and these `settings`, started, and stopped when the block ends;
    with `sign_in`, people sign in with GitHub on that simulator (its callback pointed at
    this service, `session_secret` sealing the cookies)."""
    service = Service(env, workdir)
    extra = dict(settings or {})
    if sign_in is not None:
        sign_in.set_callback_url(f"{service.url}/signin/github/callback")
        extra |= {
            "AGENTOPS_SESSION_SECRET": session_secret,
            "AGENTOPS_GITHUB_CLIENT_ID": sign_in.client_id,
            "AGENTOPS_GITHUB_CLIENT_SECRET": sign_in.client_secret,
        }
    service.env.update(extra)
    service.start(worker=worker)
    try:
        yield service
    finally:
        service.stop()


def base_env(database_url: str, redis_url: str, workdir: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("AGENTOPS_")}
    return {
        **keep,
        "AGENTOPS_DATABASE_URL": database_url,
        "AGENTOPS_REDIS_URL": redis_url,
        "AGENTOPS_QUEUE_NAME": f"agentops:e2e:{uuid.uuid4().hex[:8]}",
        "AGENTOPS_WORKDIR": str(workdir / "runs"),
        "AGENTOPS_ADMIN_TOKEN": ADMIN_TOKEN,
        "AGENTOPS_REQUEUE_AFTER_SECONDS": "2",
        "AGENTOPS_FORGE_TIMEOUT_SECONDS": "10",
        "AGENTOPS_OLLAMA_URL": "http://127.0.0.1:9",  # closed: no model unless a test adds one
        "AGENTOPS_LLM_RETRY_BASE_SECONDS": "0.05",
        "PYTHONUNBUFFERED": "1",
    }


def github_env(gh: GitHubSim, api_url: str, webhook_secret: str) -> dict[str, str]:
    """The settings of a GitHub App living on the simulator `gh` served at `api_url`."""
    return {
        "AGENTOPS_GITHUB_APP_ID": str(gh.app_id),
        "AGENTOPS_GITHUB_APP_SLUG": "agentops",
        "AGENTOPS_GITHUB_PRIVATE_KEY": gh.private_key_pem,
        "AGENTOPS_GITHUB_WEBHOOK_SECRET": webhook_secret,
        "AGENTOPS_GITHUB_API_URL": api_url,
    }
