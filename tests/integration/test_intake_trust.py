"""The intake's trust boundary on real PostgreSQL and Redis: a GitLab delivery carries the
token of the project it names, and a signed body sent again under a new delivery id is a
duplicate that starts nothing."""

from __future__ import annotations

import copy
import logging
import uuid
from typing import Any

import httpx
import pytest

from app.store import Database
from app.webhooks import gitlab_webhook_secret
from tests.gitlab_tokens import group_token, project_token
from tests.integration import test_intake_web as web
from tests.integration.test_intake_web import (
    GL_SECRET,
    MakeSettings,
    check_run_payload,
    comment_payload,
    count,
    note_payload,
    post_github,
    post_gitlab,
    run_id_of,
    serve,
)

# the intake's fixtures: a service on real PostgreSQL and Redis, and its settings
client = web.client
make_settings = web.make_settings
redis_client = web.redis_client  # autouse: removes the jobs a test queued


def _note(project_path: str, user: str = "alice") -> dict[str, Any]:
    data = note_payload()
    data["project"]["path_with_namespace"] = project_path
    data["user"] = {"id": 7, "username": user}
    return data


async def _stored(db: Database, data: dict[str, Any]) -> tuple[int, int]:
    note_id = data["object_attributes"]["id"]
    runs = await count(db, "SELECT count(*) FROM runs WHERE comment_id = $1", note_id)
    deliveries = await count(
        db,
        "SELECT count(*) FROM deliveries WHERE content_key LIKE $1",
        f"%:note:%:{note_id}",
    )
    return runs, deliveries


# --- GitLab: the token of the project the payload names ----------------------------------


async def test_a_note_forged_for_another_project_with_ones_own_token_is_401(
    client: httpx.AsyncClient, db: Database
) -> None:
    # mallory maintains mallory/own and so knows its token; the payload names victim/app
    # and a user with write access there.
    forged = _note("victim/app", user="victims-maintainer")
    response = await post_gitlab(
        client,
        "Note Hook",
        forged,
        headers={"X-Gitlab-Token": project_token(GL_SECRET, "mallory/own")},
    )
    assert response.status_code == 401
    assert "X-Gitlab-Token does not match the secret of project victim/app" in response.text
    assert project_token(GL_SECRET, "victim/app") not in response.text
    assert await _stored(db, forged) == (0, 0)


async def test_the_operators_shared_secret_is_refused_by_default(
    client: httpx.AsyncClient, db: Database
) -> None:
    data = _note("team/app")
    response = await post_gitlab(client, "Note Hook", data, headers={"X-Gitlab-Token": GL_SECRET})
    assert response.status_code == 401
    assert "does not match" in response.text and GL_SECRET not in response.text
    assert await _stored(db, data) == (0, 0)


