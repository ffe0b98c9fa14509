"""Sign-in with GitHub and GitLab, and who sees what, through the real web process and
the forge simulators' OAuth endpoints: a person sees the runs of the repositories they
can read (others are a 404), the list is scoped to their workspaces whatever the filter,
the forge token never leaves the server in clear, and the session ends at sign-out."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest

from tests.e2e import github_events as events
from tests.e2e.conftest import GITHUB_SECRET, forge_env, gitlab_token
from tests.e2e.harness import RedisServer, Service, base_env
from tests.sim.github import GitHubSim
from tests.sim.gitlab import GitLabSim

pytestmark = pytest.mark.e2e
SESSION_SECRET = "e2e-session-secret-" + "0123456789abcdef" * 2
CACHE_SECONDS = 2.0
OURS, THEIRS, PROJECT = "acme/app", "beta/secret", "grp/app"


@pytest.fixture(scope="module")
def sims(
    github: tuple[GitHubSim, str], gitlab: tuple[GitLabSim, str]
) -> tuple[GitHubSim, GitLabSim]:
    gh, _ = github
    gl, _ = gitlab
    gh.add_repo(OURS)
    gh.add_repo(THEIRS)
    gh.set_permission(OURS, "alice", "read")
    gh.set_permission(OURS, "wendy", "write")
    gh.set_permission(THEIRS, "bob", "write")
    gl.add_user("dana")
    gl.add_user("eve")
    gl.add_user("olga")
    gl.add_project(PROJECT, {"README.md": "# app\n"})
    gl.set_access(PROJECT, "dana", 20)  # Reporter
    return gh, gl


@pytest.fixture(scope="module")
def service(
    e2e_database_url: str,
    redis_server: RedisServer,
    github: tuple[GitHubSim, str],
    gitlab: tuple[GitLabSim, str],
    sims: tuple[GitHubSim, GitLabSim],
    workdir: Path,
) -> Iterator[Service]:
    gh, gl = sims
    env = base_env(e2e_database_url, redis_server.url, workdir)
    env.update(forge_env(*github, *gitlab))
    svc = Service(env, workdir)
    gh.set_callback_url(f"{svc.url}/signin/github/callback")
    gl_id, gl_secret = gl.add_oauth_application(f"{svc.url}/signin/gitlab/callback")
    svc.env.update(
        {
            "AGENTOPS_SESSION_SECRET": SESSION_SECRET,
            "AGENTOPS_GITHUB_CLIENT_ID": gh.client_id,
            "AGENTOPS_GITHUB_CLIENT_SECRET": gh.client_secret,
            "AGENTOPS_GITLAB_OAUTH_CLIENT_ID": gl_id,
            "AGENTOPS_GITLAB_OAUTH_CLIENT_SECRET": gl_secret,
            "AGENTOPS_ACCESS_CACHE_SECONDS": str(CACHE_SECONDS),
            "AGENTOPS_OPERATOR_LOGINS": "github:octo-operator,gitlab:olga",
        }
    )
    svc.start(worker=False)  # the runs stay queued: this is about who sees them
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def runs(service: Service, sims: tuple[GitHubSim, GitLabSim]) -> dict[str, int]:
    """One queued run in each workspace, made through the real intake."""
    gh, gl = sims
    made = {}
    for repo in (OURS, THEIRS):
        number = gh.add_issue(repo, "Do it", "please", user="carol")
        comment = gh.add_comment(repo, number, "/agentops plan", user="carol")
        payload = events.issue_comment(
            repo, gh.installation_id(repo), number, "/agentops plan", "carol", comment_id=comment
        )
        answer = service.post_github("issue_comment", payload, GITHUB_SECRET)
        assert answer.status_code == 202, answer.text
        made[repo] = int(answer.text.split()[-1])
    issue = gl.add_issue(PROJECT, "Do it", "please", author="dana")
    payload = gl.webhook_note_event(PROJECT, "issue", issue["iid"], "/agentops plan", "dana")
    headers = gl.webhook_headers("Note Hook", gitlab_token(PROJECT), uuid=str(uuid.uuid4()))
    answer = service.post_gitlab(payload, headers)
    assert answer.status_code == 202, answer.text
    made[PROJECT] = int(answer.text.split()[-1])
    return made


def browser() -> httpx.Client:
    return httpx.Client(timeout=10, follow_redirects=False)


def start(client: httpx.Client, service: Service, forge: str, next_path: str = "/api/me") -> str:
    """`/signin/{forge}`: the forge's authorize URL it sends the browser to."""
    answer = client.get(f"{service.url}/signin/{forge}", params={"next": next_path})
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def at_forge(client: httpx.Client, authorize_url: str) -> str:
    """The person (already signed in at the forge) authorises: the callback URL."""
    answer = client.get(authorize_url)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def sign_in(
    service: Service, sims: tuple[GitHubSim, GitLabSim], forge: str, who: str
) -> tuple[httpx.Client, httpx.Response]:
    gh, gl = sims
    (gh if forge == "github" else gl).sign_in_browser(who)
    client = browser()
    done = client.get(at_forge(client, start(client, service, forge)))
    assert done.status_code == 303, done.text
    return client, done


