"""The sign-in clients (app/signin) against the simulators' OAuth endpoints: what a
forge refuses — another client's secret, a code used twice, a wrong PKCE verifier, a
redirect URI other than the one authorised — is refused here too, and a person's token
reads what the person can read and writes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.forges.github.signin import GitHubSignIn
from app.forges.gitlab.signin import GitLabSignIn
from app.signin.forge_client import SignInRefused
from app.signin.keys import pkce_challenge
from tests.sim.github import GitHubSim
from tests.sim.gitlab import GitLabSim
from tests.sim.serve import serve_app

VERIFIER = "v" * 43
CALLBACK = "http://agentops.test/signin/github/callback"


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


async def code_for(http: httpx.AsyncClient, authorize_url: str) -> str:
    answer = await http.get(authorize_url, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    return parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]


async def test_github_refuses_what_github_refuses(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    sim = GitHubSim(tmp_path)
    sim.add_repo("acme/app")
    sim.add_repo("beta/secret")
    sim.set_permission("acme/app", "alice", "read")
    sim.set_callback_url(CALLBACK)
    sim.sign_in_browser("alice")
    with serve_app(sim.app) as base:
        good = GitHubSignIn(base, sim.client_id, sim.client_secret, client)
        wrong = GitHubSignIn(base, sim.client_id, "not-the-secret", client)
        url = good.authorize_url(CALLBACK, "st", pkce_challenge(VERIFIER))
        with pytest.raises(SignInRefused, match="incorrect_client_credentials"):
            await wrong.exchange(await code_for(client, url), CALLBACK, VERIFIER)
        with pytest.raises(SignInRefused, match="bad_verification_code"):
            await good.exchange(await code_for(client, url), CALLBACK, "w" * 43)
        code = await code_for(client, url)
        tokens = await good.exchange(code, CALLBACK, VERIFIER)
        with pytest.raises(SignInRefused, match="bad_verification_code"):
            await good.exchange(code, CALLBACK, VERIFIER)  # once only
        assert tokens.access.startswith("ghu_") and tokens.refresh and tokens.expires_in
        person = await good.person(tokens.access)
        assert person.login == "alice"
        workspaces = await good.workspaces(tokens.access)
        assert [(w.account, sorted(w.repos)) for w in workspaces] == [("acme", ["acme/app"])]
        renewed = await good.refresh(tokens.refresh or "")
        with pytest.raises(SignInRefused, match="bad_refresh_token"):
            await good.refresh(tokens.refresh or "")  # a refresh token works once
        pushed = await client.post(
            f"{base}/repos/acme/app/issues/1/comments",
            json={"body": "hi"},
            headers={"Authorization": f"Bearer {renewed.access}"},
        )
        assert pushed.status_code == 403
        elsewhere = await client.get(
            f"{base}/login/oauth/authorize",
            params={"client_id": sim.client_id, "redirect_uri": "https://evil.example/cb"},
            follow_redirects=False,
        )
        assert "error=redirect_uri_mismatch" in elsewhere.headers["location"]
        assert elsewhere.headers["location"].startswith(CALLBACK)


async def test_gitlab_refuses_what_gitlab_refuses(
    tmp_path: Path, client: httpx.AsyncClient
) -> None:
    sim = GitLabSim(tmp_path)
    sim.add_user("dana")
    sim.add_project("grp/app", {"README.md": "hi\n"})
    sim.add_project("grp/other", {"README.md": "hi\n"})
    sim.set_access("grp/app", "dana", 20)
    sim.sign_in_browser("dana")
    with sim.serve() as base:
        callback = f"{base}/cb"
        uid, secret = sim.add_oauth_application(callback)
        good = GitLabSignIn(base, uid, secret, client)
        url = good.authorize_url(callback, "st", pkce_challenge(VERIFIER))
        with pytest.raises(SignInRefused, match="invalid_grant"):
            await good.exchange(await code_for(client, url), f"{base}/other", VERIFIER)
        with pytest.raises(SignInRefused, match="invalid_client"):
            wrong = GitLabSignIn(base, uid, "gloas-wrong", client)
            await wrong.exchange(await code_for(client, url), callback, VERIFIER)
        tokens = await good.exchange(await code_for(client, url), callback, VERIFIER)
        assert (await good.person(tokens.access)).login == "dana"
        workspaces = await good.workspaces(tokens.access)
        assert [w.account for w in workspaces] == ["grp/app"]
        assert workspaces[0].external_key == f"{base}#{sim.project('grp/app').id}"
        headers = {"Authorization": f"Bearer {tokens.access}"}
        note = await client.post(
            f"{base}/api/v4/projects/{sim.project('grp/app').id}/issues/1/notes",
            json={"body": "hi"},
            headers=headers,
        )
        assert note.status_code == 403 and note.json()["error"] == "insufficient_scope"
        other = await client.get(
            f"{base}/api/v4/projects/{sim.project('grp/other').id}", headers=headers
        )
        assert other.status_code == 404
        renewed = await good.refresh(tokens.refresh or "")
        assert renewed.access != tokens.access
        with pytest.raises(SignInRefused, match="invalid_grant"):
            await good.refresh(tokens.refresh or "")  # rotated
        too_much = await client.get(
            f"{base}/oauth/authorize",
            params={
                "client_id": uid,
                "redirect_uri": callback,
                "response_type": "code",
                "scope": "api",
                "state": "s",
            },
            follow_redirects=False,
        )
        assert "error=invalid_scope" in too_much.headers["location"]
