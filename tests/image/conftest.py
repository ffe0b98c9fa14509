"""Fixtures of the image test (`make image-test`; never part of `make test`): the built
image's web and worker containers against this machine's PostgreSQL, a private Redis,
the GitHub simulator and the LLM simulator, all on loopback (host network)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from app.store.migrations import ensure_database
from tests.conftest import PG_BASE, drop_database
from tests.e2e import implement_script as script
from tests.e2e.conftest import GITHUB_SECRET, github, llm, redis_server, workdir
from tests.e2e.harness import ADMIN_TOKEN, RedisServer, wait_for
from tests.image.containers import DOCKER, IMAGE, SANDBOX_OPTIONS, Container, docker, run_once
from tests.sim.github_sim import GitHubSim
from tests.sim.llm_sim import LLMSimulator
from tests.sim.serve import free_port

__all__ = ["github", "llm", "redis_server", "workdir"]  # the e2e fixtures, reused

# What the run reports in bench/README.md (printed at the end of the module).
FIGURES: dict[str, str] = {}


@pytest.fixture(scope="session", autouse=True)
def image() -> Iterator[str]:
    """The image `tests/image/build.sh` built; its size is one of the figures."""
    found = docker("image", "ls", "--format", "{{.Size}}", IMAGE).strip()
    assert found, f"no image {IMAGE}: `make image-test` builds it (DOCKER={DOCKER})"
    FIGURES["image size"] = found
    yield IMAGE
    print("\n" + "\n".join(f"image test: {k}: {v}" for k, v in FIGURES.items()))


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    """An empty database on this machine's PostgreSQL, migrated by the image."""
    name = f"agentops_image_{uuid.uuid4().hex[:10]}"
    url = f"{PG_BASE}/{name}"
    asyncio.run(ensure_database(url))
    output = run_once("agentops", "migrate", env={"AGENTOPS_DATABASE_URL": url})
    assert "Traceback" not in output, output
    yield url
    asyncio.run(drop_database(name))


@pytest.fixture(scope="module")
def service_env(
    database_url: str,
    redis_server: RedisServer,
    github: tuple[GitHubSim, str],
    llm: tuple[LLMSimulator, str],
) -> dict[str, str]:
    gh, gh_url = github
    return {
        "AGENTOPS_DATABASE_URL": database_url,
        "AGENTOPS_REDIS_URL": redis_server.url,
        "AGENTOPS_QUEUE_NAME": f"agentops:image:{uuid.uuid4().hex[:8]}",
        "AGENTOPS_ADMIN_TOKEN": ADMIN_TOKEN,
        "AGENTOPS_GITHUB_APP_ID": str(gh.app_id),
        "AGENTOPS_GITHUB_APP_SLUG": "agentops",
        "AGENTOPS_GITHUB_PRIVATE_KEY": gh.private_key_pem,
        "AGENTOPS_GITHUB_WEBHOOK_SECRET": GITHUB_SECRET,
        "AGENTOPS_GITHUB_API_URL": gh_url,
        "AGENTOPS_OLLAMA_URL": "http://127.0.0.1:9",  # closed: the scripted model only
        **script.llm_env(llm[1]),
    }


class WebContainer(Container):
    def __init__(self, env: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = ["agentops", "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        super().__init__("web", args, {**env, "AGENTOPS_PUBLIC_URL": self.url})

    def status(self, path: str) -> int:
        try:
            return httpx.get(f"{self.url}{path}", timeout=2).status_code
        except httpx.HTTPError:
            return 0


def _answering(web: WebContainer, path: str) -> bool:
    if not web.running():
        raise AssertionError(f"the web container exited:\n{web.logs()[-3000:]}")
    return web.status(path) == 200


@pytest.fixture(scope="module")
def web(service_env: dict[str, str]) -> Iterator[WebContainer]:
    """`agentops serve` from the image; the time to /healthz and /readyz is a figure."""
    container = WebContainer(service_env)
    started = time.monotonic()
    # the image's own HEALTHCHECK command, run more often than its 30 s for the test
    container.start("--health-interval", "1s", "--health-start-period", "30s")
    try:
        wait_for(lambda: _answering(container, "/healthz"), 60, 0.05, "/healthz")
        FIGURES["web start (docker run → /healthz 200)"] = f"{time.monotonic() - started:.2f} s"
        wait_for(lambda: _answering(container, "/readyz"), 60, 0.05, "/readyz")
        FIGURES["web start (docker run → /readyz 200)"] = f"{time.monotonic() - started:.2f} s"
        yield container
    finally:
        container.remove()


@pytest.fixture(scope="module")
def worker(service_env: dict[str, str], web: WebContainer) -> Iterator[Container]:
    """`agentops worker` from the image, with the sandbox's narrowest container setting."""
    container = Container(
        "worker",
        ["agentops", "worker"],
        {**service_env, "AGENTOPS_HEARTBEAT_SECONDS": "0.5", "AGENTOPS_PUBLIC_URL": web.url},
    )
    started = time.monotonic()
    container.start(*SANDBOX_OPTIONS, "--health-interval", "1s")
    try:
        wait_for(
            lambda: "test sandbox" in container.logs() or not container.running(),
            60,
            what="the worker to probe its sandbox",
        )
        FIGURES["worker start (docker run → sandbox probed)"] = (
            f"{time.monotonic() - started:.2f} s"
        )
        yield container
    finally:
        container.remove()


def post_github(web: WebContainer, event: str, payload: dict[str, object]) -> httpx.Response:
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(GITHUB_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return httpx.post(
        f"{web.url}/webhooks/github",
        content=body,
        timeout=10,
        headers={
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": signature,
            "Content-Type": "application/json",
        },
    )


def run_of(web: WebContainer, run_id: int) -> dict[str, object] | None:
    """The run once it has ended, else None (for `wait_for`)."""
    answer = httpx.get(
        f"{web.url}/api/runs/{run_id}",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    answer.raise_for_status()
    run: dict[str, object] = answer.json()
    return run if run["status"] in ("succeeded", "failed", "cancelled") else None
