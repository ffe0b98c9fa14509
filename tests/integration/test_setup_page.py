"""The set-up page and the GitHub App manifest flow, through the real Starlette app on real
PostgreSQL, with the GitHub simulator on loopback playing github.com: the state is bound to
the visitor's cookie and used once, the credentials are handed over once, and every page
carries the security headers."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import html
import json
import re
import stat
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.config import Settings
from app.store import Database
from app.web import create_app
from tests.sim.github import GitHubSim
from tests.sim.serve import free_port, serve_app

PUBLIC = "http://agentops.test"
MakeSettings = Callable[..., Settings]


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[GitHubSim]:
    github = GitHubSim(tmp_path / "github")
    with github.serve():
        yield github


@pytest.fixture
def make_settings(
    database_url: str, redis_url: str, queue_name: str, sim: GitHubSim
) -> MakeSettings:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "redis_url": redis_url,
            "queue_name": queue_name,
            "public_url": PUBLIC,
            "github_api_url": sim.base_url,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[Callable[[], httpx.AsyncClient]]:
    """Yields a factory of browsers: each has its own cookie jar, as two people would."""
    app = create_app(settings)
    clients: list[httpx.AsyncClient] = []

    def browser() -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app)
        client = httpx.AsyncClient(transport=transport, base_url=PUBLIC)
        clients.append(client)
        return client

    async with app.router.lifespan_context(app):
        try:
            yield browser
        finally:
            for client in clients:
                await client.aclose()


def the_form(page: httpx.Response) -> tuple[str, str]:
    """The set-up page's form: where it posts, and the manifest it sends."""
    action = re.search(r'<form action="([^"]+)" method="post">', page.text)
    manifest = re.search(r'name="manifest" value="([^"]+)"', page.text)
    assert action and manifest, page.text
    return html.unescape(action[1]), html.unescape(manifest[1])


async def create_on_github(page: httpx.Response) -> str:
    """Submit the page's form to the simulated github.com; the callback URL it redirects
    the browser to (path and query, on this service)."""
    action, manifest = the_form(page)
    async with httpx.AsyncClient() as github:
        answer = await github.post(action, data={"manifest": manifest})
    assert answer.status_code == 302, answer.text
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}" == PUBLIC
    return f"{location.path}?{location.query}"


def conversions(sim: GitHubSim) -> int:
    return sum(1 for r in sim.requests if r.path.startswith("/app-manifests/"))


def secrets_of(sim: GitHubSim) -> list[str]:
    app = sim.manifest_apps[-1]
    pem_body = app["pem"].strip().splitlines()[1]
    return [app["webhook_secret"], pem_body, app["client_secret"]]


async def test_the_flow_hands_the_credentials_over_once(
    make_settings: MakeSettings, sim: GitHubSim
) -> None:
    async with serve(make_settings()) as browser:
        visitor = browser()
        page = await visitor.get("/")
        assert page.status_code == 200
        cookie = page.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/setup" in cookie
        action, _ = the_form(page)
        assert action.startswith(f"{sim.base_url}/settings/apps/new?state=")
        callback = await create_on_github(page)
        assert (
            parse_qs(urlsplit(callback).query)["state"] == parse_qs(urlsplit(action).query)["state"]
        )

        shown = await visitor.get(callback)
        again = await visitor.get(callback)  # a reload
    app = sim.manifest_apps[0]
    assert app["manifest"]["redirect_url"] == f"{PUBLIC}/setup/callback"
    assert shown.status_code == 200, shown.text
    assert f"AGENTOPS_GITHUB_APP_ID={app['id']}" in shown.text
    assert f"AGENTOPS_GITHUB_APP_SLUG={app['slug']}" in shown.text
    assert all(secret in shown.text for secret in secrets_of(sim)[:2])
    assert shown.headers["cache-control"] == "no-store"
    assert again.status_code == 403 and "used already" in again.text
    assert not any(secret in again.text for secret in secrets_of(sim))
    assert conversions(sim) == 1 and app["converted"] == 1