async def test_an_operator_may_accept_the_shared_secret_while_migrating(
    make_settings: MakeSettings, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    data = _note("team/app")
    async with serve(make_settings(gitlab_accept_shared_secret=True)) as c:
        with caplog.at_level(logging.WARNING, logger="app.forges.gitlab.webhook"):
            response = await post_gitlab(
                c, "Note Hook", data, headers={"X-Gitlab-Token": GL_SECRET}
            )
    run_id_of(response)
    warned = [r.getMessage() for r in caplog.records if r.name == "app.forges.gitlab.webhook"]
    assert any("shared AGENTOPS_GITLAB_WEBHOOK_SECRET" in m and "team/app" in m for m in warned)
    assert all(GL_SECRET not in m for m in warned)


async def test_a_group_hooks_token_is_accepted_for_projects_under_the_group(
    client: httpx.AsyncClient, db: Database
) -> None:
    inside = _note("org/sub/app")
    ok = await post_gitlab(
        client, "Note Hook", inside, headers={"X-Gitlab-Token": group_token(GL_SECRET, "org")}
    )
    run_id_of(ok)
    outside = _note("other/app")
    refused = await post_gitlab(
        client, "Note Hook", outside, headers={"X-Gitlab-Token": group_token(GL_SECRET, "org")}
    )
    assert refused.status_code == 401
    assert await _stored(db, outside) == (0, 0)


async def test_a_payload_naming_no_project_is_401(client: httpx.AsyncClient) -> None:
    data = _note("team/app")
    del data["project"]
    response = await post_gitlab(
        client, "Note Hook", data, headers={"X-Gitlab-Token": project_token(GL_SECRET, "team/app")}
    )
    assert response.status_code == 401
    assert "names no project" in response.text


# --- replays: the same content under a new delivery id -----------------------------------


def _labeled(installation_id: int, label: str, updated_at: str) -> dict[str, Any]:
    return {
        "action": "labeled",
        "sender": {"login": "alice", "type": "User"},
        "repository": {"id": 1, "full_name": "octo/widgets"},
        "installation": {"id": installation_id},
        "issue": {"number": 4, "updated_at": updated_at},
        "label": {"name": label},
    }


@pytest.mark.parametrize("label", ["agentops", "bot-please"])
async def test_a_replayed_signed_label_event_with_a_new_delivery_id_starts_nothing(
    client: httpx.AsyncClient, db: Database, label: str
) -> None:
    installation_id = int(uuid.uuid4().int % 10**9)
    body = _labeled(installation_id, label, "2026-12-03T08:00:00Z")
    first = await post_github(client, "issues", body, delivery=str(uuid.uuid4()))
    assert first.status_code == 202, first.text
    replay = await post_github(client, "issues", copy.deepcopy(body), delivery=str(uuid.uuid4()))
    assert (replay.status_code, replay.text) == (200, "duplicate: duplicate command\n")
    tenant_rows = (
        "SELECT count(*) FROM {} WHERE tenant_id = (SELECT id FROM tenants"
        " WHERE forge = 'github' AND external_key = $1)"
    )
    assert await count(db, tenant_rows.format("deliveries"), str(installation_id)) == 1
    runs = await count(db, tenant_rows.format("runs"), str(installation_id))
    checks = await count(db, tenant_rows.format("label_checks"), str(installation_id))
    assert runs + checks == 1

    # the label removed and added again later is a new event, with a new updated_at
    later = _labeled(installation_id, label, "2026-12-03T08:05:00Z")
    again = await post_github(client, "issues", later, delivery=str(uuid.uuid4()))
    assert again.status_code == 202, again.text


async def test_a_replayed_check_run_click_with_a_new_delivery_id_starts_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    installation_id = int(uuid.uuid4().int % 10**9)
    original = run_id_of(
        await post_github(client, "issue_comment", comment_payload(installation_id=installation_id))
    )
    body = check_run_payload(installation_id, original, action="requested_action")
    body["check_run"]["id"] = int(uuid.uuid4().int % 10**9)
    first = run_id_of(await post_github(client, "check_run", body))
    replay = await post_github(client, "check_run", copy.deepcopy(body))
    assert (replay.status_code, replay.text) == (200, "duplicate: duplicate command\n")
    assert (
        await count(
            db, "SELECT count(*) FROM runs WHERE context->>'refers_to_run' = $1", str(original)
        )
        == 1
    )
    assert first != original


async def test_a_replayed_gitlab_label_event_with_a_new_idempotency_key_starts_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    project_id = int(uuid.uuid4().int % 10**9)
    hook = {
        "object_kind": "issue",
        "user": {"username": "alice"},
        "project": {"id": project_id, "path_with_namespace": f"team/app-{project_id}"},
        "object_attributes": {
            "iid": 9,
            "action": "update",
            "updated_at": "2026-12-03 08:00:00 UTC",
        },
        "changes": {"labels": {"previous": [], "current": [{"title": "agentops"}]}},
    }
    run_id_of(await post_gitlab(client, "Issue Hook", hook))
    replay = await post_gitlab(client, "Issue Hook", copy.deepcopy(hook))  # new Idempotency-Key
    assert (replay.status_code, replay.text) == (200, "duplicate: duplicate command\n")
    assert (
        await count(
            db,
            "SELECT count(*) FROM runs WHERE repo = $1 AND trigger = 'label'",
            f"team/app-{project_id}",
        )
        == 1
    )


# --- where the operator finds a project's token ------------------------------------------


async def test_the_setup_page_shows_a_projects_token_only_with_the_admin_token(
    client: httpx.AsyncClient,
) -> None:
    form = await client.get("/setup/gitlab-secret")
    assert form.status_code == 200 and 'name="path"' in form.text
    # the form may post to this service only, and the page frames nowhere
    policy = form.headers["content-security-policy"]
    assert "form-action 'self'" in policy and "default-src 'none'" in policy
    assert form.headers["x-frame-options"] == "DENY"
    wrong = await client.post(
        "/setup/gitlab-secret", data={"path": "team/app", "admin_token": "nope"}
    )
    expected = gitlab_webhook_secret(GL_SECRET, "team/app")
    assert wrong.status_code == 401 and expected not in wrong.text
    shown = await client.post(
        "/setup/gitlab-secret", data={"path": "Team/App", "admin_token": "admin-token"}
    )
    assert shown.status_code == 200
    assert expected in shown.text and GL_SECRET not in shown.text
    assert shown.headers["cache-control"] == "no-store"
    group = await client.post(
        "/setup/gitlab-secret",
        data={"path": "org", "group": "1", "admin_token": "admin-token"},
    )
    assert gitlab_webhook_secret(GL_SECRET, "org", group=True) in group.text


async def test_without_an_admin_token_the_setup_page_points_at_the_cli(
    make_settings: MakeSettings,
) -> None:
    async with serve(make_settings(admin_token=None)) as c:
        response = await c.post("/setup/gitlab-secret", data={"path": "team/app"})
    assert response.status_code == 403
    assert "agentops gitlab-secret" in response.text
