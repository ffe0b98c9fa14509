"""Webhook deliveries in GitLab's documented shapes, built from the simulator's state:
headers (also signed the Standard Webhooks way), and Note, Issue and Merge Request Hooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid as uuid_module
from typing import Any

from tests.sim.gitlab.hook_shapes import (
    hook_issue,
    hook_mr,
    hook_project,
    hook_repository,
    hook_user,
)
from tests.sim.gitlab.issues import record_label_events
from tests.sim.gitlab.notes import create_note
from tests.sim.gitlab.shapes import label_json
from tests.sim.gitlab.state import (
    GitLabState,
    SimProject,
    SimUser,
    hook_time,
    kind_of,
    now,
    url_kind,
)


class Webhooks(GitLabState):
    def webhook_headers(
        self,
        event: str,
        secret: str,
        uuid: str | None = None,
        body: bytes | None = None,
        signing_token: str | None = None,
        timestamp: int | None = None,
    ) -> dict[str, str]:
        """Headers GitLab sends: event is "Note Hook", "Issue Hook", "Merge Request Hook".

        With `body` and a `signing_token` (`whsec_<base64 key>`) the delivery is also signed
        the Standard Webhooks way (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
        """
        event_id = uuid or str(uuid_module.uuid4())
        headers = {
            "Content-Type": "application/json",
            "X-Gitlab-Event": event,
            "X-Gitlab-Token": secret,
            "X-Gitlab-Event-UUID": event_id,
            "Idempotency-Key": event_id,
            "X-Gitlab-Webhook-UUID": str(
                uuid_module.uuid5(uuid_module.NAMESPACE_URL, self.base_url or "sim")
            ),
            "X-Gitlab-Instance": self.base_url,
            "User-Agent": "GitLab/17.5.0",
        }
        if signing_token is not None and body is not None:
            sent = str(timestamp if timestamp is not None else int(time.time()))
            key = base64.b64decode(signing_token.removeprefix("whsec_"))
            signed = f"{event_id}.{sent}.".encode() + body
            digest = hmac.new(key, signed, hashlib.sha256).digest()
            headers.update(
                {
                    "webhook-id": event_id,
                    "webhook-timestamp": sent,
                    "webhook-signature": "v1," + base64.b64encode(digest).decode(),
                }
            )
        return headers

    def webhook_request(
        self, event: str, payload: dict[str, Any], secret: str, signing_token: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers of one delivery, ready for `POST /webhooks/gitlab`."""
        body = json.dumps(payload).encode()
        return body, self.webhook_headers(event, secret, body=body, signing_token=signing_token)

    def webhook_note_event(
        self,
        project: str | SimProject,
        kind: str,
        iid: int,
        body: str,
        author: str,
        note_id: int | None = None,
        action: str = "create",
    ) -> dict[str, Any]:
        """A Note Hook payload for a comment on an issue or merge request."""
        proj = self.project(project)
        kind = kind_of(kind)
        user = self.users[author]
        if note_id is None:
            note = create_note(self, proj, kind, iid, body, user)
        else:
            note = next(n for n in self._notes.get((proj.id, kind, iid), []) if n["id"] == note_id)
        obj = self._awardable(proj, kind, iid)
        noteable_type = "Issue" if kind == "issue" else "MergeRequest"
        url = f"{self._web_url(proj)}/-/{url_kind(kind)}/{iid}#note_{note['id']}"
        payload: dict[str, Any] = {
            "object_kind": "note",
            "event_type": "note",
            "user": hook_user(user),
            "project_id": proj.id,
            "project": hook_project(self, proj),
            "object_attributes": {
                "id": note["id"],
                "note": note["body"],
                "noteable_type": noteable_type,
                "author_id": user.id,
                "created_at": hook_time(),
                "updated_at": hook_time(),
                "project_id": proj.id,
                "attachment": None,
                "line_code": None,
                "commit_id": "",
                "noteable_id": obj["id"],
                "system": False,
                "st_diff": None,
                "url": url,
                "action": action,
                "type": None,
                "internal": False,
                "confidential": False,
                "discussion_id": uuid_module.uuid4().hex + "00000000",
                "description": note["body"],
            },
            "repository": hook_repository(self, proj),
        }
        if kind == "issue":
            payload["issue"] = hook_issue(self, proj, obj)
        else:
            payload["merge_request"] = hook_mr(self, proj, obj)
        return payload

    def webhook_issue_event(
        self,
        project: str | SimProject,
        iid: int,
        author: str,
        action: str = "update",
        labels_previous: list[str] | None = None,
        labels_current: list[str] | None = None,
    ) -> dict[str, Any]:
        """An Issue Hook payload; with label lists it carries `changes.labels`."""
        return self._object_event(
            "issue", project, iid, author, action, labels_previous, labels_current
        )

    def webhook_merge_request_event(
        self,
        project: str | SimProject,
        iid: int,
        author: str,
        action: str = "update",
        labels_previous: list[str] | None = None,
        labels_current: list[str] | None = None,
    ) -> dict[str, Any]:
        """A Merge Request Hook payload; with label lists it carries `changes.labels`."""
        return self._object_event(
            "merge_request", project, iid, author, action, labels_previous, labels_current
        )

    def _object_event(
        self,
        kind: str,
        project: str | SimProject,
        iid: int,
        author: str,
        action: str,
        labels_previous: list[str] | None,
        labels_current: list[str] | None,
    ) -> dict[str, Any]:
        proj = self.project(project)
        is_issue = kind == "issue"
        obj = proj.issues[iid] if is_issue else proj.merge_requests[iid]
        user = self.users[author]
        changes = self._label_changes(proj, obj, labels_previous, labels_current, user)
        attrs = hook_issue(self, proj, obj) if is_issue else hook_mr(self, proj, obj)
        attrs["action"] = action
        payload: dict[str, Any] = {
            "object_kind": kind,
            "event_type": kind,
            "user": hook_user(user),
            "project": hook_project(self, proj),
            "object_attributes": attrs,
            "repository": hook_repository(self, proj),
            "assignees": [],
        }
        if not is_issue:
            payload["reviewers"] = []
        return {**payload, "labels": attrs["labels"], "changes": changes}

    def _label_changes(
        self,
        proj: SimProject,
        obj: dict[str, Any],
        previous: list[str] | None,
        current: list[str] | None,
        user: SimUser,
    ) -> dict[str, Any]:
        """Set the labels to `current` (recording the label events): `changes` of a hook."""
        if previous is None and current is None:
            return {}
        prev = list(previous if previous is not None else obj["labels"])
        curr = list(current if current is not None else obj["labels"])
        obj["labels"] = curr
        obj["updated_at"] = now()
        record_label_events(self, proj, obj, user, [t for t in curr if t not in prev], "add")
        record_label_events(self, proj, obj, user, [t for t in prev if t not in curr], "remove")
        return {
            "labels": {
                "previous": [label_json(self, proj, t) for t in prev],
                "current": [label_json(self, proj, t) for t in curr],
            },
            "updated_at": {"previous": hook_time(), "current": hook_time()},
        }