def session_cookie_header(response: httpx.Response) -> str:
    return next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("agentops_session=")
    )


def test_sign_in_with_github_shows_the_runs_of_readable_repositories_only(
    service: Service, sims: tuple[GitHubSim, GitLabSim], runs: dict[str, int]
) -> None:
    client, done = sign_in(service, sims, "github", "alice")
    assert done.headers["location"] == "/api/me"
    me = client.get(f"{service.url}/api/me").json()
    assert (me["forge"], me["login"], me["operator"]) == ("github", "alice", False)
    assert [w["repositories"] for w in me["workspaces"]] == [[OURS]]

    listed = {r["id"] for r in client.get(f"{service.url}/api/runs").json()["runs"]}
    assert runs[OURS] in listed and runs[THEIRS] not in listed and runs[PROJECT] not in listed
    crafted = client.get(f"{service.url}/api/runs", params={"repo": THEIRS}).json()["runs"]
    assert crafted == []

    ours = client.get(f"{service.url}/api/runs/{runs[OURS]}")
    assert ours.status_code == 200 and ours.json()["repo"] == OURS
    assert ours.json()["can_write"] is False  # alice reads; the bot's check says no write
    for hidden in (runs[THEIRS], runs[PROJECT], 987654):
        answer = client.get(f"{service.url}/api/runs/{hidden}")
        assert answer.status_code == 404 and THEIRS not in answer.text


def test_write_access_comes_from_the_same_check_as_a_comment(
    service: Service, sims: tuple[GitHubSim, GitLabSim], runs: dict[str, int]
) -> None:
    client, _ = sign_in(service, sims, "github", "wendy")
    assert client.get(f"{service.url}/api/runs/{runs[OURS]}").json()["can_write"] is True
    gh, _ = sims
    asked = [r for r in gh.requests if r.path.endswith("/collaborators/wendy/permission")]
    assert asked and all(r.auth == "token" for r in asked)


def test_the_session_cookie_and_what_the_server_keeps(
    service: Service,
    sims: tuple[GitHubSim, GitLabSim],
    runs: dict[str, int],
    e2e_database_url: str,
) -> None:
    gh, gl = sims
    _, done = sign_in(service, sims, "github", "alice")
    header = session_cookie_header(done)
    flags = [f.strip().lower() for f in header.split(";")[1:]]
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    assert any(f.startswith("max-age=") and int(f[8:]) > 0 for f in flags)
    assert "secure" not in flags  # served over plain http on loopback
    token = gh.user_tokens_issued[-1]
    assert token not in header and token not in str(done.headers)

    async def rows() -> list[str]:
        conn = await asyncpg.connect(e2e_database_url)
        try:
            found = await conn.fetch("SELECT * FROM web_sessions")
        finally:
            await conn.close()
        return [repr(dict(r)) + bytes(r["token_sealed"]).decode("latin-1") for r in found]

    sign_in(service, sims, "gitlab", "dana")
    stored = asyncio.run(rows())
    secrets = [
        *gh.user_tokens_issued,
        *gh._refresh_tokens,
        *(t for t, held in gl._oauth_tokens.items() if held.username == "dana"),
        *gl._oauth_refresh,
    ]
    assert len(stored) >= 2 and token in secrets
    assert not [t for t in secrets if any(t in row for row in stored)]
    assert not [t for t in secrets if t in service.web.output()]


