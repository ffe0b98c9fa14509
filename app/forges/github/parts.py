"""GitHub's parts that load its SDK, for its `ForgeSpec` (`spec.py`) to load on use."""

from __future__ import annotations

from app.forges.github.auth import GitHubApp
from app.forges.github.doctor import check_app
from app.forges.github.signin import sign_in_for
from app.forges.github.webhook import GitHubReceiver
from app.forges.spec import ForgeParts

PARTS = ForgeParts(
    connect=GitHubApp.from_settings, receiver=GitHubReceiver, doctor=check_app, sign_in=sign_in_for
)
