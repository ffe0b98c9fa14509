"""The app JWT and the installation token cache, with respx standing in for GitHub."""

from __future__ import annotations

import functools
import json
import time

import httpx
import jwt
import pytest
import respx
from pydantic import SecretStr

from app.config import Settings
from app.forges.base import ForgeError, Target
from app.forges.github.auth import GitHubApp, app_jwt
from app.forges.retry import RetryPolicy
from tests.sim.github import generate_app_key

API = "https://ghe.example.com/api/v3"


@functools.cache
def key() -> tuple[str, str]:
    return generate_app_key()


def make_app(clock: list[float] | None = None) -> GitHubApp:
    now = clock if clock is not None else [time.time()]
    return GitHubApp(
        42, key()[0], api_url=API, retry=RetryPolicy(2, 0.001, 0.001), clock=lambda: now[0]
    )


def token_answer(token: str, expires_in: float, now: float | None = None) -> httpx.Response:
    moment = (time.time() if now is None else now) + expires_in
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))
    return httpx.Response(201, json={"token": token, "expires_at": expires})


def test_jwt_claims() -> None:
    private, public = key()
    token = app_jwt(42, private, now=1_700_000_000)
    claims = jwt.decode(token, public, algorithms=["RS256"], options={"verify_exp": False})
    assert claims == {"iat": 1_700_000_000 - 60, "exp": 1_700_000_000 + 540, "iss": "42"}
    assert jwt.get_unverified_header(token)["alg"] == "RS256"


@respx.mock
async def test_token_cached_and_sent_as_token_header() -> None:
    route = respx.post(f"{API}/app/installations/7/access_tokens").mock(
        return_value=token_answer("ghs_first_token_0123456789abcdef", 3600)
    )
    repo = respx.get(f"{API}/repos/acme/app").mock(
        return_value=httpx.Response(
            200,
            json={
                "full_name": "acme/app",
                "default_branch": "trunk",
                "private": False,
                "clone_url": "https://ghe.example.com/acme/app.git",
            },
        )
    )
    app = make_app()
    forge = app.forge(7)
    assert (await forge.get_repo("acme/app")).default_branch == "trunk"
    await forge.get_repo("acme/app")
    assert route.call_count == 1 and repo.call_count == 2
    auth = route.calls[0].request.headers["authorization"]
    assert auth.lower().startswith("bearer ")
    claims = jwt.decode(auth.split()[1], key()[1], algorithms=["RS256"])
    assert claims["iss"] == "42"
    assert repo.calls[0].request.headers["authorization"] == (
        "token ghs_first_token_0123456789abcdef"
    )
    await app.aclose()


@respx.mock
async def test_token_refreshed_before_expiry_and_on_401() -> None:
    tokens = iter(
        [
            "ghs_aaaaaaaaaaaaaaaaaaaaaaaa",
            "ghs_bbbbbbbbbbbbbbbbbbbbbbbb",
            "ghs_cccccccccccccccccccccccc",
        ]
    )
    clock = [time.time()]
    route = respx.post(f"{API}/app/installations/7/access_tokens").mock(
        side_effect=lambda request: token_answer(next(tokens), 3600, clock[0])
    )
    app = make_app(clock)
    assert await app.installation_token(7) == "ghs_aaaaaaaaaaaaaaaaaaaaaaaa"
    clock[0] += 3600 - 200  # within five minutes of expiry
    assert await app.installation_token(7) == "ghs_bbbbbbbbbbbbbbbbbbbbbbbb"

    answers = iter(
        [
            httpx.Response(401, json={"message": "Bad credentials"}),
            httpx.Response(200, json=[{"id": 1, "body": "b", "user": {"login": "u"}}]),
        ]
    )
    respx.get(f"{API}/repos/acme/app/issues/3/comments").mock(
        side_effect=lambda request: next(answers)
    )
    comments = await app.forge(7).list_comments(Target("acme/app", "issue", 3))
    assert [c.author for c in comments] == ["u"]
    assert route.call_count == 3
    await app.aclose()


@respx.mock
async def test_open_pull_request_race_returns_existing() -> None:
    respx.post(f"{API}/app/installations/7/access_tokens").mock(
        return_value=token_answer("ghs_dddddddddddddddddddddddd", 3600)
    )
    pull = {
        "number": 5,
        "title": "t",
        "body": "",
        "user": {"login": "agentops[bot]"},
        "state": "open",
        "draft": True,
        "head": {"ref": "b", "sha": "1" * 40, "repo": {"full_name": "acme/app"}},
        "base": {"ref": "main", "sha": "2" * 40, "repo": {"full_name": "acme/app"}},
    }
    listed = iter([[], [pull]])
    lister = respx.get(f"{API}/repos/acme/app/pulls").mock(
        side_effect=lambda request: httpx.Response(200, json=next(listed))
    )
    respx.post(f"{API}/repos/acme/app/pulls").mock(
        return_value=httpx.Response(
            422,
            json={
                "message": "Validation Failed",
                "errors": [
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": "A pull request already exists for acme:b.",
                    }
                ],
            },
        )
    )
    pr = await make_app().forge(7).open_pull_request("acme/app", "b", "main", "t", "")
    assert pr.target.number == 5 and pr.draft
    assert lister.calls[0].request.url.params["head"] == "acme:b"
    sent = json.loads(respx.calls[-2].request.content)
    assert sent["draft"] is True


def test_from_settings(tmp_path: object) -> None:
    settings = Settings(
        github_app_id=9,
        github_app_slug="bot",
        github_private_key=SecretStr(key()[0]),
        github_webhook_secret=SecretStr("w" * 20),
        github_api_url="https://ghe.example.com/api/v3",
        forge_timeout_seconds=5,
    )
    app = GitHubApp.from_settings(settings)
    assert app.api_url == "https://ghe.example.com/api/v3"
    assert app.bot_login == "bot[bot]" and app.app_id == 9
    with pytest.raises(ForgeError):
        GitHubApp.from_settings(Settings())
