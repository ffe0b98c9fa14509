"""`agentops doctor`'s GitHub line: can the App authenticate?"""

from __future__ import annotations

from app.config import Settings
from app.forges.base import ForgeError
from app.forges.github.auth import GitHubApp


async def check_app(settings: Settings) -> tuple[bool, str]:
    try:
        app = GitHubApp.from_settings(settings)
    except (ForgeError, OSError, ValueError) as exc:
        return False, f"cannot load the App's private key: {exc}"
    try:
        data = await app.get_app()
    except ForgeError as exc:
        return False, f"{settings.github_api_url}: {exc}"
    finally:
        await app.aclose()
    slug = data.get("slug", "?")
    return True, f"{settings.github_api_url}: authenticated as App '{slug}'"
