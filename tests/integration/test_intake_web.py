"""The webhook endpoints on real PostgreSQL and Redis: verification, refusals, durable
runs, duplicates, outages, health and the admin API."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
import respx
from arq.connections import RedisSettings, create_pool
from arq.jobs import Job
from prometheus_client.parser import text_string_to_metric_families

from app.config import Settings
from app.llm.cooldowns import CooldownPolicy, RedisCooldowns
from app.queue import job_id_for_run
from app.store import Database
from app.web import create_app
from app.webhooks import standard_webhook_signature
from tests.gitlab_tokens import project_token, token_for_payload
from tests.sim.github.state import repo_id_of

GH_SECRET = "gh-webhook-secret"
GL_SECRET = "gl-secret-token"
GL_SIGNING = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
CLOSED_REDIS = "redis://127.0.0.1:1/0"
CLOSED_PG = "postgresql://postgres@127.0.0.1:1/agentops"

MakeSettings = Callable[..., Settings]


@pytest.fixture
def make_settings(database_url: str, redis_url: str, queue_name: str) -> MakeSettings:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "redis_url": redis_url,
            "queue_name": queue_name,
            "github_app_id": 1,
            "github_app_slug": "agentops-test",
            "github_private_key": "dummy",
            "github_webhook_secret": GH_SECRET,
            "github_api_url": "http://github.invalid",
            "gitlab_url": "http://gitlab.invalid",
            "gitlab_token": "t",
            "gitlab_webhook_secret": GL_SECRET,
            "gitlab_bot_username": "agentops-bot",
            "admin_token": "admin-token",
        }
        values.update(overrides)
        return Settings(**values)

    return make


@asynccontextmanager
async def serve(
    settings: Settings, client: tuple[str, int] = ("127.0.0.1", 123)
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as asgi:
            yield asgi


@pytest.fixture
async def client(make_settings: MakeSettings) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(make_settings()) as c:
        yield c


@pytest.fixture(autouse=True)
async def redis_client(redis_url: str, queue_name: str) -> AsyncIterator[aioredis.Redis]:
    """Redis as the test sees it; afterwards the jobs this test queued are removed (only
    those: job ids come from run ids, which other sessions' databases repeat)."""
    r = aioredis.Redis.from_url(redis_url)
    yield r
    job_ids = [j.decode() for j in await r.zrange(queue_name, 0, -1)]
    await r.delete(queue_name, *(f"arq:job:{j}" for j in job_ids))
    await r.aclose()


# a signature and a token of the right shape: the body is read, then they are checked
SHAPED_AUTH = {"X-Gitlab-Token": "glwh_" + "t" * 43, "X-Hub-Signature-256": "sha256=" + "0" * 64}


def uid() -> str:
    return uuid.uuid4().hex[:12]


# --- payloads ----------------------------------------------------------------------------


def comment_payload(
    body: str = "/agentops implement",
    *,
    comment_id: int | None = None,
    installation_id: int | None = None,
    sender: dict[str, Any] | None = None,
    repo: str = "octo/widgets",
) -> dict[str, Any]:
    return {
        "action": "created",
        "sender": sender or {"login": "alice", "type": "User"},
        "repository": {"id": repo_id_of(repo), "full_name": repo},
        "installation": {"id": installation_id or int(uuid.uuid4().int % 10**9)},
        "issue": {"number": 12},
        "comment": {
            "id": comment_id or int(uuid.uuid4().int % 10**12),
            "body": body,
            "user": {"login": "alice", "type": "User"},
        },
    }


def note_payload(
    body: str = "/agentops implement",
    note_id: int | None = None,
    project_id: int | None = None,
    action: str = "create",
) -> dict[str, Any]:
    return {
        "object_kind": "note",
        "user": {"id": 1, "username": "alice"},
        "project": {
            "id": project_id or int(uuid.uuid4().int % 10**9),
            "path_with_namespace": "team/app",
        },
        "object_attributes": {
            "id": note_id or int(uuid.uuid4().int % 10**12),
            "note": body,
            "noteable_type": "Issue",
            "action": action,
        },
        "issue": {"iid": 3},
    }


def gh_sign(body: bytes, secret: str = GH_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


async def post_github(
    client: httpx.AsyncClient,
    event: str,
    data: Any = None,
    *,
    body: bytes | None = None,
    delivery: str | None = None,
    headers: Mapping[str, str | None] | None = None,  # None: the header is left out
) -> httpx.Response:
    raw = body if body is not None else json.dumps(data).encode()
    sent: dict[str, str | None] = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or uid(),
        "X-Hub-Signature-256": gh_sign(raw),
        "Content-Type": "application/json",
    }
    sent.update(headers or {})
    return await client.post(
        "/webhooks/github", content=raw, headers={k: v for k, v in sent.items() if v is not None}
    )


async def post_gitlab(
    client: httpx.AsyncClient,
    event: str,
    data: Any = None,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str | None] | None = None,  # None: the header is left out
) -> httpx.Response:
    raw = body if body is not None else json.dumps(data).encode()
    sent: dict[str, str | None] = {
        "X-Gitlab-Event": event,
        "X-Gitlab-Token": token_for_payload(GL_SECRET, raw, "team/app"),
        "Idempotency-Key": uid(),
        "Content-Type": "application/json",
    }
    sent.update(headers or {})
    return await client.post(
        "/webhooks/gitlab", content=raw, headers={k: v for k, v in sent.items() if v is not None}
    )


def run_id_of(response: httpx.Response) -> int:
    assert response.status_code == 202, response.text
    assert response.text.startswith("accepted: run ")
    return int(response.text.split()[-1])


async def count(db: Database, sql: str, *args: Any) -> int:
    async with db.admin() as conn:
        return int(await conn.fetchval(sql, *args))