def test_secure_cookies_behind_an_https_proxy(
    service: Service, sims: tuple[GitHubSim, GitLabSim]
) -> None:
    with browser() as client:
        answer = client.get(f"{service.url}/signin/github", headers={"X-Forwarded-Proto": "https"})
    assert answer.status_code == 302
    assert "; secure" in answer.headers["set-cookie"].lower()


def test_a_callback_with_another_state_or_browser_is_refused(
    service: Service, sims: tuple[GitHubSim, GitLabSim]
) -> None:
    gh, _ = sims
    gh.sign_in_browser("alice")
    exchanges = sum(1 for r in gh.requests if r.path == "/login/oauth/access_token")
    with browser() as victim, browser() as attacker:
        callback = at_forge(victim, start(victim, service, "github"))
        query = parse_qs(urlsplit(callback).query)
        forged = callback.replace(query["state"][0], "x" * 43)
        tampered = victim.get(forged)
        elsewhere = attacker.get(callback)  # the code leaked, the browser's cookie did not
        start(attacker, service, "github")  # the attacker's own state cookie
        crossed = attacker.get(callback)
        for answer in (tampered, elsewhere, crossed):
            assert answer.status_code == 403, answer.text
            assert "agentops_session=" not in str(answer.headers.get_list("set-cookie"))
    assert sum(1 for r in gh.requests if r.path == "/login/oauth/access_token") == exchanges


def test_a_refused_authorization_signs_nobody_in(
    service: Service, sims: tuple[GitHubSim, GitLabSim]
) -> None:
    gh, _ = sims
    gh.sign_in_browser("alice")
    gh.deny_authorization = True
    try:
        with browser() as client:
            answer = client.get(at_forge(client, start(client, service, "github")))
    finally:
        gh.deny_authorization = False
    assert answer.status_code == 403
    assert "agentops_session=" not in str(answer.headers.get_list("set-cookie"))


def test_sign_out_needs_the_csrf_token_and_ends_the_session(
    service: Service, sims: tuple[GitHubSim, GitLabSim]
) -> None:
    client, _ = sign_in(service, sims, "github", "alice")
    old_cookie = client.cookies["agentops_session"]
    csrf = client.get(f"{service.url}/api/me").json()["csrf_token"]
    bare = client.post(f"{service.url}/signout")
    wrong = client.post(f"{service.url}/signout", data={"csrf": "nope"})
    cross_site = client.post(
        f"{service.url}/signout", data={"csrf": csrf}, headers={"Origin": "https://evil.example"}
    )
    assert [bare.status_code, wrong.status_code, cross_site.status_code] == [403, 403, 403]
    assert client.get(f"{service.url}/api/me").status_code == 200  # still signed in

    out = client.post(f"{service.url}/signout", data={"csrf": csrf})
    assert out.status_code == 303
    assert "max-age=0" in session_cookie_header(out).lower()
    # the row is gone: the old cookie, replayed, opens nothing
    with browser() as replay:
        replay.cookies.set("agentops_session", old_cookie)
        assert replay.get(f"{service.url}/api/me").status_code == 401
        assert replay.get(f"{service.url}/api/runs").status_code == 401


