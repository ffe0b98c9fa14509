"""GitHub's entry in the forge registry: who it is, its words, and where its parts are."""

from __future__ import annotations

from app.forges.spec import ForgeSpec, ForgeWording

KIND = "github"

WORDING = ForgeWording(
    display_name="GitHub",
    change_request="pull request",
    progress_display="check run",
    noreply_domain="users.noreply.github.com",
    change_request_sigil="#",
)


SPEC = ForgeSpec(
    kind=KIND,
    wording=WORDING,
    enabled=lambda settings: settings.github_enabled,
    how_to_enable="set AGENTOPS_GITHUB_APP_ID (or open / for the GitHub App setup)",
    bot_name=lambda settings: settings.github_bot_login or "agentops[bot]",
    webhook_proves_author=True,  # the App's signature covers the whole payload
    parts_module="app.forges.github.parts",
)