async def enqueued(redis: aioredis.Redis, queue_name: str, run_id: int) -> None:
    """The job follows the answer within moments: wait for it in the queue."""
    for _ in range(100):
        if await redis.zscore(queue_name, job_id_for_run(queue_name, run_id)) is not None:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"run {run_id} was not enqueued within 2 s")


# --- GitHub signatures and headers -------------------------------------------------------


async def test_signed_comment_is_accepted_stored_and_enqueued(
    client: httpx.AsyncClient,
    db: Database,
    redis_client: aioredis.Redis,
    queue_name: str,
    redis_url: str,
) -> None:
    delivery = uid()
    with respx.mock(assert_all_mocked=False, assert_all_called=False) as outbound:
        anything = outbound.route().mock(return_value=httpx.Response(500))
        response = await post_github(
            client,
            "issue_comment",
            comment_payload("/agentops plan short please"),
            delivery=delivery,
        )
    assert not anything.called  # no forge or LLM call on the intake path
    run_id = run_id_of(response)
    async with db.admin() as conn:
        run = await conn.fetchrow("SELECT * FROM runs WHERE id = $1", run_id)
        stored = await conn.fetchrow("SELECT * FROM deliveries WHERE delivery_id = $1", delivery)
    assert run is not None and stored is not None
    assert (run["status"], run["command"], run["args"], run["repo"], run["target_number"]) == (
        "queued",
        "plan",
        "short please",
        "octo/widgets",
        12,
    )
    await enqueued(redis_client, queue_name, run_id)
    assert (stored["run_id"], stored["event"], stored["forge"]) == (
        run_id,
        "issue_comment",
        "github",
    )
    assert await redis_client.exists(f"arq:job:{job_id_for_run(queue_name, run_id)}") == 1
    assert await redis_client.zscore(queue_name, job_id_for_run(queue_name, run_id)) is not None
    arq_redis = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        job = Job(job_id_for_run(queue_name, run_id), arq_redis, _queue_name=queue_name)
        info = await job.info()
    finally:
        await arq_redis.aclose()
    assert info is not None
    assert (info.function, info.args) == ("run_workflow", (run_id,))


async def test_github_documented_vector_passes_the_endpoint(make_settings: MakeSettings) -> None:
    # GitHub's example: the signature check passes, then the body is not JSON.
    settings = make_settings(github_webhook_secret="It's a Secret to Everybody")
    async with serve(settings) as c:
        response = await c.post(
            "/webhooks/github",
            content=b"Hello, World!",
            headers={
                "X-GitHub-Event": "issues",
                "X-GitHub-Delivery": uid(),
                "X-Hub-Signature-256": (
                    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
                ),
            },
        )
    assert response.status_code == 400
    assert response.text.startswith("bad payload: body is not valid JSON")


RAW_COMMENT = json.dumps(comment_payload()).encode()
SHA1_OF_RAW = "sha1=" + hmac.new(GH_SECRET.encode(), RAW_COMMENT, hashlib.sha1).hexdigest()


@pytest.mark.parametrize(
    ("signature_headers", "reason"),
    [
        ({"X-Hub-Signature-256": None}, "missing X-Hub-Signature-256 header"),
        (
            {"X-Hub-Signature-256": None, "X-Hub-Signature": SHA1_OF_RAW},
            "missing X-Hub-Signature-256 header",
        ),
        ({"X-Hub-Signature-256": SHA1_OF_RAW}, "X-Hub-Signature-256 must be a sha256= signature"),
        ({"X-Hub-Signature-256": "sha256=abc"}, "malformed X-Hub-Signature-256 header"),
        ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, "signature does not match"),
        (
            {"X-Hub-Signature-256": gh_sign(RAW_COMMENT, "another secret")},
            "signature does not match",
        ),
    ],
)
async def test_github_unverified_requests_get_401_without_the_expected_value(
    client: httpx.AsyncClient,
    db: Database,
    signature_headers: dict[str, str],
    reason: str,
) -> None:
    delivery = uid()
    response = await post_github(
        client, "issue_comment", body=RAW_COMMENT, delivery=delivery, headers=signature_headers
    )
    assert response.status_code == 401
    assert response.text == f"unauthorized: {reason}\n"
    expected = gh_sign(RAW_COMMENT).partition("=")[2]
    assert expected[:12] not in response.text
    assert expected[:12] not in str(response.headers)
    assert await count(db, "SELECT count(*) FROM deliveries WHERE delivery_id = $1", delivery) == 0


@pytest.mark.parametrize("missing", ["X-GitHub-Event", "X-GitHub-Delivery"])
async def test_github_missing_event_or_delivery_header_is_400(
    client: httpx.AsyncClient, missing: str
) -> None:
    response = await post_github(
        client, "issue_comment", comment_payload(), headers={missing: None}
    )
    assert response.status_code == 400
    assert "missing X-GitHub-Event or X-GitHub-Delivery header" in response.text


async def test_github_ping_is_answered(client: httpx.AsyncClient) -> None:
    response = await post_github(
        client, "ping", {"zen": "Keep it logically awesome.", "hook_id": 1}
    )
    assert (response.status_code, response.text) == (200, "pong\n")


async def test_github_not_configured_is_404(make_settings: MakeSettings) -> None:
    settings = make_settings(github_app_id=None, github_webhook_secret=None)
    async with serve(settings) as c:
        response = await post_github(c, "ping", {})
    assert response.status_code == 404