async def test_a_callback_without_its_visitors_state_converts_nothing(
    make_settings: MakeSettings, sim: GitHubSim
) -> None:
    async with serve(make_settings()) as browser:
        victim, attacker = browser(), browser()
        callback = await create_on_github(await victim.get("/"))
        query = parse_qs(urlsplit(callback).query)
        code, state = query["code"][0], query["state"][0]
        await attacker.get("/")  # the attacker has a set-up cookie of their own

        no_state = await victim.get("/setup/callback", params={"code": code})
        bad_state = await victim.get("/setup/callback", params={"code": code, "state": "x" * 43})
        no_cookie = await browser().get(callback)
        other_visitor = await attacker.get(callback)
        assert conversions(sim) == 0 and sim.manifest_apps[0]["converted"] == 0
        rightful = await victim.get(callback)  # the refusals above used nothing up
    assert no_state.status_code == 400 and "state" in no_state.text
    assert bad_state.status_code == 403 and "Unknown set-up state" in bad_state.text
    assert no_cookie.status_code == 403 and "did not start the set-up" in no_cookie.text
    assert other_visitor.status_code == 403 and "Unknown set-up state" in other_visitor.text
    for refused in (no_state, bad_state, no_cookie, other_visitor):
        assert "Nothing was created or shown" in refused.text
        assert not any(secret in refused.text for secret in secrets_of(sim))
    assert rightful.status_code == 200 and secrets_of(sim)[0] in rightful.text
    assert code and state


