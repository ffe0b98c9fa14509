"""`agentops gitlab-secret PROJECT_PATH` as an operator runs it."""

from __future__ import annotations

from app.webhooks import gitlab_webhook_secret
from tests.integration.test_cli import agentops

OPERATOR = "operator-secret-for-the-cli-test"


def test_it_prints_the_projects_own_token() -> None:
    done = agentops("gitlab-secret", "Team/App", env={"AGENTOPS_GITLAB_WEBHOOK_SECRET": OPERATOR})
    assert done.returncode == 0, done.stderr
    assert done.stdout == gitlab_webhook_secret(OPERATOR, "team/app") + "\n"
    assert OPERATOR not in done.stdout


def test_group_prints_the_token_of_a_group_hook() -> None:
    env = {"AGENTOPS_GITLAB_WEBHOOK_SECRET": OPERATOR}
    group = agentops("gitlab-secret", "--group", "team", env=env)
    project = agentops("gitlab-secret", "team", env=env)
    assert group.stdout.strip() == gitlab_webhook_secret(OPERATOR, "team", group=True)
    assert group.stdout != project.stdout


def test_without_the_operators_secret_it_says_so_in_one_line() -> None:
    done = agentops("gitlab-secret", "team/app")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "agentops gitlab-secret: AGENTOPS_GITLAB_WEBHOOK_SECRET is not set"
    )


def test_it_has_help() -> None:
    done = agentops("gitlab-secret", "--help")
    assert done.returncode == 0 and "usage: agentops gitlab-secret" in done.stdout
    assert "--group" in done.stdout
