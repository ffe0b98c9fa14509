"""`agentops gitlab-secret PATH [--group]`: the secret token of one project's (or group's)
GitLab webhook, derived from AGENTOPS_GITLAB_WEBHOOK_SECRET."""

from __future__ import annotations

import argparse

from app.cli import CommandFailed
from app.config import load_settings
from app.webhooks import gitlab_webhook_secret, normalized_gitlab_path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    secret = sub.add_parser(
        "gitlab-secret",
        help="print the secret token for one GitLab project's (or group's) webhook",
        description=(
            "Print the X-Gitlab-Token that a webhook of PATH must send. Each project (or"
            " group) has its own, derived from AGENTOPS_GITLAB_WEBHOOK_SECRET; a delivery"
            " carrying another project's token is refused. The token changes when the"
            " project or group is renamed or moved."
        ),
    )
    secret.add_argument(
        "path", metavar="PROJECT_PATH", help="the project's full path, e.g. group/sub/project"
    )
    secret.add_argument(
        "--group",
        action="store_true",
        help="PATH is a group: the token of a group hook, valid for every project under it",
    )
    secret.set_defaults(handler=cmd_gitlab_secret)


def cmd_gitlab_secret(args: argparse.Namespace) -> int:
    settings = load_settings()
    operator = settings.gitlab_webhook_secret
    if operator is None or not operator.get_secret_value().strip():
        raise CommandFailed("AGENTOPS_GITLAB_WEBHOOK_SECRET is not set")
    path = normalized_gitlab_path(args.path)
    if not path:
        raise CommandFailed("PROJECT_PATH is empty")
    print(gitlab_webhook_secret(operator.get_secret_value(), path, group=args.group))
    return 0
