"""The GitHub App manifest flow through the real web process, with the GitHub simulator
as github.com: a callback without the visitor's state creates nothing; the rightful one
writes the credentials file once, and the service starts with it."""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.e2e.harness import RedisServer, Service, base_env
from tests.sim.github import GitHubSim


@pytest.fixture(scope="module")
def credentials_file(workdir: Path) -> Path:
    return workdir / "secrets" / "agentops.env"


@pytest.fixture(scope="module")
def unconfigured(
    e2e_database_url: str,
    redis_server: RedisServer,
    github: tuple[GitHubSim, str],
    workdir: Path,
    credentials_file: Path,
) -> Iterator[Service]:
    """The web process as on a fresh install: no forge, only where GitHub is."""
    _, gh_url = github
    credentials_file.parent.mkdir()
    env = base_env(e2e_database_url, redis_server.url, workdir)
    env["AGENTOPS_GITHUB_API_URL"] = gh_url
    env["AGENTOPS_SETUP_CREDENTIALS_FILE"] = str(credentials_file)
    svc = Service(env, workdir)
    svc.start(worker=False)
    yield svc
    svc.stop()


def create_on_github(page: httpx.Response) -> str:
    """Post the page's form to the simulated github.com; the callback URL it sends back."""
    action = re.search(r'<form action="([^"]+)"', page.text)
    manifest = re.search(r'name="manifest" value="([^"]+)"', page.text)
    assert action and manifest, page.text
    answer = httpx.post(html.unescape(action[1]), data={"manifest": html.unescape(manifest[1])})
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def conversions(sim: GitHubSim) -> int:
    return sum(1 for r in sim.requests if r.path.startswith("/app-manifests/"))


def test_a_forged_callback_creates_nothing_and_the_rightful_one_starts_the_service(
    unconfigured: Service,
    github: tuple[GitHubSim, str],
    credentials_file: Path,
    e2e_database_url: str,
    redis_server: RedisServer,
    workdir: Path,
) -> None:
    sim, gh_url = github
    with httpx.Client(timeout=10) as victim, httpx.Client(timeout=10) as attacker:
        callback = create_on_github(victim.get(f"{unconfigured.url}/"))
        code = parse_qs(urlsplit(callback).query)["code"][0]
        # The attacker holds the code (a leaked redirect, a log) but not the victim's cookie.
        no_state = attacker.get(f"{unconfigured.url}/setup/callback", params={"code": code})
        no_cookie = attacker.get(callback)
        attacker.get(f"{unconfigured.url}/")  # a cookie of the attacker's own
        other_cookie = attacker.get(callback)
        assert [no_state.status_code, no_cookie.status_code, other_cookie.status_code] == [
            400,
            403,
            403,
        ]
        assert conversions(sim) == 0 and not credentials_file.exists()
        assert "webhook_secret" not in no_state.text + no_cookie.text + other_cookie.text

        done = victim.get(callback)
        reload = victim.get(callback)
    assert done.status_code == 200, done.text
    assert str(credentials_file) in done.text
    app = sim.manifest_apps[0]
    assert app["webhook_secret"] not in done.text + reload.text
    assert reload.status_code == 409 and conversions(sim) == 1
    assert stat.S_IMODE(credentials_file.stat().st_mode) == 0o600
    for header in ("content-security-policy", "x-frame-options", "referrer-policy"):
        assert header in done.headers
    unconfigured.stop()

    # The operator loads the file (as `set -a; . FILE` would) and restarts the service.
    env = base_env(e2e_database_url, redis_server.url, workdir)
    env["AGENTOPS_GITHUB_API_URL"] = gh_url
    for line in credentials_file.read_text().splitlines():
        if line and not line.startswith("#"):
            name, value = line.split("=", 1)
            env[name] = value.strip('"')
    configured = Service(env, workdir)
    configured.start(worker=False)
    try:
        page = httpx.get(f"{configured.url}/", timeout=10)
        closed = httpx.get(callback.replace(unconfigured.url, configured.url), timeout=10)
        body = json.dumps({"zen": "hi"}).encode()
        secret = app["webhook_secret"].encode()
        ping = httpx.post(
            f"{configured.url}/webhooks/github",
            content=body,
            timeout=10,
            headers={
                "X-GitHub-Event": "ping",
                "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": "sha256="
                + hmac.new(secret, body, hashlib.sha256).hexdigest(),
                "Content-Type": "application/json",
            },
        )
    finally:
        configured.stop()
    assert "AgentOps is running" in page.text and "GitHub" in page.text
    assert closed.status_code == 409
    assert (ping.status_code, ping.text) == (200, "pong\n")
    assert conversions(sim) == 1


PROXIED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "agentops.example.com"}


@pytest.mark.parametrize("trusted", ["", "10.9.8.7"])
def test_a_proxys_address_counts_only_from_the_operators_proxies(
    e2e_database_url: str,
    redis_server: RedisServer,
    github: tuple[GitHubSim, str],
    workdir: Path,
    trusted: str,
) -> None:
    """No `AGENTOPS_PUBLIC_URL`: the page builds the App's URLs from the address it was
    opened at, as a reverse proxy on this machine (trusted by default) gives it; with the
    operator's proxies elsewhere, the same headers from here change nothing."""
    env = base_env(e2e_database_url, redis_server.url, workdir)
    env["AGENTOPS_GITHUB_API_URL"] = github[1]
    if trusted:
        env["AGENTOPS_TRUSTED_PROXIES"] = trusted
    svc = Service(env, workdir)
    del svc.env["AGENTOPS_PUBLIC_URL"]
    svc.start(worker=False)
    try:
        page = httpx.get(f"{svc.url}/", headers=PROXIED, timeout=15)
    finally:
        svc.stop()
    manifest = re.search(r'name="manifest" value="([^"]+)"', page.text)
    assert manifest is not None, page.text
    hook = json.loads(html.unescape(manifest[1]))["hook_attributes"]["url"]
    expected = svc.url if trusted else "https://agentops.example.com"
    assert hook == f"{expected}/webhooks/github"
