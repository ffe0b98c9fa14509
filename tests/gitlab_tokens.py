"""The `X-Gitlab-Token` a GitLab project's hook sends: derived from the operator's secret by
the app's own function, as `agentops gitlab-secret PATH` prints it."""

from __future__ import annotations

import json
from typing import Any

from app.webhooks import gitlab_webhook_secret


def project_token(operator_secret: str, project_path: str) -> str:
    return gitlab_webhook_secret(operator_secret, project_path)


def group_token(operator_secret: str, group_path: str) -> str:
    return gitlab_webhook_secret(operator_secret, group_path, group=True)


def token_for_payload(operator_secret: str, payload: Any, default_path: str) -> str:
    """The token of the project a payload (a dict, or a JSON body) names."""
    if isinstance(payload, bytes | str):
        try:
            payload = json.loads(payload)
        except (ValueError, UnicodeDecodeError, RecursionError):
            payload = None
    project = payload.get("project") if isinstance(payload, dict) else None
    path = project.get("path_with_namespace") if isinstance(project, dict) else None
    return project_token(operator_secret, path if isinstance(path, str) else default_path)