async def test_two_callbacks_with_one_state_convert_once(
    make_settings: MakeSettings, sim: GitHubSim
) -> None:
    async with serve(make_settings()) as browser:
        visitor = browser()
        callback = await create_on_github(await visitor.get("/"))
        answers = await asyncio.gather(*(visitor.get(callback) for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [200, 403, 403, 403]
    assert conversions(sim) == 1


async def test_a_state_older_than_an_hour_is_refused(
    make_settings: MakeSettings, sim: GitHubSim, db: Database
) -> None:
    async with serve(make_settings()) as browser:
        visitor = browser()
        callback = await create_on_github(await visitor.get("/"))
        async with db.admin() as conn:
            await conn.execute(
                "UPDATE setup_states SET created_at = created_at - interval '61 minutes'"
            )
        late = await visitor.get(callback)
    assert late.status_code == 403 and "more than an hour old" in late.text
    assert conversions(sim) == 0


async def test_the_callback_is_closed_once_an_app_is_configured(
    make_settings: MakeSettings, sim: GitHubSim
) -> None:
    async with serve(make_settings()) as browser:
        callback = await create_on_github(await browser().get("/"))
    configured = make_settings(
        github_app_id=7, github_private_key="k", github_webhook_secret="w" * 20
    )
    async with serve(configured) as browser:
        visitor = browser()
        page = await visitor.get("/")
        answer = await visitor.get(callback)
    assert "AgentOps is running" in page.text and "<form" not in page.text
    assert "set-cookie" not in page.headers
    assert answer.status_code == 409 and "configured already" in answer.text
    assert conversions(sim) == 0


async def test_the_credentials_file_is_written_for_the_owner_only(
    make_settings: MakeSettings, sim: GitHubSim, tmp_path: Path
) -> None:
    target = tmp_path / "agentops.env"
    target.write_text("an operator's file\n")
    async with serve(make_settings(setup_credentials_file=target)) as browser:
        visitor = browser()
        callback = await create_on_github(await visitor.get("/"))
        exists = await visitor.get(callback)
        assert exists.status_code == 409 and "does not overwrite" in exists.text
        assert target.read_text() == "an operator's file\n" and conversions(sim) == 0
        target.unlink()
        saved = await visitor.get(callback)  # nothing was used up: a reload works
        again = await visitor.get(callback)
    assert saved.status_code == 200, saved.text
    assert str(target) in saved.text
    assert not any(secret in saved.text + again.text for secret in secrets_of(sim))
    assert again.status_code == 409  # the file is there now: nothing is converted again
    assert conversions(sim) == 1
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    env = dict(
        line.split("=", 1) for line in target.read_text().splitlines() if not line.startswith("#")
    )
    written: dict[str, Any] = {  # as the file says them: text, for the settings to parse
        k.removeprefix("AGENTOPS_").lower(): v.strip('"') for k, v in env.items()
    }
    loaded = Settings(**written)
    app = sim.manifest_apps[0]
    assert (loaded.github_app_id, loaded.github_app_slug) == (app["id"], app["slug"])
    assert loaded.github_webhook_secret is not None
    assert loaded.github_webhook_secret.get_secret_value() == app["webhook_secret"]
    assert loaded.github_private_key_pem.strip() == app["pem"].strip()


async def test_a_failed_conversion_says_what_is_left_and_shows_nothing(
    make_settings: MakeSettings, sim: GitHubSim
) -> None:
    sim.fail_next(r"^POST /app-manifests/", "502")
    async with serve(make_settings()) as browser:
        visitor = browser()
        callback = await create_on_github(await visitor.get("/"))
        failed = await visitor.get(callback)
        again = await visitor.get(callback)
    assert failed.status_code == 502 and "HTTP 502" in failed.text
    assert "delete it in GitHub" in failed.text
    assert again.status_code == 403  # the state was used: start again from the page
    assert not any(secret in failed.text + again.text for secret in secrets_of(sim))


def style_hash(page: str) -> str:
    style = re.search(r"<style>(.*?)</style>", page, re.S)
    assert style is not None
    return "'sha256-" + base64.b64encode(hashlib.sha256(style[1].encode()).digest()).decode() + "'"


async def test_every_answer_carries_the_security_headers(
    make_settings: MakeSettings, sim: GitHubSim
) -> None:
    async with serve(make_settings()) as browser:
        visitor = browser()
        setup = await visitor.get("/")
        refused = await visitor.get("/setup/callback")
        others = [
            await visitor.get("/healthz"),
            await visitor.get("/metrics"),
            await visitor.get("/no-such-page"),
            await visitor.post("/webhooks/github", content=b"{}"),
        ]
    for answer in [setup, refused, *others]:
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert "default-src 'none'" in answer.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    for page in (setup, refused):
        policy = page.headers["content-security-policy"]
        assert page.headers["content-type"].startswith("text/html")
        assert "<script" not in page.text and "unsafe-inline" not in policy
        assert f"style-src {style_hash(page.text)}" in policy  # the page's own style only
    assert f"form-action {sim.base_url};" in setup.headers["content-security-policy"]
    assert "form-action 'none'" in refused.headers["content-security-policy"]


async def test_the_workflows_permission_is_the_operators_choice_off_by_default(
    make_settings: MakeSettings, sim: GitHubSim
) -> None:
    async with serve(make_settings()) as browser:
        visitor = browser()
        plain = await visitor.get("/")
        chosen = await visitor.get("/?workflows=on")
        await create_on_github(chosen)
    default = json.loads(the_form(plain)[1])["default_permissions"]
    assert "workflows" not in default
    assert "will not be able to change CI workflow files" in plain.text
    assert 'name="workflows" checked' in chosen.text
    created = sim.manifest_apps[-1]["manifest"]["default_permissions"]
    assert created["workflows"] == "write"
    assert {k: v for k, v in created.items() if k != "workflows"} == default


@pytest.mark.parametrize(
    ("public_url", "why"),
    [
        ("http://agentops.example.com", "it is not an https address"),
        ("https://127.0.0.1:8443", "it is a loopback or private address"),
        ("https://10.1.2.3", "it is a loopback or private address"),
        ("https://localhost", "it is this machine's own name"),
    ],
)
async def test_github_com_gets_no_app_for_an_address_it_cannot_reach(
    make_settings: MakeSettings, public_url: str, why: str
) -> None:
    settings = make_settings(public_url=public_url, github_api_url="https://api.github.com")
    async with serve(settings) as browser:
        page = await browser().get("/")
    assert page.status_code == 200
    assert 'name="manifest"' not in page.text  # no App is created for it
    assert f"GitHub cannot deliver webhooks there: {html.escape(why)}" in page.text
    assert "AGENTOPS_PUBLIC_URL" in page.text


async def test_without_a_public_url_the_page_uses_the_address_it_was_opened_at(
    make_settings: MakeSettings,
) -> None:
    settings = make_settings()
    given = settings.model_fields_set - {"public_url"}
    unset = Settings(**{name: getattr(settings, name) for name in given})
    async with serve(unset) as browser:
        visitor = browser()
        visitor.base_url = httpx.URL("https://agentops.example.com:8443")
        page = await visitor.get("/")
    manifest = json.loads(the_form(page)[1])
    assert manifest["hook_attributes"]["url"] == "https://agentops.example.com:8443/webhooks/github"
    assert manifest["redirect_url"] == "https://agentops.example.com:8443/setup/callback"


async def test_the_page_says_what_else_is_missing(make_settings: MakeSettings) -> None:
    settings = make_settings(ollama_url="http://127.0.0.1:9", redis_url="redis://127.0.0.1:9/0")
    async with serve(settings) as browser:
        page = await browser().get("/")
    assert page.status_code == 200
    assert 'name="manifest"' in page.text  # the App can be created all the same
    missing = page.text.split("<h2>Still missing</h2>", 1)[1]
    assert "<li>provider ollama</li>" in missing and "<li>redis</li>" in missing
    assert "<li>database</li>" not in missing  # it answers
    assert "agentops doctor" in missing
    # the page is anonymous: where the service's parts live is for `agentops doctor`
    assert "127.0.0.1:9" not in page.text


async def test_the_checks_run_once_a_minute_however_often_the_page_is_opened(
    make_settings: MakeSettings,
) -> None:
    asked: list[str] = []

    async def ollama(scope: Any, receive: Any, send: Any) -> None:  # refuses every model
        if scope["type"] == "http":
            asked.append(scope["path"])
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b"loading"})

    with serve_app(ollama) as url:
        async with serve(make_settings(ollama_url=url)) as browser:
            visitor = browser()
            first = await visitor.get("/")
            once = len(asked)
            pages = [await visitor.get("/") for _ in range(5)]
    assert once > 0  # the first page asked the provider
    assert len(asked) == once  # the next five reused its answer
    assert all("<li>provider ollama</li>" in page.text for page in [first, *pages])