async def test_github_form_encoded_payloads_are_read(client: httpx.AsyncClient) -> None:
    from urllib.parse import urlencode

    raw = urlencode({"payload": json.dumps(comment_payload())}).encode()
    response = await post_github(
        client,
        "issue_comment",
        body=raw,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    run_id_of(response)


# --- bodies ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "bad payload: body is not valid JSON"),
        (b"", "bad payload: body is not valid JSON"),
        (b'{"a": "\xff\xfe"}', "bad payload: body is not UTF-8"),
        (b"[1, 2, 3]", "bad payload: payload must be a JSON object"),
        (b'"text"', "bad payload: payload must be a JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "bad payload: body is not valid JSON"),
        (b'{"a": ' + b"7" * 5000 + b"}", "bad payload: body is not valid JSON"),
        (b'{"action": "created"}', "bad payload: payload field sender: field required"),
    ],
)
async def test_github_signed_but_unusable_bodies_are_400_with_the_reason(
    client: httpx.AsyncClient, body: bytes, reason: str
) -> None:
    response = await post_github(client, "issue_comment", body=body)
    assert response.status_code == 400
    assert response.text.startswith(reason), response.text


async def test_github_payload_missing_what_the_handler_needs(client: httpx.AsyncClient) -> None:
    data = comment_payload()
    del data["comment"]["id"]
    response = await post_github(client, "issue_comment", data)
    assert (response.status_code, response.text) == (
        400,
        "bad payload: payload field comment.id: field required\n",
    )


@pytest.mark.parametrize(
    ("mutate", "what"),
    [
        (lambda d: d["issue"].update(number=2**40), "number too large"),
        (lambda d: d["comment"].update(id=2**70), "comment id too large"),
        (lambda d: d["repository"].update(full_name="octo/\u0000widgets"), "NUL in the repo"),
        (lambda d: d["comment"].update(body="/agentops fix \ud800"), "lone surrogate"),
        (lambda d: d["comment"].update(body="/agentops fix a\u0000b"), "NUL in the args"),
    ],
)
async def test_github_values_the_database_cannot_hold_are_400(
    client: httpx.AsyncClient, mutate: Callable[[dict[str, Any]], None], what: str
) -> None:
    data = comment_payload()
    mutate(data)
    response = await post_github(client, "issue_comment", data)
    assert response.status_code == 400, (what, response.text)
    assert response.text.startswith("bad payload: "), what


async def test_body_over_the_limit_is_refused_from_content_length_without_reading(
    make_settings: MakeSettings,
) -> None:
    pulled = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(4):
            pulled += 1
            yield b"x" * 1024

    async with serve(make_settings(max_body_bytes=2048)) as c:
        for path in ("/webhooks/github", "/webhooks/gitlab"):
            pulled = 0
            response = await c.post(
                path, content=body(), headers={"Content-Length": "4096", **SHAPED_AUTH}
            )
            assert (response.status_code, response.text) == (413, "body too large\n")
            assert pulled == 0


async def test_default_limit_is_25_mb(client: httpx.AsyncClient) -> None:
    limit = 25 * 1024 * 1024

    async def tiny() -> AsyncIterator[bytes]:
        yield b"{}"

    response = await client.post(
        "/webhooks/github",
        content=tiny(),
        headers={"Content-Length": str(limit + 1), **SHAPED_AUTH},
    )
    assert response.status_code == 413
    # a declared length of exactly the limit is not refused for its size (the request then
    # fails its signature)
    response = await client.post(
        "/webhooks/github",
        content=tiny(),
        headers={"Content-Length": str(limit), "X-Hub-Signature-256": "sha256=" + "0" * 64},
    )
    assert response.status_code == 401


async def test_streamed_body_over_the_limit_is_refused_without_buffering_it_all(
    make_settings: MakeSettings,
) -> None:
    pulled = 0

    async def endless_ish() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(10_000):
            pulled += 1
            yield b"x" * 1024

    async with serve(make_settings(max_body_bytes=8 * 1024)) as c:
        for path in ("/webhooks/github", "/webhooks/gitlab"):
            pulled = 0
            # chunked, no length
            response = await c.post(path, content=endless_ish(), headers=SHAPED_AUTH)
            assert (response.status_code, response.text) == (413, "body too large\n")
            assert pulled <= 10  # stopped just past 8 KiB, not after 10 MiB


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/webhooks/gitlab", "missing X-Gitlab-Token header"),
        ("/webhooks/github", "missing X-Hub-Signature-256 header"),
    ],
)
async def test_an_unauthenticated_delivery_is_refused_before_its_body_is_read(
    make_settings: MakeSettings, path: str, reason: str
) -> None:
    pulled = 0

    async def big() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(1_000):
            pulled += 1
            yield b"x" * 1024

    async with serve(make_settings()) as c:
        response = await c.post(path, content=big())
    assert response.status_code == 401 and reason in response.text
    assert pulled <= 1  # nothing buffered for an unauthenticated sender


async def test_body_within_the_limit_is_read(make_settings: MakeSettings) -> None:
    data = comment_payload()
    raw = json.dumps(data).encode()
    async with serve(make_settings(max_body_bytes=len(raw))) as c:
        run_id_of(await post_github(c, "issue_comment", body=raw))


async def test_a_non_ascii_digit_content_length_is_no_server_error(
    client: httpx.AsyncClient,
) -> None:
    # "²".isdigit() is True but int("²") raises: it must not be read as a length
    response = await client.post(
        "/webhooks/github", content=b"{}", headers=[(b"content-length", b"\xb2")]
    )
    assert (response.status_code, response.text) == (
        401,
        "unauthorized: missing X-Hub-Signature-256 header\n",
    )


async def test_reasons_quoting_lone_surrogates_are_answered(client: httpx.AsyncClient) -> None:
    response = await post_github(client, "issues", body=b'{"action": "\\ud800"}')
    assert (response.status_code, response.text) == (
        200,
        "ignored: event issues.\\ud800 is not handled\n",
    )


