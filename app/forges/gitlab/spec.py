"""GitLab's entry in the forge registry: who it is, its words, and where its parts are."""

from __future__ import annotations

from app.forges.spec import ForgeSpec, ForgeWording

KIND = "gitlab"

WORDING = ForgeWording(
    display_name="GitLab",
    change_request="merge request",
    progress_display="commit status",
    noreply_domain="noreply.invalid",  # GitLab's own noreply domain depends on the instance
    change_request_sigil="!",
)


SPEC = ForgeSpec(
    kind=KIND,
    wording=WORDING,
    enabled=lambda settings: settings.gitlab_enabled,
    how_to_enable="set AGENTOPS_GITLAB_URL",
    bot_name=lambda settings: settings.gitlab_bot_username or "agentops-bot",
    webhook_proves_author=False,  # a hook token proves the project, not the person
    parts_module="app.forges.gitlab.parts",
)
