"""GitHub's entry in the forge registry: who it is, its words, and where its parts are."""

from __future__ import annotations

from app.config import Settings
from app.forges.spec import ForgeConnection, ForgeSpec, ForgeWording, WebhookReceiver

KIND = "github"

WORDING = ForgeWording(
    display_name="GitHub",
    change_request="pull request",
    progress_display="check run",
    noreply_domain="users.noreply.github.com",
)


def _enabled(settings: Settings) -> bool:
    return settings.github_enabled


def _connect(settings: Settings) -> ForgeConnection:
    from app.forges.github.auth import GitHubApp

    return GitHubApp.from_settings(settings)


def _receiver(settings: Settings) -> WebhookReceiver:
    from app.forges.github.webhook import GitHubReceiver

    return GitHubReceiver(settings)


async def _doctor(settings: Settings) -> tuple[bool, str]:
    from app.forges.github.doctor import check_app

    return await check_app(settings)


def _bot_identity(settings: Settings) -> tuple[str, str]:
    login = settings.github_bot_login or "agentops[bot]"
    return login, WORDING.noreply_email(login)


SPEC = ForgeSpec(
    kind=KIND,
    wording=WORDING,
    enabled=_enabled,
    how_to_enable="set AGENTOPS_GITHUB_APP_ID (or open / for the GitHub App setup)",
    connect=_connect,
    receiver=_receiver,
    doctor=_doctor,
    bot_identity=_bot_identity,
    webhook_proves_author=True,  # the App's signature covers the whole payload
)