# --- events ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event", "data", "reason"),
    [
        ("push", {"ref": "refs/heads/main"}, "ignored: event push is not handled"),
        ("issues", {"action": "opened"}, "ignored: event issues.opened is not handled"),
        (
            "issue_comment",
            {"action": "edited"},
            "ignored: event issue_comment.edited is not handled",
        ),
        (
            "issue_comment",
            comment_payload("thanks!"),
            "ignored: no /agentops command in the comment",
        ),
        (
            "issue_comment",
            comment_payload(sender={"login": "ci[bot]", "type": "Bot"}),
            "ignored: sent by a bot",
        ),
        (
            "issue_comment",
            comment_payload(sender={"login": "agentops-test[bot]", "type": "User"}),
            "ignored: sent by a bot",
        ),
    ],
)
async def test_github_ignored_events_are_200_with_the_reason(
    client: httpx.AsyncClient, db: Database, event: str, data: Any, reason: str
) -> None:
    delivery = uid()
    response = await post_github(client, event, data, delivery=delivery)
    assert (response.status_code, response.text) == (200, reason + "\n")
    assert await count(db, "SELECT count(*) FROM deliveries WHERE delivery_id = $1", delivery) == 0


async def test_comment_written_through_an_app_is_ignored(client: httpx.AsyncClient) -> None:
    data = comment_payload()
    data["comment"]["performed_via_github_app"] = {"id": 1, "slug": "agentops-test"}
    response = await post_github(client, "issue_comment", data)
    assert (response.status_code, response.text) == (200, "ignored: comment written by an app\n")


async def test_labels_start_runs(client: httpx.AsyncClient, db: Database) -> None:
    base = {
        "action": "labeled",
        "sender": {"login": "alice", "type": "User"},
        "repository": {"id": 1, "full_name": "octo/widgets"},
        "installation": {"id": int(uuid.uuid4().int % 10**9)},
    }
    issue = await post_github(
        client, "issues", {**base, "issue": {"number": 4}, "label": {"name": "agentops"}}
    )
    pr = await post_github(
        client, "pull_request", {**base, "number": 5, "label": {"name": "agentops:test"}}
    )
    wrong = await post_github(
        client, "pull_request", {**base, "number": 5, "label": {"name": "agentops"}}
    )
    async with db.admin() as conn:
        rows = await conn.fetch(
            "SELECT command, target_kind, target_number, trigger FROM runs"
            " WHERE id = ANY($1::bigint[]) ORDER BY id",
            [run_id_of(issue), run_id_of(pr)],
        )
    assert [tuple(r) for r in rows] == [
        ("implement", "issue", 4, "label"),
        ("test", "pull_request", 5, "label"),
    ]
    assert (wrong.status_code, wrong.text) == (
        200,
        "ignored: label 'agentops' starts nothing on a pull request\n",
    )


async def test_installation_events_record_the_tenant(
    client: httpx.AsyncClient, db: Database
) -> None:
    installation_id = int(uuid.uuid4().int % 10**9)
    data = {
        "action": "created",
        "sender": {"login": "alice", "type": "User"},
        "installation": {"id": installation_id, "account": {"login": "octo-org"}},
    }
    response = await post_github(client, "installation", data)
    assert (response.status_code, response.text) == (200, "recorded: installation created\n")
    async with db.admin() as conn:
        tenant = await conn.fetchrow(
            "SELECT * FROM tenants WHERE forge = 'github' AND external_key = $1",
            str(installation_id),
        )
    assert tenant is not None and tenant["account"] == "octo-org"
    assert tenant["removed_at"] is None

    response = await post_github(client, "installation", {**data, "action": "deleted"})
    assert response.status_code == 200
    response = await post_github(client, "installation_repositories", {**data, "action": "added"})
    assert (response.status_code, response.text) == (200, "recorded: installation repositories\n")
    async with db.admin() as conn:
        removed = await conn.fetchval("SELECT removed_at FROM tenants WHERE id = $1", tenant["id"])
    assert removed is not None


def check_run_payload(
    installation_id: int, run_id: int, repo: str = "octo/widgets", action: str = "rerequested"
) -> dict[str, Any]:
    return {
        "action": action,
        "sender": {"login": "alice", "type": "User"},
        "repository": {"id": repo_id_of(repo), "full_name": repo},
        "installation": {"id": installation_id},
        "check_run": {"id": 55, "head_sha": "f" * 40, "external_id": str(run_id), "app": {"id": 1}},
        "requested_action": {"identifier": "cancel"},
    }


async def test_check_run_rerequest_retries_the_named_run(
    client: httpx.AsyncClient, db: Database
) -> None:
    installation_id = int(uuid.uuid4().int % 10**9)
    original = run_id_of(
        await post_github(client, "issue_comment", comment_payload(installation_id=installation_id))
    )
    retry = run_id_of(
        await post_github(client, "check_run", check_run_payload(installation_id, original))
    )
    async with db.admin() as conn:
        row = await conn.fetchrow("SELECT * FROM runs WHERE id = $1", retry)
    assert row is not None
    assert (row["command"], row["target_kind"], row["target_number"], row["trigger"]) == (
        "retry",
        "issue",
        12,
        "check_run",
    )
    assert json.loads(row["context"])["refers_to_run"] == original

    cancel = await post_github(
        client, "check_run", check_run_payload(installation_id, original, action="requested_action")
    )
    assert cancel.status_code == 202


async def test_check_run_naming_another_tenants_run_is_ignored(
    client: httpx.AsyncClient, db: Database
) -> None:
    victim = run_id_of(await post_github(client, "issue_comment", comment_payload()))
    attacker_installation = int(uuid.uuid4().int % 10**9)
    response = await post_github(
        client, "check_run", check_run_payload(attacker_installation, victim)
    )
    assert (response.status_code, response.text) == (
        200,
        "ignored: the check run names no run of ours\n",
    )
    # same tenant, but a run of another repository is refused too
    installation_id = int(uuid.uuid4().int % 10**9)
    own = run_id_of(
        await post_github(client, "issue_comment", comment_payload(installation_id=installation_id))
    )
    response = await post_github(
        client, "check_run", check_run_payload(installation_id, own, repo="octo/other")
    )
    assert response.text == "ignored: the check run names no run of ours\n"
    assert (
        await count(
            db,
            "SELECT count(*) FROM runs WHERE retry_of = $1 OR"
            " context->>'refers_to_run' IN ($2, $3)",
            victim,
            str(victim),
            str(own),
        )
        == 0
    )


