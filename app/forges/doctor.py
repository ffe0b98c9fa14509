"""`agentops doctor`'s forge lines: can we authenticate to each configured forge?"""

from __future__ import annotations

from app.config import Settings
from app.forges.base import ForgeError


async def check_forges(settings: Settings) -> list[tuple[str, bool | None, str]]:
    """One (name, ok, message) per configured forge; when none is configured, one
    informational line (ok None: not a failure, nothing was checked) saying how to add one."""
    results: list[tuple[str, bool | None, str]] = []
    if settings.github_enabled:
        results.append(await _check_github(settings))
    if settings.gitlab_enabled:
        results.append(await _check_gitlab(settings))
    if not results:
        results.append(
            (
                "none",
                None,
                "no forge configured: set AGENTOPS_GITHUB_APP_ID or "
                "AGENTOPS_GITLAB_URL (or open / for the GitHub App setup)",
            )
        )
    return results


async def _check_github(settings: Settings) -> tuple[str, bool, str]:
    from app.forges.github_auth import GitHubApp

    try:
        app = GitHubApp.from_settings(settings)
    except (ForgeError, OSError, ValueError) as exc:
        return ("github", False, f"cannot load the App's private key: {exc}")
    try:
        data = await app.get_app()
    except ForgeError as exc:
        return ("github", False, f"{settings.github_api_url}: {exc}")
    finally:
        await app.aclose()
    slug = data.get("slug", "?")
    return ("github", True, f"{settings.github_api_url}: authenticated as App '{slug}'")


async def _check_gitlab(settings: Settings) -> tuple[str, bool, str]:
    from app.forges.gitlab import GitLabForge

    try:
        # No configured user name, so that the token itself is checked (`GET /user`).
        forge = GitLabForge(settings.model_copy(update={"gitlab_bot_username": None}))
        username = await forge.current_username()
    except ForgeError as exc:
        return ("gitlab", False, f"{settings.gitlab_url}: {exc}")
    expected = settings.gitlab_bot_username
    if expected and expected != username:
        return (
            "gitlab",
            False,
            f"{settings.gitlab_url}: the token belongs to @{username}, "
            f"not AGENTOPS_GITLAB_BOT_USERNAME=@{expected}",
        )
    return ("gitlab", True, f"{settings.gitlab_url}: authenticated as @{username}")
