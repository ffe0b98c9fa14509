"""An operator is a login *and* an account, through the real web process and the GitHub
simulator's OAuth: `AGENTOPS_OPERATOR_LOGINS=github:rita` is pinned to the account that
first signs in as rita; when the login is renamed and someone registers `rita` again, that
new account signs in as an ordinary person (it does not see another tenant's run), and the
log says why and what to set; `github:rita#<new id>` makes the new account the operator and
the old one not, at the next request of sessions already open. A malformed entry stops the
service with one clear line."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e import github_events as events
from tests.e2e.harness import ROOT, RedisServer, Service, base_env, github_env, running
from tests.e2e.test_run_page import sign_in
from tests.sim.github import GitHubSim
from tests.sim.serve import free_port

pytestmark = pytest.mark.e2e
SECRET = "e2e-github-webhook-secret"
SESSION_SECRET = "e2e-session-secret-" + "0123456789abcdef" * 2
OURS, THEIRS = "acme/app", "beta/secret"
NOT_THE_OPERATOR = "not an operator, an ordinary person"


@pytest.fixture(scope="module")
def gh(github: tuple[GitHubSim, str]) -> GitHubSim:
    sim, _ = github
    sim.add_repo(OURS)
    sim.add_repo(THEIRS)
    sim.set_permission(OURS, "rita", "read")  # rita is of acme's installation, not beta's
    sim.set_permission(OURS, "otto", "read")
    return sim


@pytest.fixture(scope="module")
def service(
    e2e_database_url: str,
    redis_server: RedisServer,
    github: tuple[GitHubSim, str],
    gh: GitHubSim,
    workdir: Path,
) -> Iterator[Service]:
    env = base_env(e2e_database_url, redis_server.url, workdir) | github_env(*github, SECRET)
    settings = {"AGENTOPS_OPERATOR_LOGINS": "github:rita"}
    with running(
        env, workdir, settings, sign_in=gh, session_secret=SESSION_SECRET, worker=False
    ) as svc:
        yield svc


@pytest.fixture(scope="module")
def theirs(service: Service, gh: GitHubSim) -> int:
    """A queued run of the other tenant (beta's installation), made through the intake."""
    number = gh.add_issue(THEIRS, "Do it", "please", user="carol")
    comment = gh.add_comment(THEIRS, number, "/agentops plan", user="carol")
    payload = events.issue_comment(
        THEIRS, gh.installation_id(THEIRS), number, "/agentops plan", "carol", comment_id=comment
    )
    answer = service.post_github("issue_comment", payload, SECRET)
    assert answer.status_code == 202, answer.text
    return int(answer.text.split()[-1])


def sees(client: httpx.Client, service: Service, run_id: int) -> bool:
    """Whether the person is an operator and sees the run of another tenant: `/api/me`,
    the JSON API, the runs list and the run page agree."""
    me = client.get(f"{service.url}/api/me").json()
    api = client.get(f"{service.url}/api/runs/{run_id}").status_code
    listed = {r["id"] for r in client.get(f"{service.url}/api/runs").json()["runs"]}
    page = client.get(f"{service.url}/runs/{run_id}").status_code
    assert api in (200, 404) and page in (200, 404)
    seen = [me["operator"], api == 200, run_id in listed, page == 200]
    assert len(set(seen)) == 1, seen
    return bool(seen[0])


def restart(service: Service, operator_logins: str) -> None:
    service.stop()
    service.env["AGENTOPS_OPERATOR_LOGINS"] = operator_logins
    service.start(worker=False)


def test_the_operator_is_the_first_account_of_the_login_not_the_next(
    service: Service, gh: GitHubSim, theirs: int
) -> None:
    otto = sign_in(service, gh, "otto")  # not listed yet
    assert not sees(otto, service, theirs)

    rita = sign_in(service, gh, "rita")
    first_id = str(gh.account_id("rita"))
    assert rita.get(f"{service.url}/api/me").json()["login"] == "rita"
    assert sees(rita, service, theirs)
    assert f"operator github:rita pinned to the account id {first_id}" in service.web.output()

    # rita renames her account; a stranger registers the login `rita`
    new_id = str(gh.rename_user("rita", "rita-renamed"))
    assert new_id != first_id
    stranger = sign_in(service, gh, "rita")
    me = stranger.get(f"{service.url}/api/me").json()
    assert (me["login"], me["operator"]) == ("rita", False)
    assert not sees(stranger, service, theirs)  # 404 on the API and the page, not listed
    said = [line for line in service.web.output().splitlines() if NOT_THE_OPERATOR in line]
    assert len(said) == 1, said  # once, for the one sign-in
    assert f"account id {new_id}" in said[0] and first_id in said[0]
    assert f"github:rita#{new_id} in AGENTOPS_OPERATOR_LOGINS" in said[0]
    assert SESSION_SECRET not in service.web.output()
    assert not [t for t in gh.user_tokens_issued if t in service.web.output()]
    assert sees(rita, service, theirs)  # the operator's own session is still hers

    # the new account is the operator's after all: pinned in the setting, which overrides
    # the recorded id; sessions already open follow at their next request
    restart(service, f"github:rita#{new_id},github:otto")
    assert sees(stranger, service, theirs)
    assert not sees(rita, service, theirs)
    assert sees(otto, service, theirs)  # listed now: his account pinned at its first use
    assert "operator github:otto pinned to the account id" in service.web.output()
    again = sign_in(service, gh, "rita")
    assert sees(again, service, theirs)
    replaced = f"github:rita pinned to the account id {new_id} instead of {first_id}"
    assert replaced in service.web.output()

    # the pin stays the setting's when the id is dropped from it: the old account is out
    restart(service, "github:rita,github:otto")
    assert sees(stranger, service, theirs) and not sees(rita, service, theirs)
    renamed = sign_in(service, gh, "rita-renamed")  # the old account, by its new name
    assert not sees(renamed, service, theirs)


def test_a_malformed_entry_stops_the_service_with_one_clear_line(service: Service) -> None:
    env = {**service.env, "AGENTOPS_OPERATOR_LOGINS": "github:rita,github:rita#58x"}
    done = subprocess.run(
        [sys.executable, "-m", "app", "serve", "--port", str(free_port())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "AGENTOPS_OPERATOR_LOGINS: 'github:rita#58x'" in lines[0]
    assert "digits only" in lines[0]