def test_sign_in_with_gitlab_and_the_project_members_only(
    service: Service, sims: tuple[GitHubSim, GitLabSim], runs: dict[str, int]
) -> None:
    _, gl = sims
    client, _ = sign_in(service, sims, "gitlab", "dana")
    me = client.get(f"{service.url}/api/me").json()
    assert (me["forge"], me["login"]) == ("gitlab", "dana")
    assert [w["repositories"] for w in me["workspaces"]] == [[PROJECT]]
    listed = {r["id"] for r in client.get(f"{service.url}/api/runs").json()["runs"]}
    assert listed == {runs[PROJECT]}
    assert client.get(f"{service.url}/api/runs/{runs[PROJECT]}").status_code == 200
    assert client.get(f"{service.url}/api/runs/{runs[OURS]}").status_code == 404
    authorize = [r for r in gl.requests if r.path == "/oauth/authorize"]
    assert authorize  # through the simulator's OAuth endpoints

    outsider, _ = sign_in(service, sims, "gitlab", "eve")
    assert outsider.get(f"{service.url}/api/runs").json()["runs"] == []
    assert outsider.get(f"{service.url}/api/runs/{runs[PROJECT]}").status_code == 404


def test_access_is_asked_again_after_the_cache_expires(
    service: Service, sims: tuple[GitHubSim, GitLabSim], runs: dict[str, int]
) -> None:
    gh, _ = sims
    gh.set_permission(OURS, "frank", "read")
    client, _ = sign_in(service, sims, "github", "frank")
    url = f"{service.url}/api/runs/{runs[OURS]}"
    assert client.get(url).status_code == 200
    gh.set_permission(OURS, "frank", "none")  # access removed on the forge
    assert client.get(url).status_code == 200  # kept for the cache's life, no longer
    time.sleep(CACHE_SECONDS + 0.5)
    assert client.get(url).status_code == 404
    assert runs[OURS] not in {r["id"] for r in client.get(f"{service.url}/api/runs").json()["runs"]}


def test_an_operator_sees_every_run(
    service: Service, sims: tuple[GitHubSim, GitLabSim], runs: dict[str, int]
) -> None:
    client, _ = sign_in(service, sims, "github", "octo-operator")
    assert client.get(f"{service.url}/api/me").json()["operator"] is True
    listed = {r["id"] for r in client.get(f"{service.url}/api/runs").json()["runs"]}
    assert set(runs.values()) <= listed
    shown = client.get(f"{service.url}/api/runs/{runs[PROJECT]}")
    assert shown.status_code == 200
    # a GitHub login is nobody on GitLab, and without write access on the forge there are
    # no buttons (the worker would refuse the press in public)
    assert shown.json()["can_write"] is False
    ours = client.get(f"{service.url}/api/runs/{runs[OURS]}").json()
    assert ours["can_write"] is False


def test_renewals_waiting_on_a_slow_forge_leave_the_database_pool_to_the_rest(
    service: Service, sims: tuple[GitHubSim, GitLabSim], runs: dict[str, int]
) -> None:
    """Eleven people whose tokens expire while GitHub takes 3 s a renewal must not hold
    the web process's ten owner connections, or `/readyz` (and a new tenant's delivery)
    waits: a renewal holds its session's lease (a committed mark), not a connection."""
    gh, _ = sims
    people = [f"slow-{n}" for n in range(11)]
    for login in people:
        gh.set_permission(OURS, login, "read")
    gh.user_token_ttl = 30.0  # renewed on the next request
    clients: list[httpx.Client] = []
    try:
        clients += [sign_in(service, sims, "github", login)[0] for login in people]
        gh.fail_next(
            r"POST /login/oauth/access_token", "hang", count=11, retry_after=3, applied=True
        )
        url = f"{service.url}/api/runs/{runs[OURS]}"
        with ThreadPoolExecutor(len(clients)) as pool:
            pages = [pool.submit(client.get, url, timeout=30) for client in clients]
            time.sleep(0.5)  # the renewals are waiting on GitHub
            started = time.monotonic()
            ready = httpx.get(f"{service.url}/readyz", timeout=10)
            took = time.monotonic() - started
            answers = [page.result() for page in pages]
        assert ready.status_code == 200 and took < 1.0, (ready.text, took)
        assert [a.status_code for a in answers] == [200] * len(clients)
    finally:
        gh.user_token_ttl = 28800.0
        for client in clients:
            client.close()


