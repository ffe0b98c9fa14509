"""GitLab's parts that load its SDK, for its `ForgeSpec` (`spec.py`) to load on use."""

from __future__ import annotations

from app.forges.gitlab.doctor import check_token
from app.forges.gitlab.forge import GitLabForge
from app.forges.gitlab.signin import sign_in_for
from app.forges.gitlab.webhook import GitLabReceiver
from app.forges.spec import ForgeParts

PARTS = ForgeParts(
    connect=GitLabForge, receiver=GitLabReceiver, doctor=check_token, sign_in=sign_in_for
)
