"""GitLab's entry in the forge registry: who it is, its words, and where its parts are."""

from __future__ import annotations

from app.config import Settings
from app.forges.spec import ForgeConnection, ForgeSpec, ForgeWording, WebhookReceiver

KIND = "gitlab"

WORDING = ForgeWording(
    display_name="GitLab",
    change_request="merge request",
    progress_display="commit status",
    noreply_domain="noreply.invalid",  # GitLab's own noreply domain depends on the instance
)


def _enabled(settings: Settings) -> bool:
    return settings.gitlab_enabled


def _connect(settings: Settings) -> ForgeConnection:
    from app.forges.gitlab.forge import GitLabForge

    return GitLabForge(settings)


def _receiver(settings: Settings) -> WebhookReceiver:
    from app.forges.gitlab.webhook import GitLabReceiver

    return GitLabReceiver(settings)


async def _doctor(settings: Settings) -> tuple[bool, str]:
    from app.forges.gitlab.doctor import check_token

    return await check_token(settings)


def _bot_identity(settings: Settings) -> tuple[str, str]:
    name = settings.gitlab_bot_username or "agentops-bot"
    return name, WORDING.noreply_email(name)


SPEC = ForgeSpec(
    kind=KIND,
    wording=WORDING,
    enabled=_enabled,
    how_to_enable="set AGENTOPS_GITLAB_URL",
    connect=_connect,
    receiver=_receiver,
    doctor=_doctor,
    bot_identity=_bot_identity,
    # A project's hook token proves the project, not who wrote the note or added the label.
    webhook_proves_author=False,
)
