"""`agentops doctor`'s GitLab line: does the token work, and for the expected user?"""

from __future__ import annotations

from app.config import Settings
from app.forges.base import ForgeError
from app.forges.gitlab.forge import GitLabForge


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
    return True, f"{settings.gitlab_url}: authenticated as @{username}"
