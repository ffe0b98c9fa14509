"""`agentops doctor`'s forge lines: can we authenticate to each configured forge?"""

from __future__ import annotations

from app.config import Settings
from app.forges.registry import FORGES


async def check_forges(settings: Settings) -> list[tuple[str, bool | None, str]]:
    """One (kind, ok, message) per configured forge; when none is configured, one
    informational line (ok None: not a failure, nothing was checked) saying how to add one."""
    results: list[tuple[str, bool | None, str]] = []
    for spec in FORGES:
        if spec.enabled(settings):
            ok, message = await spec.doctor(settings)
            results.append((spec.kind, ok, message))
    if not results:
        ways = "; or ".join(spec.how_to_enable for spec in FORGES)
        results.append(("none", None, f"no forge configured: {ways}"))
    return results