# --- durability and duplicates -----------------------------------------------------------


async def test_repeated_delivery_is_a_duplicate_also_days_later(
    client: httpx.AsyncClient, db: Database
) -> None:
    delivery = uid()
    data = comment_payload()
    run_id = run_id_of(await post_github(client, "issue_comment", data, delivery=delivery))
    again = await post_github(client, "issue_comment", data, delivery=delivery)
    assert (again.status_code, again.text) == (200, "duplicate: duplicate delivery\n")

    async with db.admin() as conn:
        await conn.execute(
            "UPDATE deliveries SET received_at = now() - interval '9 days' WHERE delivery_id = $1",
            delivery,
        )
        await conn.execute(
            "UPDATE runs SET status = 'succeeded', created_at = now() -"
            " interval '9 days' WHERE id = $1",
            run_id,
        )
    later = await post_github(client, "issue_comment", data, delivery=delivery)
    assert (later.status_code, later.text) == (200, "duplicate: duplicate delivery\n")
    assert (
        await count(db, "SELECT count(*) FROM runs WHERE comment_id = $1", data["comment"]["id"])
        == 1
    )


async def test_two_deliveries_of_one_comment_make_one_run(
    client: httpx.AsyncClient, db: Database
) -> None:
    data = comment_payload()
    first = run_id_of(await post_github(client, "issue_comment", data))
    second = await post_github(client, "issue_comment", data)  # new delivery id
    assert (second.status_code, second.text) == (200, "duplicate: duplicate command\n")
    assert (
        await count(
            db,
            "SELECT count(*) FROM runs WHERE trigger_key = $1",
            f"github:comment:{data['comment']['id']}",
        )
        == 1
    )
    # the second delivery asks for what the first did (same content key): not stored
    assert await count(db, "SELECT count(*) FROM deliveries WHERE run_id = $1", first) == 1


async def test_concurrent_deliveries_of_one_command_make_one_run(
    client: httpx.AsyncClient, db: Database
) -> None:
    data = comment_payload()
    responses = await asyncio.gather(
        *(post_github(client, "issue_comment", data) for _ in range(6))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 200, 200, 200, 202]
    assert all(
        r.text == "duplicate: duplicate command\n" for r in responses if r.status_code == 200
    )
    assert (
        await count(db, "SELECT count(*) FROM runs WHERE comment_id = $1", data["comment"]["id"])
        == 1
    )


async def test_concurrent_repeats_of_one_delivery_make_one_run(
    client: httpx.AsyncClient, db: Database
) -> None:
    delivery = uid()
    data = comment_payload()
    responses = await asyncio.gather(
        *(post_github(client, "issue_comment", data, delivery=delivery) for _ in range(6))
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 200, 200, 202]
    assert await count(db, "SELECT count(*) FROM deliveries WHERE delivery_id = $1", delivery) == 1


async def test_redis_down_still_accepts_the_run(make_settings: MakeSettings, db: Database) -> None:
    async with serve(make_settings(redis_url=CLOSED_REDIS)) as c:
        started = time.monotonic()
        response = await post_github(c, "issue_comment", comment_payload())
        elapsed = time.monotonic() - started
    run_id = run_id_of(response)
    assert elapsed < 5
    async with db.admin() as conn:
        row = await conn.fetchrow("SELECT status FROM runs WHERE id = $1", run_id)
    assert row is not None and row["status"] == "queued"  # the sweep enqueues it later


async def test_postgres_down_is_503_and_stores_nothing(make_settings: MakeSettings) -> None:
    async with serve(make_settings(database_url=CLOSED_PG)) as c:
        github = await post_github(c, "issue_comment", comment_payload())
        gitlab = await post_gitlab(c, "Note Hook", note_payload())
        ignored = await post_github(c, "push", {"ref": "x"})
        health = await c.get("/healthz")
        ready = await c.get("/readyz")
        metrics = await c.get("/metrics")
    for response in (github, gitlab):
        assert response.status_code == 503
        assert response.text.startswith("database unavailable")
    assert ignored.status_code == 200  # nothing to store, nothing refused
    assert health.status_code == 200
    assert ready.status_code == 503 and ready.json()["database"] == "unreachable"
    assert metrics.status_code == 200


# --- GitLab ------------------------------------------------------------------------------


async def test_gitlab_note_is_accepted_and_enqueued(
    client: httpx.AsyncClient, db: Database, redis_client: aioredis.Redis, queue_name: str
) -> None:
    key = uid()
    data = note_payload("/agentops implement")
    run_id = run_id_of(
        await post_gitlab(client, "Note Hook", data, headers={"Idempotency-Key": key})
    )
    async with db.admin() as conn:
        run = await conn.fetchrow("SELECT * FROM runs WHERE id = $1", run_id)
        delivery = await conn.fetchrow(
            "SELECT * FROM deliveries WHERE forge = 'gitlab' AND delivery_id = $1", key
        )
    assert run is not None and delivery is not None
    assert (run["forge"], run["repo"], run["target_kind"], run["target_number"]) == (
        "gitlab",
        "team/app",
        "issue",
        3,
    )
    assert delivery["run_id"] == run_id
    await enqueued(redis_client, queue_name, run_id)
    assert await redis_client.exists(f"arq:job:{job_id_for_run(queue_name, run_id)}") == 1


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (None, "missing X-Gitlab-Token header"),
        ("wrong", "X-Gitlab-Token does not match"),
        (GL_SECRET + "x", "X-Gitlab-Token does not match"),
        (project_token(GL_SECRET, "team/app") + "x", "X-Gitlab-Token does not match"),
    ],
)
async def test_gitlab_bad_token_is_401(
    client: httpx.AsyncClient, token: str | None, reason: str
) -> None:
    response = await post_gitlab(
        client, "Note Hook", note_payload(), headers={"X-Gitlab-Token": token}
    )
    assert response.status_code == 401
    assert response.text.startswith(f"unauthorized: {reason}")
    assert GL_SECRET not in response.text
    assert project_token(GL_SECRET, "team/app") not in response.text


