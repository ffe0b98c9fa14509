"""Fuzzing both webhook endpoints: no header or body may make a 5xx.

The apps run once per module on one event loop (real PostgreSQL and Redis), and each
hypothesis example is one request. Unsigned junk must be refused; correctly signed junk,
junk JSON and mutated real payloads for every handled event must end as 2xx or 4xx.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from app.config import Settings
from app.web import create_app
from app.webhooks import standard_webhook_signature
from tests.gitlab_tokens import token_for_payload

GH_SECRET = "fuzz-gh-secret"
GL_SECRET = "fuzz-gl-token"
GL_SIGNING = "whsec_" + base64.b64encode(b"fuzzing-key-of-32-bytes-length!!").decode()

GITHUB_EVENTS = [
    "issue_comment",
    "issues",
    "pull_request",
    "check_run",
    "installation",
    "installation_repositories",
    "ping",
]
GITLAB_EVENTS = ["Note Hook", "Issue Hook", "Merge Request Hook"]

FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass
class Harness:
    runner: asyncio.Runner
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    statuses: list[int] = field(default_factory=list)

    def post(self, app: str, path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> int:
        response = self.runner.run(self.clients[app].post(path, content=body, headers=headers))
        self.statuses.append(response.status_code)
        return response.status_code


@pytest.fixture(scope="module")
def harness(database_url: str, redis_url: str) -> Iterator[Harness]:
    queue = f"agentops:test:fuzz:{uuid.uuid4().hex[:10]}"
    common: dict[str, Any] = {
        "database_url": database_url,
        "redis_url": redis_url,
        "queue_name": queue,
        "github_app_id": 1,
        "github_app_slug": "agentops-fuzz",
        "github_private_key": "dummy",
        "github_webhook_secret": GH_SECRET,
        "github_api_url": "http://github.invalid",
        "gitlab_url": "http://gitlab.invalid",
        "gitlab_token": "t",
        "gitlab_webhook_secret": GL_SECRET,
        "max_body_bytes": 64 * 1024,
    }
    apps = {
        "plain": create_app(Settings(**common)),
        "signed": create_app(Settings(**common, gitlab_signing_token=SecretStr(GL_SIGNING))),
    }
    harness = Harness(asyncio.Runner())
    lifespans = []
    for name, app in apps.items():
        lifespan = app.router.lifespan_context(app)
        harness.runner.run(lifespan.__aenter__())
        lifespans.append(lifespan)
        harness.clients[name] = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test"
        )
    yield harness
    for client in harness.clients.values():
        harness.runner.run(client.aclose())
    for lifespan in lifespans:
        harness.runner.run(lifespan.__aexit__(None, None, None))
    harness.runner.run(_forget_jobs(redis_url, queue))
    harness.runner.close()


async def _forget_jobs(redis_url: str, queue: str) -> None:
    r = aioredis.Redis.from_url(redis_url)
    job_ids = [j.decode() for j in await r.zrange(queue, 0, -1)]
    await r.delete(queue, *(f"arq:job:{j}" for j in job_ids))
    await r.aclose()


# --- strategies --------------------------------------------------------------------------

TRICKY_TEXT = [
    "",
    " ",
    "/agentops implement",
    "/agentops fix \x00",
    "/agentops fix \ud800",
    "\ud800",
    "\x00",
    "²",
    "१२",
    "9" * 40,
    "-1",
    "a" * 300,
    "```\n/agentops plan",
    "agentops",
    "agentops:test",
    "Bot",
    "User",
    "create",
    "update",
    "Issue",
    "MergeRequest",
    "retry",
    "cancel",
    "agentops-fuzz[bot]",
]
TRICKY_INTS = [0, -1, 1, 2**31, 2**63, 2**64, 10**30, -(2**63) - 1]

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from(TRICKY_INTS)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(TRICKY_TEXT)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(
    st.sampled_from(
        [
            "action",
            "sender",
            "repository",
            "installation",
            "comment",
            "issue",
            "label",
            "check_run",
            "user",
            "project",
            "object_attributes",
            "changes",
        ]
    )
    | st.text(max_size=8),
    json_values,
    max_size=8,
)

USER = {"login": "alice", "type": "User"}
REPO = {"id": 9, "full_name": "fuzz/repo"}
TEMPLATES: dict[str, dict[str, Any]] = {
    "issue_comment": {
        "action": "created",
        "sender": USER,
        "repository": REPO,
        "installation": {"id": 5},
        "issue": {"number": 1, "pull_request": None},
        "comment": {
            "id": 1,
            "body": "/agentops implement",
            "user": USER,
            "performed_via_github_app": None,
        },
    },
    "issues": {
        "action": "labeled",
        "sender": USER,
        "repository": REPO,
        "installation": {"id": 5},
        "issue": {"number": 2},
        "label": {"name": "agentops"},
    },
    "pull_request": {
        "action": "labeled",
        "sender": USER,
        "repository": REPO,
        "installation": {"id": 5},
        "number": 3,
        "label": {"name": "agentops:test"},
    },
    "check_run": {
        "action": "rerequested",
        "sender": USER,
        "repository": REPO,
        "installation": {"id": 5},
        "check_run": {"id": 7, "head_sha": "0" * 40, "external_id": "1", "app": {"id": 1}},
        "requested_action": {"identifier": "retry"},
    },
    "installation": {
        "action": "created",
        "sender": USER,
        "installation": {"id": 5, "account": {"login": "fuzz"}},
    },
    "installation_repositories": {
        "action": "added",
        "sender": USER,
        "installation": {"id": 5, "account": {"login": "fuzz"}},
    },
    "ping": {"zen": "Design for failure.", "hook_id": 1},
    "Note Hook": {
        "object_kind": "note",
        "user": {"username": "alice", "id": 1},
        "project": {"id": 11, "path_with_namespace": "fuzz/project"},
        "object_attributes": {
            "id": 1,
            "note": "/agentops implement",
            "noteable_type": "Issue",
            "action": "create",
        },
        "issue": {"iid": 1},
        "merge_request": {"iid": 2},
    },
    "Issue Hook": {
        "object_kind": "issue",
        "user": {"username": "alice"},
        "project": {"id": 11, "path_with_namespace": "fuzz/project"},
        "object_attributes": {"iid": 4, "action": "update"},
        "changes": {"labels": {"previous": [], "current": [{"title": "agentops"}]}},
    },
    "Merge Request Hook": {
        "object_kind": "merge_request",
        "user": {"username": "alice"},
        "project": {"id": 11, "path_with_namespace": "fuzz/project"},
        "object_attributes": {"iid": 5, "action": "update"},
        "changes": {"labels": {"previous": [], "current": [{"title": "agentops:test"}]}},
    },
}


@st.composite
def mutated(draw: st.DrawFn, template: Any) -> Any:
    """The template with some values replaced by junk, some keys dropped, ids varied."""

    def walk(value: Any) -> Any:
        if draw(st.integers(0, 20)) == 20:  # hypothesis favours 0: make that "keep"
            return draw(json_values)
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items() if draw(st.integers(0, 25)) != 25}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int):
            return draw(st.just(value) | st.integers(1, 10**9) | st.sampled_from(TRICKY_INTS))
        if isinstance(value, str):
            return draw(st.just(value) | st.text(max_size=30) | st.sampled_from(TRICKY_TEXT))
        return value

    return walk(template)


def nested_junk(depth: int, opener: bytes) -> bytes:
    closer = {b"[": b"]", b'{"a":': b"}"}[opener]
    return opener * depth + b"0" + closer * depth


bodies = (
    st.binary(max_size=300)
    | json_values.map(lambda v: json.dumps(v).encode())
    | json_objects.map(lambda v: json.dumps(v).encode())
    | st.builds(nested_junk, st.integers(1, 60_000), st.sampled_from([b"[", b'{"a":']))
    | st.sampled_from(
        [
            b"",
            b"{",
            b"null",
            b"[]",
            b"\xff\xfe{}",
            b'{"a": 1e999999}',
            b'{"a": ' + b"1" * 5000 + b"}",
            b'{"a": NaN}',
            b"payload=%7B%7D",
        ]
    )
)

HEADER_NAMES = [
    b"content-type",
    b"content-length",
    b"x-github-event",
    b"x-github-delivery",
    b"x-hub-signature-256",
    b"x-hub-signature",
    b"x-gitlab-event",
    b"x-gitlab-token",
    b"idempotency-key",
    b"webhook-id",
    b"webhook-timestamp",
    b"webhook-signature",
    b"transfer-encoding",
]
header_names = st.sampled_from(HEADER_NAMES) | st.binary(min_size=1, max_size=12).filter(
    lambda b: all(33 <= c < 127 and c != ord(":") for c in b)
)
header_values = st.binary(max_size=60).filter(
    lambda b: not any(c in b for c in b"\r\n\x00")
) | st.sampled_from(
    [
        b"application/json",
        b"application/x-www-form-urlencoded",
        b"sha256=",
        b"sha1=abc",
        b"v1,abc",
        b"1",
        b"\xb2",
        b"99999999999999999999",
        b"-5",
        b" 12 ",
        b"Note Hook",
        b"issue_comment",
        GL_SECRET.encode(),
    ]
)
random_headers = st.lists(st.tuples(header_names, header_values), max_size=8)


def github_headers(event: str, body: bytes, signed: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-github-event", event.encode("latin-1", "replace")),
        (b"x-github-delivery", uuid.uuid4().hex.encode()),
        (b"content-type", b"application/json"),
    ]
    if signed:
        digest = hmac.new(GH_SECRET.encode(), body, hashlib.sha256).hexdigest()
        headers.append((b"x-hub-signature-256", f"sha256={digest}".encode()))
    return headers


def gitlab_headers(event: str, body: bytes, standard_webhooks: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"x-gitlab-event", event.encode("latin-1", "replace")),
        (b"x-gitlab-token", token_for_payload(GL_SECRET, body, "fuzz/project").encode()),
        (b"content-type", b"application/json"),
    ]
    if standard_webhooks:
        msg_id, ts = f"msg_{uuid.uuid4().hex}", str(int(time.time()))
        signature = standard_webhook_signature(GL_SIGNING, msg_id, ts, body)
        headers += [
            (b"webhook-id", msg_id.encode()),
            (b"webhook-timestamp", ts.encode()),
            (b"webhook-signature", signature.encode()),
        ]
    return headers


github_events = st.sampled_from(GITHUB_EVENTS) | st.text(max_size=20)
gitlab_events = st.sampled_from(GITLAB_EVENTS) | st.text(max_size=20)
PATHS = ["/webhooks/github", "/webhooks/gitlab"]


# --- tests -------------------------------------------------------------------------------


def test_unsigned_junk_never_fails_the_server(harness: Harness) -> None:
    @FUZZ
    @given(
        path=st.sampled_from(PATHS),
        app=st.sampled_from(["plain", "signed"]),
        body=bodies,
        headers=random_headers,
    )
    def check(path: str, app: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
        status = harness.post(app, path, body, headers)
        assert status < 500
        assert status in (400, 401, 413)  # nothing unsigned gets through

    harness.statuses.clear()
    check()
    assert 401 in harness.statuses


def test_signed_junk_for_every_github_event_never_fails(harness: Harness) -> None:
    @FUZZ
    @given(event=github_events, body=bodies, extra=random_headers)
    def check(event: str, body: bytes, extra: list[tuple[bytes, bytes]]) -> None:
        headers = github_headers(event, body, signed=True)
        names = {name for name, _ in headers} | {b"x-hub-signature-256"}
        headers += [(n, v) for n, v in extra if n.lower() not in names]
        assert harness.post("plain", "/webhooks/github", body, headers) < 500

    harness.statuses.clear()
    check()
    assert 400 in harness.statuses


def test_signed_mutated_github_payloads_never_fail(harness: Harness) -> None:
    # the same 60 examples each run: the coverage check below failed once in ~20 runs
    @settings(parent=FUZZ, derandomize=True)
    @given(data=st.data(), event=st.sampled_from(GITHUB_EVENTS))
    def check(data: st.DataObject, event: str) -> None:
        payload = data.draw(mutated(TEMPLATES[event]))
        body = json.dumps(payload).encode()
        assert (
            harness.post(
                "plain", "/webhooks/github", body, github_headers(event, body, signed=True)
            )
            < 500
        )

    harness.statuses.clear()
    check()
    # the mutations reach every layer: refusals, ignores and stored runs
    assert {200, 202, 400} <= set(harness.statuses), sorted(set(harness.statuses))


def test_gitlab_junk_with_the_right_token_never_fails(harness: Harness) -> None:
    @FUZZ
    @given(
        event=gitlab_events,
        body=bodies,
        extra=random_headers,
        app=st.sampled_from(["plain", "signed"]),
    )
    def check(event: str, body: bytes, extra: list[tuple[bytes, bytes]], app: str) -> None:
        headers = gitlab_headers(event, body, standard_webhooks=app == "signed")
        names = {name for name, _ in headers}
        headers += [(n, v) for n, v in extra if n.lower() not in names]
        assert harness.post(app, "/webhooks/gitlab", body, headers) < 500

    harness.statuses.clear()
    check()
    assert 400 in harness.statuses


def test_mutated_gitlab_payloads_never_fail(harness: Harness) -> None:
    @FUZZ
    @given(
        data=st.data(),
        event=st.sampled_from(GITLAB_EVENTS),
        app=st.sampled_from(["plain", "signed"]),
    )
    def check(data: st.DataObject, event: str, app: str) -> None:
        payload = data.draw(mutated(TEMPLATES[event]))
        body = json.dumps(payload).encode()
        headers = gitlab_headers(event, body, standard_webhooks=app == "signed")
        assert harness.post(app, "/webhooks/gitlab", body, headers) < 500

    harness.statuses.clear()
    check()
    assert {200, 202, 400} <= set(harness.statuses), sorted(set(harness.statuses))


def test_standard_webhooks_headers_fuzzed_never_fail(harness: Harness) -> None:
    sw_values = header_values | st.text(max_size=40).map(lambda t: t.encode("utf-8"))

    @FUZZ
    @given(body=bodies, webhook_id=sw_values, timestamp=sw_values, signature=sw_values)
    def check(body: bytes, webhook_id: bytes, timestamp: bytes, signature: bytes) -> None:
        headers = [
            (b"x-gitlab-event", b"Note Hook"),
            (b"x-gitlab-token", GL_SECRET.encode()),
            (b"webhook-id", webhook_id),
            (b"webhook-timestamp", timestamp),
            (b"webhook-signature", signature),
        ]
        headers = [(n, v) for n, v in headers if not any(c in v for c in b"\r\n\x00")]
        assert harness.post("signed", "/webhooks/gitlab", body, headers) in (401, 413)

    check()
