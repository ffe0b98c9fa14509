"""`agentops doctor`'s GitLab line: does the token work, and for the expected user? And
whose deliveries lost while AgentOps is down the worker resends."""

from __future__ import annotations

from app.config import Settings
from app.forges.base import ForgeError
from app.forges.gitlab.forge import GitLabForge
from app.forges.gitlab.hook_events import GitLabHookEvents


async def check_token(settings: Settings) -> tuple[bool, str]:
    try:
        # No configured user name, so that the token itself is checked (`GET /user`).
        forge = GitLabForge(settings.model_copy(update={"gitlab_bot_username": None}))
        username = await forge.current_username()
    except ForgeError as exc:
        return False, f"{settings.gitlab_url}: {exc}"
    expected = settings.gitlab_bot_username
    if expected and expected != username:
        return (
            False,
            f"{settings.gitlab_url}: the token belongs to @{username}, "
            f"not AGENTOPS_GITLAB_BOT_USERNAME=@{expected}",
        )
    said = f"{settings.gitlab_url}: authenticated as @{username}"
    if settings.gitlab_redeliver_seconds > 0:
        said += "; " + await _redelivery(settings)
    return True, said


async def _redelivery(settings: Settings) -> str:
    """Whose lost deliveries the worker resends (app/forges/gitlab/hook_events.py)."""
    hooks = GitLabHookEvents.of_service(settings)
    try:
        count = await hooks.hooks_here()
    except ForgeError as exc:
        return f"cannot list the project hooks to resend lost deliveries ({exc})"
    finally:
        await hooks.aclose()
    if count == 0:
        bot = f"@{settings.gitlab_bot_username}" if settings.gitlab_bot_username else "the bot"
        return (
            f"no project hook to {hooks.hook_url} where {bot} is Maintainer: deliveries "
            "lost while AgentOps is down are resent by hand"
        )
    plural = "s" if count != 1 else ""
    return f"resends the lost deliveries of {count} project hook{plural} to {hooks.hook_url}"