async def test_gitlab_non_ascii_operator_secret_derives_a_token_and_is_itself_refused(
    make_settings: MakeSettings,
) -> None:
    secret = "tökén-ß-secret"
    async with serve(make_settings(gitlab_webhook_secret=secret)) as c:
        raw = json.dumps(note_payload()).encode()
        base = [(b"x-gitlab-event", b"Note Hook"), (b"content-type", b"application/json")]
        token = project_token(secret, "team/app")
        ok = await c.post(
            "/webhooks/gitlab",
            content=raw,
            headers=[*base, (b"x-gitlab-token", token.encode("utf-8"))],
        )
        wrong = await c.post(
            "/webhooks/gitlab",
            content=raw,
            headers=[*base, (b"x-gitlab-token", secret.encode("utf-8"))],
        )
    run_id_of(ok)
    assert wrong.status_code == 401


async def test_gitlab_missing_event_header_is_400(client: httpx.AsyncClient) -> None:
    response = await post_gitlab(client, "", note_payload(), headers={"X-Gitlab-Event": None})
    assert (response.status_code, response.text) == (400, "missing X-Gitlab-Event header\n")


async def test_gitlab_not_configured_is_404(make_settings: MakeSettings) -> None:
    settings = make_settings(gitlab_url=None, gitlab_webhook_secret=None)
    async with serve(settings) as c:
        response = await post_gitlab(c, "Note Hook", note_payload())
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("event", "data", "reason"),
    [
        (
            "Push Hook",
            {"object_kind": "push", "project": {"id": 1, "path_with_namespace": "team/app"}},
            "ignored: event Push Hook is not handled",
        ),
        ("Note Hook", note_payload(action="update"), "ignored: edited notes never trigger"),
        ("Note Hook", note_payload("nice"), "ignored: no /agentops command in the note"),
        (
            "Note Hook",
            {**note_payload(), "user": {"username": "agentops-bot"}},
            "ignored: sent by a bot",
        ),
    ],
)
async def test_gitlab_ignored_events_are_200_with_the_reason(
    client: httpx.AsyncClient, event: str, data: Any, reason: str
) -> None:
    response = await post_gitlab(client, event, data)
    assert (response.status_code, response.text) == (200, reason + "\n")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{", "bad payload: body is not valid JSON"),
        (b"\xc3\x28", "bad payload: body is not UTF-8"),
        (b"[]", "bad payload: payload must be a JSON object"),
        (
            b'{"object_kind": "note", "project": {"id": 1, "path_with_namespace": "team/app"}}',
            "bad payload: payload field user: field required",
        ),
    ],
)
async def test_gitlab_unusable_bodies_are_400(
    client: httpx.AsyncClient, body: bytes, reason: str
) -> None:
    response = await post_gitlab(client, "Note Hook", body=body)
    assert response.status_code == 400
    assert response.text.startswith(reason)


async def test_an_operator_can_leave_repository_labels_out(make_settings: MakeSettings) -> None:
    payload = {
        "action": "labeled",
        "sender": {"login": "alice", "type": "User"},
        "repository": {"id": 1, "full_name": "octo/widgets"},
        "installation": {"id": int(uuid.uuid4().int % 10**9)},
        "issue": {"number": 4},
        "label": {"name": "bot-please"},
    }
    async with serve(make_settings()) as c:
        checked = await post_github(c, "issues", payload)
    async with serve(make_settings(repository_labels=False)) as c:
        left_out = await post_github(c, "issues", payload)
    assert checked.status_code == 202 and checked.text.startswith("accepted: label check ")
    assert (left_out.status_code, left_out.text) == (
        200,
        "ignored: label 'bot-please' starts nothing on an issue\n",
    )


async def test_gitlab_label_hooks_start_runs(client: httpx.AsyncClient, db: Database) -> None:
    def hook(kind: str, label: str) -> dict[str, Any]:
        return {
            "object_kind": kind,
            "user": {"username": "alice"},
            "project": {"id": int(uuid.uuid4().int % 10**9), "path_with_namespace": "team/app"},
            "object_attributes": {"iid": 9, "action": "update"},
            "changes": {"labels": {"previous": [], "current": [{"title": label}]}},
        }

    issue = run_id_of(await post_gitlab(client, "Issue Hook", hook("issue", "agentops")))
    mr = run_id_of(
        await post_gitlab(client, "Merge Request Hook", hook("merge_request", "agentops:test"))
    )
    async with db.admin() as conn:
        rows = await conn.fetch(
            "SELECT command, target_kind FROM runs WHERE id = ANY($1::bigint[]) ORDER BY id",
            [issue, mr],
        )
    assert [tuple(r) for r in rows] == [("implement", "issue"), ("test", "pull_request")]


async def test_gitlab_duplicates_by_idempotency_key_webhook_id_or_body(
    client: httpx.AsyncClient, db: Database
) -> None:
    # Idempotency-Key
    key = uid()
    data = note_payload()
    run_id_of(await post_gitlab(client, "Note Hook", data, headers={"Idempotency-Key": key}))
    again = await post_gitlab(client, "Note Hook", data, headers={"Idempotency-Key": key})
    assert again.text == "duplicate: duplicate delivery\n"
    # webhook-id when there is no Idempotency-Key
    msg = "msg_" + uid()
    data = note_payload()
    no_key = {"Idempotency-Key": None, "webhook-id": msg}
    run_id_of(await post_gitlab(client, "Note Hook", data, headers=no_key))
    again = await post_gitlab(client, "Note Hook", data, headers=no_key)
    assert again.text == "duplicate: duplicate delivery\n"
    assert await count(db, "SELECT count(*) FROM deliveries WHERE delivery_id = $1", msg) == 1
    # neither: the same body is the same delivery
    raw = json.dumps(note_payload()).encode()
    bare = {"Idempotency-Key": None}
    run_id_of(await post_gitlab(client, "Note Hook", body=raw, headers=bare))
    again = await post_gitlab(client, "Note Hook", body=raw, headers=bare)
    assert again.text == "duplicate: duplicate delivery\n"
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    assert await count(db, "SELECT count(*) FROM deliveries WHERE delivery_id = $1", digest) == 1