def test_an_expiring_token_is_renewed_and_a_refused_renewal_ends_the_session(
    service: Service, sims: tuple[GitHubSim, GitLabSim], runs: dict[str, int]
) -> None:
    gh, _ = sims
    gh.set_permission(OURS, "gina", "read")
    gh.user_token_ttl = 30.0  # within the minute before expiry in which it is renewed
    try:
        client, _ = sign_in(service, sims, "github", "gina")
        issued = len(gh.user_tokens_issued)
        assert client.get(f"{service.url}/api/runs/{runs[OURS]}").status_code == 200
        assert len(gh.user_tokens_issued) == issued + 1  # renewed with the refresh token
        renewed = [r for r in gh.requests if r.path == "/login/oauth/access_token"]
        assert renewed[-1].status == 200

        gh.revoke_user_tokens("gina")  # the person revoked the App's authorization
        time.sleep(CACHE_SECONDS + 0.5)
        assert client.get(f"{service.url}/api/runs/{runs[OURS]}").status_code == 404
        assert client.get(f"{service.url}/api/me").status_code == 401  # signed out
    finally:
        gh.user_token_ttl = 28800.0


def test_the_sign_in_page_offers_both_forges_then_the_sign_out_button(
    service: Service, sims: tuple[GitHubSim, GitLabSim]
) -> None:
    with browser() as anonymous:
        page = anonymous.get(f"{service.url}/signin", params={"next": "/runs/1"})
    assert page.status_code == 200
    assert 'href="/signin/github?next=/runs/1"' in page.text
    assert 'href="/signin/gitlab?next=/runs/1"' in page.text
    client, _ = sign_in(service, sims, "github", "alice")
    signed_in = client.get(f"{service.url}/signin")
    csrf = client.get(f"{service.url}/api/me").json()["csrf_token"]
    assert "alice" in signed_in.text and f'name="csrf" value="{csrf}"' in signed_in.text
    assert "form-action 'self'" in signed_in.headers["content-security-policy"]


def test_a_gitlab_developer_may_cancel_and_a_reporter_may_not(
    service: Service, sims: tuple[GitHubSim, GitLabSim], runs: dict[str, int]
) -> None:
    _, gl = sims
    gl.add_user("gus")
    gl.set_access(PROJECT, "gus", 30)  # Developer
    reporter, _ = sign_in(service, sims, "gitlab", "dana")
    developer, _ = sign_in(service, sims, "gitlab", "gus")
    url = f"{service.url}/api/runs/{runs[PROJECT]}"
    assert reporter.get(url).json()["can_write"] is False
    assert developer.get(url).json()["can_write"] is True


def test_a_gitlab_guest_does_not_see_the_code_of_a_private_project(
    service: Service, sims: tuple[GitHubSim, GitLabSim], runs: dict[str, int]
) -> None:
    _, gl = sims
    gl.add_user("gus")
    gl.set_access(PROJECT, "gus", 10)  # Guest: sees the project, not its repository
    client, _ = sign_in(service, sims, "gitlab", "gus")
    assert client.get(f"{service.url}/api/runs/{runs[PROJECT]}").status_code == 404
    assert client.get(f"{service.url}/api/runs").json()["runs"] == []


def test_requests_of_one_session_at_once_renew_its_token_once(
    service: Service, sims: tuple[GitHubSim, GitLabSim], runs: dict[str, int]
) -> None:
    """A refresh token works once: six pages of one person asked at once, while GitHub
    takes a second to renew, make one renewal; the other five wait for its token (on no
    connection) and every page is shown."""
    gh, _ = sims
    gh.set_permission(OURS, "hana", "read")
    gh.user_token_ttl = 30.0  # renewed on the next request
    client, _ = sign_in(service, sims, "github", "hana")
    try:
        before = sum(1 for r in gh.requests if r.path == "/login/oauth/access_token")
        gh.fail_next(
            r"POST /login/oauth/access_token", "hang", count=1, retry_after=1, applied=True
        )
        url = f"{service.url}/api/runs/{runs[OURS]}"
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(lambda _: client.get(url, timeout=30), range(6)))
        renewals = sum(1 for r in gh.requests if r.path == "/login/oauth/access_token")
        assert [a.status_code for a in answers] == [200] * 6
        assert renewals - before == 1
    finally:
        gh.user_token_ttl = 28800.0
        client.close()


