"""`POST /webhooks/gitlab`: a delivery carrying its project's own hook token (derived
from `AGENTOPS_GITLAB_WEBHOOK_SECRET`, see `app/webhooks.py`) and, when configured, a
signature; read by `handlers/gitlab.py`."""

from __future__ import annotations

import logging
import time

from app.config import Settings
from app.events import PayloadError
from app.web_service import Service
from app.webhook_endpoints import EVENT_NAME, Answer, Delivery, accept, decode_json, receive_body
from app.webhooks import (
    SignatureError,
    gitlab_delivery_id,
    verify_gitlab_project_token,
    verify_gitlab_token_shape,
    verify_standard_webhook,
)
from handlers import gitlab as gitlab_handlers

log = logging.getLogger(__name__)


class GitLabReceiver:
    def __init__(self, settings: Settings) -> None:
        self.context = gitlab_handlers.GitLabContext(
            settings.gitlab_url or "",
            settings.gitlab_bot_username,
            settings.labels,
            settings.repository_labels,
        )

    async def __call__(self, service: Service, delivery: Delivery) -> Answer:
        settings = service.settings
        if settings.gitlab_webhook_secret is None:
            return Answer(404, "GitLab is not configured on this AgentOps")
        headers = delivery.headers
        try:  # what the headers alone can refuse is refused before the body is read
            verify_gitlab_token_shape(
                headers.get("x-gitlab-token"),
                accept_shared_secret=settings.gitlab_accept_shared_secret,
            )
        except SignatureError as exc:
            return Answer(401, f"unauthorized: {exc}")
        body = await receive_body(service, delivery)
        if isinstance(body, Answer):
            return body
        try:
            if settings.gitlab_signing_token is not None:
                verify_standard_webhook(
                    settings.gitlab_signing_token.get_secret_value(), headers, body, time.time()
                )
        except SignatureError as exc:
            return Answer(401, f"unauthorized: {exc}")
        try:  # the token belongs to the project the payload names: read it to know which
            data = decode_json(body, headers.get("content-type", "application/json"))
        except PayloadError as exc:
            return Answer(400, f"bad payload: {exc}")
        try:
            matched = verify_gitlab_project_token(
                settings.gitlab_webhook_secret.get_secret_value(),
                gitlab_handlers.project_path(data),
                headers.get("x-gitlab-token"),
                accept_shared_secret=settings.gitlab_accept_shared_secret,
            )
        except SignatureError as exc:
            return Answer(401, f"unauthorized: {exc}")
        if matched == "shared secret":
            log.warning(
                "GitLab delivery for %s accepted with the shared AGENTOPS_GITLAB_WEBHOOK_SECRET"
                " (AGENTOPS_GITLAB_ACCEPT_SHARED_SECRET is on): any project's maintainer can"
                " forge it; give the hook its own token (`agentops gitlab-secret PATH`)",
                gitlab_handlers.project_path(data),
            )
        event_name = headers.get("x-gitlab-event")
        if not event_name:
            return Answer(400, "missing X-Gitlab-Event header")
        if not EVENT_NAME.fullmatch(event_name):
            return Answer(400, "bad X-Gitlab-Event header: not an event name")
        delivery_id = gitlab_delivery_id(headers, body)
        try:
            outcome = gitlab_handlers.interpret(event_name, data, delivery_id, self.context)
        except PayloadError as exc:
            return Answer(400, f"bad payload: {exc}")
        return await accept(service, outcome, delivery_id, event_name)