async def test_gitlab_two_deliveries_of_one_note_make_one_run(
    client: httpx.AsyncClient, db: Database
) -> None:
    data = note_payload()
    run_id_of(await post_gitlab(client, "Note Hook", data))
    second = await post_gitlab(client, "Note Hook", data)  # another Idempotency-Key
    assert (second.status_code, second.text) == (200, "duplicate: duplicate command\n")


async def test_gitlab_note_id_already_used_by_another_project_starts_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    note_id = int(uuid.uuid4().int % 10**12)
    first = run_id_of(await post_gitlab(client, "Note Hook", note_payload(note_id=note_id)))
    forged = await post_gitlab(client, "Note Hook", note_payload(note_id=note_id))
    assert (forged.status_code, forged.text) == (200, "duplicate: duplicate command\n")
    assert await count(db, "SELECT count(*) FROM runs WHERE comment_id = $1", note_id) == 1
    assert await count(db, "SELECT count(*) FROM runs WHERE id = $1", first) == 1


def sw_headers(
    body: bytes,
    *,
    msg_id: str | None = None,
    timestamp: int | None = None,
    secret: str = GL_SIGNING,
) -> dict[str, str]:
    msg_id = msg_id or "msg_" + uid()
    ts = str(timestamp if timestamp is not None else int(time.time()))
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": ts,
        "webhook-signature": standard_webhook_signature(secret, msg_id, ts, body),
    }


async def test_gitlab_standard_webhooks_signature_when_configured(
    make_settings: MakeSettings, db: Database
) -> None:
    other_key = "whsec_" + base64.b64encode(b"another key, 32 bytes long......").decode()
    async with serve(make_settings(gitlab_signing_token=GL_SIGNING)) as c:
        raw = json.dumps(note_payload()).encode()
        signed = sw_headers(raw)
        ok = await post_gitlab(
            c, "Note Hook", body=raw, headers={**signed, "Idempotency-Key": None}
        )
        run_id_of(ok)
        assert (
            await count(
                db, "SELECT count(*) FROM deliveries WHERE delivery_id = $1", signed["webhook-id"]
            )
            == 1
        )

        # key rotation: old and new signatures side by side, one valid is enough
        raw = json.dumps(note_payload()).encode()
        rotated = sw_headers(raw)
        stale = sw_headers(
            raw,
            msg_id=rotated["webhook-id"],
            timestamp=int(rotated["webhook-timestamp"]),
            secret=other_key,
        )
        rotated["webhook-signature"] = (
            stale["webhook-signature"] + " " + rotated["webhook-signature"]
        )
        run_id_of(await post_gitlab(c, "Note Hook", body=raw, headers=rotated))

        raw = json.dumps(note_payload()).encode()
        refusals = {
            "unsigned": ({}, "missing webhook-id, webhook-timestamp or webhook-signature"),
            "wrong key": (sw_headers(raw, secret=other_key), "no webhook-signature matches"),
            "too old": (
                sw_headers(raw, timestamp=int(time.time()) - 301),
                "outside the 5-minute tolerance",
            ),
            "future": (
                sw_headers(raw, timestamp=int(time.time()) + 3600),
                "outside the 5-minute tolerance",
            ),
            "huge timestamp": (
                {**sw_headers(raw), "webhook-timestamp": "9" * 400},
                "malformed webhook-timestamp header",
            ),
            "token wrong": (
                {**sw_headers(raw), "X-Gitlab-Token": "nope"},
                "X-Gitlab-Token does not match",
            ),
        }
        for name, (headers, reason) in refusals.items():
            response = await post_gitlab(c, "Note Hook", body=raw, headers=headers)
            assert response.status_code == 401, name
            assert reason in response.text, (name, response.text)

        tampered = sw_headers(raw)
        response = await post_gitlab(
            c, "Note Hook", body=raw.replace(b"}", b" }", 1), headers=tampered
        )
        assert response.status_code == 401


# --- health, metrics and the admin API ---------------------------------------------------


async def test_health_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    ready = await client.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"database": "ok", "redis": "ok"})


async def test_readiness_reports_redis_down(make_settings: MakeSettings) -> None:
    async with serve(make_settings(redis_url=CLOSED_REDIS)) as c:
        ready = await c.get("/readyz")
    assert (ready.status_code, ready.json()) == (503, {"database": "ok", "redis": "unreachable"})


