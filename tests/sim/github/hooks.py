"""The GitHub App's webhook as GitHub runs it: deliveries sent to the hook URL, their log,
and redelivery (the endpoints are in `app_api.py`).

GitHub sends each event once and never again on its own: a delivery that failed (the
service down, a 5xx) stays failed until someone asks for a redelivery, which is a new
delivery with the same `guid` (`X-GitHub-Delivery`) and `redelivery: true`. The log lists
the newest first, paginated with an opaque `cursor` in the `Link` header.

    sim.hooks.url, sim.hooks.secret = f"{service}/webhooks/github", secret
    guid = sim.deliver("issue_comment", payload)   # POSTs it now; logged, failed or not
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx


def signed_request(
    event: str, payload: dict[str, Any], secret: str, delivery: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers GitHub would POST (signed with `X-Hub-Signature-256`)."""
    body = json.dumps(payload).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return body, {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": f"sha256={signature}",
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/sim",
    }


@dataclass
class HookDelivery:
    id: int
    guid: str
    event: str
    action: str | None
    payload: dict[str, Any]
    redelivery: bool
    delivered_at: float
    status_code: int  # 0: no answer (connection refused, timeout)
    duration: float

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "guid": self.guid,
            "delivered_at": datetime.fromtimestamp(self.delivered_at, UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            "redelivery": self.redelivery,
            "duration": round(self.duration, 3),
            "status": "OK" if 200 <= self.status_code < 300 else "Failed",
            "status_code": self.status_code,
            "event": self.event,
            "action": self.action,
            "installation_id": (self.payload.get("installation") or {}).get("id"),
            "repository_id": (self.payload.get("repository") or {}).get("id"),
            "throttled_at": None,
        }


class HookLog:
    def __init__(self) -> None:
        self.url: str | None = None
        self.secret = ""
        self.deliveries: list[HookDelivery] = []  # oldest first
        self.redelivery_requests: list[int] = []
        self._next_id = 1_000_000

    def send(
        self, event: str, payload: dict[str, Any], guid: str | None = None, redelivery: bool = False
    ) -> HookDelivery:
        """POST the event to the hook URL now and log the delivery, whatever happens."""
        guid = guid or str(uuid.uuid4())
        body, headers = signed_request(event, payload, self.secret, guid)
        started = time.time()
        try:
            if self.url is None:
                raise httpx.ConnectError("no hook URL")
            answer = httpx.post(self.url, content=body, timeout=10, headers=headers)
            status = answer.status_code
        except httpx.HTTPError:
            status = 0
        self._next_id += 1
        delivery = HookDelivery(
            self._next_id,
            guid,
            event,
            payload.get("action"),
            payload,
            redelivery,
            started,
            status,
            time.time() - started,
        )
        self.deliveries.append(delivery)
        return delivery

    def page(self, per_page: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        newest_first = list(reversed(self.deliveries))
        start = int(cursor) if cursor and cursor.isdigit() else 0
        chunk = newest_first[start : start + per_page]
        more = start + per_page < len(newest_first)
        return [d.as_json() for d in chunk], str(start + per_page) if more else None

    def redeliver(self, delivery_id: int) -> HookDelivery | None:
        self.redelivery_requests.append(delivery_id)
        found = next((d for d in self.deliveries if d.id == delivery_id), None)
        if found is None:
            return None
        return self.send(found.event, found.payload, found.guid, redelivery=True)
