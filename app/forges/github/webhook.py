"""`POST /webhooks/github`: a delivery signed by the App's webhook secret, read by
`handlers/github.py`. The body is fed to the HMAC as it arrives; an unsigned delivery is
refused before its body is read."""

from __future__ import annotations

from app.config import Settings
from app.events import PayloadError
from app.web_service import Service
from app.webhook_endpoints import (
    DELIVERY_ID,
    EVENT_NAME,
    Answer,
    Delivery,
    accept,
    decode_json,
    receive_body,
)
from app.webhooks import SignatureError, github_mac, github_signature_digest, verify_github_mac
from handlers import github as github_handlers


class GitHubReceiver:
    def __init__(self, settings: Settings) -> None:
        secret = settings.github_webhook_secret
        # keyed once: each delivery's HMAC is a copy of this one
        self.mac = github_mac(secret.get_secret_value().encode()) if secret else None
        self.context = github_handlers.GitHubContext(
            settings.github_app_id,
            settings.github_bot_login,
            settings.labels,
            settings.repository_labels,
        )

    async def __call__(self, service: Service, delivery: Delivery) -> Answer:
        if self.mac is None:
            return Answer(404, "GitHub is not configured on this AgentOps")
        headers = delivery.headers
        try:  # an unsigned delivery is refused before its body is read
            digest = github_signature_digest(headers.get("x-hub-signature-256"))
        except SignatureError as exc:
            return Answer(401, f"unauthorized: {exc}")
        mac = self.mac.copy()
        body = await receive_body(service, delivery, mac)
        if isinstance(body, Answer):
            return body
        try:
            verify_github_mac(mac, digest)
        except SignatureError as exc:
            return Answer(401, f"unauthorized: {exc}")
        event_name = headers.get("x-github-event")
        delivery_id = headers.get("x-github-delivery")
        if not event_name or not delivery_id:
            return Answer(400, "missing X-GitHub-Event or X-GitHub-Delivery header")
        if not EVENT_NAME.fullmatch(event_name):
            return Answer(400, "bad X-GitHub-Event header: not an event name")
        if not DELIVERY_ID.fullmatch(delivery_id):
            return Answer(400, "bad X-GitHub-Delivery header: 1 to 200 visible ASCII characters")
        try:
            data = decode_json(body, headers.get("content-type", "application/json"))
            if event_name == "ping":
                return Answer(200, "pong")
            outcome = github_handlers.interpret_delivery(
                event_name, data, delivery_id, self.context
            )
        except PayloadError as exc:
            return Answer(400, f"bad payload: {exc}")
        return await accept(service, outcome, delivery_id, event_name)
