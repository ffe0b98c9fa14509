"""`POST /webhooks/github` and `POST /webhooks/gitlab`, as plain ASGI.

The one hot path of the web process, so it skips Starlette's request and response objects
and its routing: headers are read once from the scope, the body is read from `receive`
(authenticated while it streams), and the answer is one short text. Everything else of the
web process is Starlette routes (`app/web.py`); this sits in front of them as middleware.
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

from starlette.types import ASGIApp, Receive, Scope, Send

from app.events import PayloadError
from app.security_headers import SECURITY_HEADERS
from app.store import DATABASE_ERRORS, UNSTORABLE_VALUE_ERRORS
from app.web_service import Receiving, Service
from app.webhooks import (
    SignatureError,
    github_signature_digest,
    gitlab_delivery_id,
    verify_github_mac,
    verify_gitlab_project_token,
    verify_gitlab_token_shape,
    verify_standard_webhook,
)
from handlers import github as github_handlers
from handlers import gitlab as gitlab_handlers

log = logging.getLogger(__name__)

# The same security headers as every other answer of the web process (one rule to audit).
_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    *((name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()),
]
_EVENT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_ .-]{0,63}")
_DELIVERY_ID = re.compile(r"[\x21-\x7e]{1,200}")


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
        self.handlers: dict[str, tuple[str, Handler]] = {
            "/webhooks/github": ("github", _github_webhook),
            "/webhooks/gitlab": ("gitlab", _gitlab_webhook),
        }

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
        headers: dict[str, str] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
        deadline = asyncio.get_running_loop().time() + service.settings.intake_budget_seconds
        answer = await _within_budget(service, Delivery(headers, receive, deadline), handle)
        await _send(send, answer)
        service.metrics.observe_webhook(forge, str(answer.status), time.perf_counter() - started)


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
    try:
        async with asyncio.timeout_at(delivery.deadline):
            return await handle(service, delivery)
    except TimeoutError:
        if not delivery.body_read:
            log.warning("webhook body not received within the intake budget")
            return Answer(408, "the body did not arrive in time")
        log.warning("delivery not stored within the intake budget: answered 503")
        return _busy("not stored in time")
    except ClientGone:
        log.info("webhook client went away before sending its whole body")
        return Answer(400, "the client went away")
    finally:
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


async def _body(
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


async def _github_webhook(service: Service, delivery: Delivery) -> Answer:
    if service.github_mac is None:
        return Answer(404, "GitHub is not configured on this AgentOps")
    headers = delivery.headers
    try:  # an unsigned delivery is refused before its body is read
        digest = github_signature_digest(headers.get("x-hub-signature-256"))
    except SignatureError as exc:
        return Answer(401, f"unauthorized: {exc}")
    mac = service.github_mac.copy()
    body = await _body(service, delivery, mac)
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
    if not _EVENT_NAME.fullmatch(event_name):
        return Answer(400, "bad X-GitHub-Event header: not an event name")
    if not _DELIVERY_ID.fullmatch(delivery_id):
        return Answer(400, "bad X-GitHub-Delivery header: 1 to 200 visible ASCII characters")
    try:
        data = decode_json(body, headers.get("content-type", "application/json"))
        if event_name == "ping":
            return Answer(200, "pong")
        outcome = github_handlers.interpret_delivery(event_name, data, delivery_id, service.github)
    except PayloadError as exc:
        return Answer(400, f"bad payload: {exc}")
    return await _accept(service, outcome, delivery_id, event_name)


async def _gitlab_webhook(service: Service, delivery: Delivery) -> Answer:
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
    body = await _body(service, delivery)
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
    if not _EVENT_NAME.fullmatch(event_name):
        return Answer(400, "bad X-Gitlab-Event header: not an event name")
    delivery_id = gitlab_delivery_id(headers, body)
    try:
        outcome = gitlab_handlers.interpret(event_name, data, delivery_id, service.gitlab)
    except PayloadError as exc:
        return Answer(400, f"bad payload: {exc}")
    return await _accept(service, outcome, delivery_id, event_name)


async def _accept(service: Service, outcome: Any, delivery_id: str, event: str) -> Answer:
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
