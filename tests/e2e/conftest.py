"""End-to-end fixtures: simulators on loopback, a private Redis, web and worker processes."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.sandbox.disk import release_sized_scratch
from app.store.migrations import apply_migrations, ensure_database
from tests.conftest import PG_BASE, drop_database
from tests.e2e.harness import RedisServer, Service, base_env, github_env
from tests.e2e.private_postgres import PrivatePostgres, migrated_server
from tests.gitlab_tokens import project_token
from tests.sim.github import GitHubSim
from tests.sim.gitlab import GitLabSim
from tests.sim.llm_sim import LLMSimulator
from tests.sim.serve import serve_app

GITHUB_SECRET = "e2e-github-webhook-secret"
GITLAB_SECRET = "e2e-gitlab-webhook-secret"


def gitlab_token(project: str) -> str:
    """The secret token of `project`'s hook (`agentops gitlab-secret PROJECT`)."""
    return project_token(GITLAB_SECRET, project)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("e2e")
    yield folder
    # After the module's services (set up after this folder, so stopped before): a run
    # handed over at a worker's stop keeps its scratch mounted for the worker that takes
    # it up, and a module may end with no worker to take it up (a new one would unmount
    # it at its start, workflow/leftovers.py).
    release_sized_scratch(folder)


@pytest.fixture(scope="module")
def e2e_database_url() -> Iterator[str]:
    """A database per module: the simulators' ids (comments, notes) restart per module."""
    name = f"agentops_e2e_{uuid.uuid4().hex[:10]}"
    url = f"{PG_BASE}/{name}"
    asyncio.run(ensure_database(url))
    asyncio.run(apply_migrations(url))
    yield url
    asyncio.run(drop_database(name))


@pytest.fixture(scope="module")
def redis_server(workdir: Path) -> Iterator[RedisServer]:
    server = RedisServer(workdir)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def github(workdir: Path) -> Iterator[tuple[GitHubSim, str]]:
    sim = GitHubSim(workdir / "github")
    with serve_app(sim.app) as base_url:
        yield sim, base_url


@pytest.fixture(scope="module")
def gitlab(workdir: Path) -> Iterator[tuple[GitLabSim, str]]:
    sim = GitLabSim(workdir / "gitlab")
    with sim.serve() as base_url:
        yield sim, base_url


@pytest.fixture(scope="module")
def llm() -> Iterator[tuple[LLMSimulator, str]]:
    """An LLM simulator on loopback for a module's scripted model (and its URL)."""
    sim = LLMSimulator()
    with serve_app(sim.app) as url:
        yield sim, url


@pytest.fixture(scope="module")
def extra_env() -> dict[str, str]:
    """More settings for the service; a module overrides this (e.g. to add a model)."""
    return {}


def forge_env(gh: GitHubSim, gh_url: str, gl: GitLabSim, gl_url: str) -> dict[str, str]:
    return github_env(gh, gh_url, GITHUB_SECRET) | {
        "AGENTOPS_GITLAB_URL": gl_url,
        "AGENTOPS_GITLAB_TOKEN": gl.bot_token,
        "AGENTOPS_GITLAB_WEBHOOK_SECRET": GITLAB_SECRET,
        "AGENTOPS_GITLAB_BOT_USERNAME": "agentops-bot",
        # its look at every project's hooks at the worker's start is tested on its own
        # (test_gitlab_redelivery.py); elsewhere it would be requests a test does not expect
        "AGENTOPS_GITLAB_REDELIVER_SECONDS": "0",
    }


@pytest.fixture(scope="module")
def service_database_url(e2e_database_url: str) -> str:
    """The database of the module's service; a module overrides this (e.g. with a
    PostgreSQL of its own)."""
    return e2e_database_url


@pytest.fixture(scope="module")
def service_env(
    service_database_url: str,
    redis_server: RedisServer,
    github: tuple[GitHubSim, str],
    gitlab: tuple[GitLabSim, str],
    workdir: Path,
) -> dict[str, str]:
    """The settings of a service on the module's database, Redis and forges (a module
    adds its own to them for a service of its own)."""
    return base_env(service_database_url, redis_server.url, workdir) | forge_env(*github, *gitlab)


@contextmanager
def running(service: Service, worker: bool = True) -> Iterator[Service]:
    """`service` started (with its worker unless `worker` is false), stopped afterwards."""
    service.start(worker=worker)
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="module")
def intakes() -> int:
    """How many intake processes `agentops serve` runs (`--workers`); a module overrides
    this."""
    return 1


@pytest.fixture(scope="module")
def service(
    extra_env: dict[str, str], intakes: int, service_env: dict[str, str], workdir: Path
) -> Iterator[Service]:
    with running(Service(service_env | extra_env, workdir, intakes=intakes)) as svc:
        yield svc


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL of the module's own (migrated), which its tests may stop and start."""
    with migrated_server() as server:
        yield server