@asynccontextmanager
async def gateway(status: int) -> AsyncIterator[str]:
    """A proxy on the way to GitHub that answers `status` to everything, as itself."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": status, "headers": []})
            await send({"type": "http.response.body", "body": b"Bad Gateway"})

    with serve_app(app) as url:
        yield url


@pytest.mark.parametrize("way", ["gateway", "closed port"])
async def test_a_code_that_never_reached_github_can_be_tried_again(
    make_settings: MakeSettings, sim: GitHubSim, way: str
) -> None:
    async with serve(make_settings()) as browser:
        visitor = browser()
        callback = await create_on_github(await visitor.get("/"))
    async with contextlib.AsyncExitStack() as stack:
        if way == "gateway":
            api_url = await stack.enter_async_context(gateway(502))
        else:
            api_url = f"http://127.0.0.1:{free_port()}"
        async with serve(make_settings(github_api_url=api_url)) as offline:
            lost = offline()
            lost.cookies = visitor.cookies
            failed = await lost.get(callback)
    async with serve(make_settings()) as online:
        back = online()
        back.cookies = visitor.cookies
        again = await back.get(callback)
    assert failed.status_code == 502
    assert "GitHub was not reached" in failed.text
    assert "reload this page to try again" in failed.text.lower()
    assert "delete it in GitHub" not in failed.text  # no App was handed over and lost
    assert again.status_code == 200, again.text
    assert sim.manifest_apps[-1]["webhook_secret"] in again.text
    assert conversions(sim) == 1
