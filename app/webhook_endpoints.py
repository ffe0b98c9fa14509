"""`POST /webhooks/<forge>` for each forge of the registry, as plain ASGI.

The one hot path of the web process, so it skips Starlette's request and response objects
and its routing: headers are read once from the scope, the body is read from `receive`
(authenticated while it streams), and the answer is one short text. Everything else of the
web process is Starlette routes (`app/web.py`); this sits in front of them as middleware.
What is the same for every forge (the body, the budget, storing) is here; verifying and
reading one forge's deliveries is its receiver's (`app/forges/<kind>/webhook.py`).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import pydantic_core
from starlette.types import ASGIApp, Receive, Scope, Send

from app import tracing
from app.events import PayloadError
from app.metrics.intake import observe_webhook
from app.security_headers import SECURITY_HEADERS
from app.store import DATABASE_ERRORS, UNSTORABLE_VALUE_ERRORS
from app.web_service import Receiving, Service

log = logging.getLogger(__name__)

# The same security headers as every other answer of the web process (one rule to audit).
_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    *((name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()),
]
EVENT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_ .-]{0,63}")
DELIVERY_ID = re.compile(r"[\x21-\x7e]{1,200}")


class BodyTooLarge(Exception):
    pass


class TooMuchAtOnce(Exception):
    pass


class ClientGone(Exception):
    pass


@dataclass(frozen=True)
class Answer:
    status: int
    text: str
    headers: tuple[tuple[bytes, bytes], ...] = ()


@dataclass
class Delivery:
    """One webhook request: its headers (lower-case names, the first of each) and body."""

    headers: dict[str, str]
    receive: Receive
    deadline: float
    body_read: bool = field(default=False)


Handler = Callable[[Service, Delivery], Awaitable[Answer]]


class WebhookEndpoints:
    """ASGI middleware answering the webhook paths itself; any other request goes on."""

    def __init__(self, app: ASGIApp, service: Service) -> None:
        self.app = app
        self.service = service
        self.handlers = service.webhook_receivers  # path -> (forge kind, receiver)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.handlers.get(scope["path"]) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            await _send(send, Answer(405, "method not allowed", ((b"allow", b"POST"),)))
            return
        forge, handle = route
        service = self.service
        started = time.perf_counter()
        # the first of each name wins: the last to be written, in reverse
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in reversed(scope["headers"])
        }
        deadline = asyncio.get_running_loop().time() + service.settings.intake_budget_seconds
        with tracing.webhook_span(forge) as span:
            answer = await _within_budget(service, Delivery(headers, receive, deadline), handle)
            span.set("http.response.status_code", answer.status)
        await _send(send, answer)
        observe_webhook(forge, answer.status, time.perf_counter() - started)


async def _send(send: Send, answer: Answer) -> None:
    # reasons may quote the payload, whose JSON strings can hold lone surrogates
    body = (answer.text + "\n").encode("utf-8", "backslashreplace")
    headers = [*_HEADERS, (b"content-length", str(len(body)).encode()), *answer.headers]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _busy(reason: str) -> Answer:
    return Answer(
        503,
        f"busy: {reason}; the delivery was not stored, send it again",
        ((b"retry-after", b"5"),),
    )


async def _within_budget(service: Service, delivery: Delivery, handle: Handler) -> Answer:
    """Answer within the intake budget: a body that does not arrive in it is a 408, a
    delivery not stored in it a 503 (the forge sends it again; if it was stored after
    all, the second one is a duplicate); too many deliveries at once are shed at once."""
    if service.pending >= service.settings.intake_max_pending:
        return _busy("too many deliveries at once")
    service.pending += 1
    task: asyncio.Task[Any] = asyncio.current_task()  # type: ignore[assignment]
    service.budget_watch.enter(task, delivery.deadline)
    try:
        return await handle(service, delivery)
    except asyncio.CancelledError:
        if not service.budget_watch.leave(task):  # not the budget's: someone else's
            raise
        if not delivery.body_read:
            log.warning("webhook body not received within the intake budget")
            return Answer(408, "the body did not arrive in time")
        log.warning("delivery not stored within the intake budget: answered 503")
        return _busy("not stored in time")
    except ClientGone:
        log.info("webhook client went away before sending its whole body")
        return Answer(400, "the client went away")
    finally:
        service.budget_watch.leave(task)
        service.pending -= 1


async def read_body(
    delivery: Delivery,
    limit: int,
    mac: hmac.HMAC | None = None,
    receiving: Receiving | None = None,
) -> bytearray:
    """The whole body, refusing (without buffering it all) anything over `limit` bytes;
    `mac` is fed each piece as it arrives."""
    declared = delivery.headers.get("content-length")
    if declared and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    body = bytearray()
    try:
        while True:
            message = await delivery.receive()
            if message["type"] == "http.disconnect":
                raise ClientGone
            chunk: bytes = message.get("body", b"")
            if len(body) + len(chunk) > limit:
                raise BodyTooLarge
            if receiving is not None:
                if receiving.held + len(chunk) > receiving.limit:
                    raise TooMuchAtOnce
                receiving.held += len(chunk)
            body += chunk
            if mac is not None:
                mac.update(chunk)
            if not message.get("more_body", False):
                return body
    finally:
        if receiving is not None:
            receiving.held -= len(body)


async def receive_body(
    service: Service, delivery: Delivery, mac: hmac.HMAC | None = None
) -> bytearray | Answer:
    """The delivery's body, or the answer refusing it (too large, too much at once)."""
    try:
        body = await read_body(delivery, service.settings.max_body_bytes, mac, service.receiving)
    except BodyTooLarge:
        return Answer(413, "body too large")
    except TooMuchAtOnce:
        return _busy("too much being received at once")
    delivery.body_read = True  # from here, running out of time is "not stored"
    return body


def decode_json(body: bytes | bytearray, content_type: str) -> Any:
    """Parse a webhook body; `PayloadError` with the reason when it is not usable."""
    if content_type.startswith("application/json"):
        # pydantic's parser: half the time of `json` on a delivery. It refuses a few bodies
        # `json` reads (a lone surrogate escape): those, and any it refuses, take the path
        # below, which decides and says why.
        try:
            data = pydantic_core.from_json(body)
        except ValueError:
            pass
        else:
            if isinstance(data, dict):
                return data
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("body is not UTF-8") from None
    if content_type.startswith("application/x-www-form-urlencoded"):
        form = parse_qs(text)
        if "payload" not in form:
            raise PayloadError("form body has no payload field")
        text = form["payload"][0]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"body is not valid JSON ({exc.msg} at {exc.pos})") from None
    except RecursionError:
        raise PayloadError("body is not valid JSON (nested too deeply)") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise PayloadError(f"body is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise PayloadError("payload must be a JSON object")
    return data


async def accept(service: Service, outcome: Any, delivery_id: str, event: str) -> Answer:
    tracing.delivery_received(delivery_id)
    try:
        result = await service.intake.accept(outcome, delivery_id, event)
    except DATABASE_ERRORS as exc:
        if isinstance(exc, UNSTORABLE_VALUE_ERRORS):  # server or client-side value
            log.warning(
                "delivery %s not stored, a value cannot be stored: %s",
                delivery_id,
                type(exc).__name__,
            )
            return Answer(
                400,
                "bad payload: a value in it cannot be stored"
                " (a number out of range or a NUL or invalid character)",
            )
        log.error(
            "delivery %s not stored, database unavailable: %s", delivery_id, type(exc).__name__
        )
        return Answer(503, "database unavailable: the delivery was not stored, send it again")
    return Answer(result.status_code, result.text)