def test_a_run_stays_with_its_repository_when_the_name_passes_to_another(
    service: Service, sims: tuple[GitHubSim, GitLabSim]
) -> None:
    """A private repository is renamed and a public one takes its old name: the run is
    still its reader's, in the list too, and not the new repository's readers', though
    its name says so."""
    gh, _ = sims
    gh.add_repo("acme/vault")
    gh.set_permission("acme/vault", "vera", "read")
    number = gh.add_issue("acme/vault", "Rotate the keys", "the keys are in keys.txt", user="carol")
    payload = events.commented(gh, "acme/vault", number, "/agentops plan", "carol")
    answer = service.post_github("issue_comment", payload, GITHUB_SECRET)
    assert answer.status_code == 202, answer.text
    run = int(answer.text.split()[-1])

    gh.rename_repo("acme/vault", "acme/vault-archive")
    gh.add_repo("acme/vault", private=False)  # anyone reads it
    gh.set_permission("acme/vault", "ned", "read")  # of the same installation
    vera, _ = sign_in(service, sims, "github", "vera")
    assert vera.get(f"{service.url}/api/runs/{run}").status_code == 200
    assert run in {r["id"] for r in vera.get(f"{service.url}/api/runs").json()["runs"]}
    ned, _ = sign_in(service, sims, "github", "ned")
    assert ["acme/vault"] in [
        w["repositories"] for w in ned.get(f"{service.url}/api/me").json()["workspaces"]
    ]
    assert run not in {r["id"] for r in ned.get(f"{service.url}/api/runs").json()["runs"]}
    assert f'href="/runs/{run}"' not in ned.get(f"{service.url}/runs").text
    assert f'href="/runs/{run}"' in vera.get(f"{service.url}/runs").text
    assert ned.get(f"{service.url}/api/runs/{run}").status_code == 404
    mallory, _ = sign_in(service, sims, "github", "mallory")
    for path in (f"/api/runs/{run}", f"/runs/{run}"):
        answer = mallory.get(f"{service.url}{path}")
        assert answer.status_code == 404 and "Rotate the keys" not in answer.text
    assert [r for r in gh.requests if r.path.startswith("/repositories/")]  # asked by id


def test_a_gitlab_operator_is_the_account_not_the_username(
    service: Service, sims: tuple[GitHubSim, GitLabSim], runs: dict[str, int]
) -> None:
    """`gitlab:olga` is pinned to the account that first signs in as olga; when she takes
    another username and someone registers `olga`, that account is an ordinary person."""
    _, gl = sims
    olga, _ = sign_in(service, sims, "gitlab", "olga")
    assert olga.get(f"{service.url}/api/me").json()["operator"] is True
    assert olga.get(f"{service.url}/api/runs/{runs[THEIRS]}").status_code == 200
    first_id = gl.users["olga"].id
    assert f"operator gitlab:olga pinned to the account id {first_id}" in service.web.output()

    gl.rename_user("olga", "olga-away")
    stranger_id = gl.add_user("olga").id
    stranger, _ = sign_in(service, sims, "gitlab", "olga")
    me = stranger.get(f"{service.url}/api/me").json()
    assert (me["forge"], me["login"], me["operator"]) == ("gitlab", "olga", False)
    for run in (runs[THEIRS], runs[PROJECT]):  # not a member of grp/app either
        assert stranger.get(f"{service.url}/api/runs/{run}").status_code == 404
    said = [line for line in service.web.output().splitlines() if "gitlab:olga#" in line]
    assert len(said) == 1 and f"gitlab:olga#{stranger_id}" in said[0], said
    assert olga.get(f"{service.url}/api/me").json()["operator"] is True  # still hers