def metric_values(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a /metrics text by name and labels (prometheus_client's parser)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return (name, frozenset(labels.items()))


async def test_metrics_count_webhooks(client: httpx.AsyncClient) -> None:
    # the counters are the process's: other tests of this process count too
    before = metric_values((await client.get("/metrics")).text)
    run_id_of(await post_github(client, "issue_comment", comment_payload()))
    await post_github(client, "ping", {})
    await post_github(client, "ping", {}, headers={"X-Hub-Signature-256": None})
    after = metric_values((await client.get("/metrics")).text)

    def added(key: tuple[str, frozenset[tuple[str, str]]]) -> float:
        return after[key] - before.get(key, 0.0)

    for outcome in ("202", "200", "401"):
        assert added(sample("agentops_webhooks_total", forge="github", outcome=outcome)) == 1
    assert added(sample("agentops_webhook_seconds_count", forge="github")) == 3
    assert after[sample("agentops_runs", status="queued")] >= 1
    assert after[sample("agentops_llm_models_in_cooldown")] == 0
    # the run is enqueued just after the answer; nothing consumes this queue
    for _ in range(50):
        queued = metric_values((await client.get("/metrics")).text)
        if queued[sample("agentops_queue_depth")] >= 1:
            break
        await asyncio.sleep(0.1)
    assert queued[sample("agentops_queue_depth")] >= 1
    assert 0 <= queued[sample("agentops_queue_oldest_age_seconds")] < 60


async def test_metrics_show_the_models_every_worker_skips(
    client: httpx.AsyncClient, redis_url: str, queue_name: str, redis_client: aioredis.Redis
) -> None:
    worker_side = RedisCooldowns(redis_url, queue_name, CooldownPolicy(failures=1, cooldown=30))
    try:
        assert await worker_side.failed("mistral:mistral-large-latest") == 30
    finally:
        await worker_side.close()
    text = (await client.get("/metrics")).text
    values = metric_values(text)
    assert values[sample("agentops_llm_models_in_cooldown")] == 1
    # the model's name is a label value: mistral's implied model is known
    left = values[
        sample("agentops_llm_model_cooldown_seconds", model="mistral:mistral-large-latest")
    ]
    assert 25 < left <= 30
    # other tests of this session share the queue name: end the cooldown now
    await redis_client.delete(f"{queue_name}:llm-cooldown:until:mistral:mistral-large-latest")


async def test_metrics_want_the_bearer_token_when_one_is_set(
    make_settings: MakeSettings,
) -> None:
    token = "metrics-token-0123456789"
    async with serve(make_settings(metrics_token=token)) as c:
        bare = await c.get("/metrics")
        wrong = await c.get("/metrics", headers={"Authorization": "Bearer metrics-token-x"})
        unprefixed = await c.get("/metrics", headers={"Authorization": token})
        right = await c.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    for refused in (bare, wrong, unprefixed):
        assert refused.status_code == 401
        assert "agentops_webhooks_total" not in refused.text and token not in refused.text
        assert refused.headers["www-authenticate"].startswith("Bearer")
    assert right.status_code == 200 and "agentops_webhook_seconds" in right.text


async def test_metrics_without_a_token_answer_this_machine_only(
    client: httpx.AsyncClient, make_settings: MakeSettings
) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200 and "agentops_webhooks_total" in response.text
    async with serve(make_settings(), client=("10.1.2.3", 40000)) as remote:
        refused = await remote.get("/metrics")
    assert refused.status_code == 403 and "AGENTOPS_METRICS_TOKEN" in refused.text
    assert "agentops_webhooks_total" not in refused.text
    for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP", "Via", "X-Forwarded-Host"):
        proxied = await client.get("/metrics", headers={header: "203.0.113.9"})
        assert proxied.status_code == 403, header
    token = "metrics-token-0123456789"
    async with serve(make_settings(metrics_token=token), client=("10.1.2.3", 40000)) as remote:
        right = await remote.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert right.status_code == 200 and "agentops_webhooks_total" in right.text


async def test_admin_api_needs_the_bearer_token(
    client: httpx.AsyncClient, make_settings: MakeSettings
) -> None:
    assert (await client.get("/api/runs")).status_code == 401
    wrong = await client.get("/api/runs", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "admin-token" not in wrong.text
    assert (
        await client.get("/api/runs/1", headers={"Authorization": "admin-token"})
    ).status_code == 401
    async with serve(make_settings(admin_token=None)) as off:
        response = await off.get("/api/runs", headers={"Authorization": "Bearer "})
    assert response.status_code == 403


async def test_admin_api_lists_and_shows_runs(client: httpx.AsyncClient) -> None:
    auth = {"Authorization": "Bearer admin-token"}
    run_id = run_id_of(
        await post_github(
            client, "issue_comment", comment_payload("/agentops review", repo="octo/api-test")
        )
    )
    listed = await client.get(
        "/api/runs", params={"limit": "500", "status": "queued"}, headers=auth
    )
    assert listed.status_code == 200
    assert run_id in [r["id"] for r in listed.json()["runs"]]
    assert all(r["status"] == "queued" for r in listed.json()["runs"])
    shown = await client.get(f"/api/runs/{run_id}", headers=auth)
    assert shown.status_code == 200
    body = shown.json()
    assert (body["id"], body["command"], body["repo"], body["steps"]) == (
        run_id,
        "review",
        "octo/api-test",
        [],
    )
    older = await client.get("/api/runs", params={"before": str(run_id)}, headers=auth)
    assert run_id not in [r["id"] for r in older.json()["runs"]]
    assert (await client.get("/api/runs/999999999", headers=auth)).status_code == 404
    assert (await client.get("/api/runs/abc", headers=auth)).status_code == 400
    assert (await client.get("/api/runs", params={"limit": "x"}, headers=auth)).status_code == 400


async def test_bodies_received_at_once_are_bounded_and_the_excess_is_a_503(
    make_settings: MakeSettings,
) -> None:
    async def slow_half_mb() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"x" * 64 * 1024
            await asyncio.sleep(0.05)

    async with serve(make_settings(intake_max_receiving_mb=1)) as c:
        answers = await asyncio.gather(
            *(
                c.post("/webhooks/github", content=slow_half_mb(), headers=SHAPED_AUTH)
                for _ in range(4)
            )
        )
    codes = sorted(a.status_code for a in answers)
    assert codes.count(401) >= 1  # received whole, then its signature did not match
    assert codes.count(503) >= 2  # 4 × 0.5 MB at once do not fit in 1 MB
    busy = next(a for a in answers if a.status_code == 503)
    assert "too much being received at once" in busy.text and busy.headers["retry-after"]
