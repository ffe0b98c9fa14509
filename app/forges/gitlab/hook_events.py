"""The deliveries of the GitLab project hooks that point at AgentOps (GitLab 17.4+), for
the worker's look for what never arrived: `redeliver_lost` (app/forges/redeliver.py)
chooses for both forges what to ask for again.

GitLab logs each delivery of a hook as an *event* (kept 7 days) and resends one on
request, as it was sent (the same `Idempotency-Key`, so one that did arrive is a
`200 duplicate`). Reading a project's hooks needs the Maintainer role: the bot looks at the
projects where it has it and whose hook URL is AgentOps's own; elsewhere a delivery that
found AgentOps down is resent by hand (README, *Nothing lost while the service is down*).
The worker looks only at the projects that have reached AgentOps before (`projects`, its
tenants, each with a hook token the operator gave): anyone may make the bot Maintainer of
a thousand projects of theirs, which would be a thousand calls per look.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime
from typing import Any

import gitlab

from app import tracing
from app.config import Settings
from app.forges.gitlab.client import GitLabClient
from app.forges.gitlab.spec import SPEC

MAINTAINER = 40
# Events read per hook and look at most: the listing (7 days) is read whole, as its order
# is not documented, and a project's owner decides how many events its hook makes.
MAX_EVENTS_PER_HOOK = 3000
log = logging.getLogger(__name__)


class GitLabHookEvents(GitLabClient):
    """`HookDeliveries` over the bot's projects' hooks whose URL is `hook_url`."""

    @classmethod
    def of_service(
        cls, settings: Settings, projects: Collection[int] | None = None
    ) -> GitLabHookEvents:
        """Over the hooks whose URL is this service's GitLab webhook URL."""
        return cls(settings, settings.public_url.rstrip("/") + SPEC.webhook_path, projects)

    def __init__(
        self, settings: Settings, hook_url: str, projects: Collection[int] | None = None
    ) -> None:
        """`projects`: the ids of the projects to look at (where the bot is Maintainer);
        None: every project where it is."""
        super().__init__(settings)
        self.hook_url = hook_url.rstrip("/")
        self.projects = projects
        self._hook_of: dict[int, tuple[int, int]] = {}  # event id -> (project id, hook id)

    async def hook_deliveries(self, since: float) -> list[dict[str, Any]]:
        """Each hook's events from `since` (epoch seconds) on, newest first, in the shape
        `redeliver_lost` reads: `id`, `guid` (the idempotency key), `status_code` (0 when
        the request found nobody)."""
        return await self._call("list webhook events", lambda: self._deliveries(since))

    async def redeliver(self, delivery_id: int) -> None:
        project, hook = self._hook_of[delivery_id]
        path = f"/projects/{project}/hooks/{hook}/events/{delivery_id}/resend"
        await self._call("resend a webhook event", lambda: self._post(path, {}))

    async def hooks_here(self) -> int:
        """How many project hooks point at AgentOps where the bot may read them."""
        return len(await self._call("list project hooks", self._hooks_here))

    def _hooks_here(self) -> list[tuple[int, int]]:
        """(project id, hook id) of each project hook whose URL is `hook_url`, in the
        projects where the bot is Maintainer."""
        found = []
        projects = self.projects
        if projects is None:
            listed = self._list("/projects", membership=True, min_access_level=MAINTAINER)
            projects = [int(project["id"]) for project in listed]
        for project_id in projects:
            try:
                hooks = self._list(f"/projects/{project_id}/hooks")
            except gitlab.GitlabHttpError as exc:
                if exc.response_code in (403, 404):  # not Maintainer (any more), or gone
                    continue
                raise
            for hook in hooks:
                if str(hook.get("url") or "").rstrip("/") == self.hook_url:
                    found.append((project_id, int(hook["id"])))
        return found

    def _deliveries(self, since: float) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        self._hook_of.clear()
        for project_id, hook_id in self._hooks_here():
            found += self._events(project_id, hook_id, since)
        return sorted(found, key=lambda event: -event["id"])  # newest first: ids only grow

    def _events(self, project_id: int, hook_id: int, since: float) -> list[dict[str, Any]]:
        path = f"/projects/{project_id}/hooks/{hook_id}/events"
        found = []
        with tracing.forge_span("GET", path):
            for listed, event in enumerate(self._gl.http_list(path, iterator=True, per_page=100)):
                if listed >= MAX_EVENTS_PER_HOOK:
                    log.warning(
                        "project %s: its hook to AgentOps lists more than %d events; the"
                        " rest are not looked at for lost deliveries",
                        project_id,
                        MAX_EVENTS_PER_HOOK,
                    )
                    break
                if not isinstance(event, dict):
                    continue
                when = datetime.fromisoformat(str(event["created_at"]).replace("Z", "+00:00"))
                if when.timestamp() < since:
                    continue  # the order of the listing is not documented: read it all
                headers = event.get("request_headers") or {}
                status = str(event.get("response_status") or "")
                self._hook_of[int(event["id"])] = (project_id, hook_id)
                found.append(
                    {
                        "id": int(event["id"]),
                        "guid": str(
                            headers.get("Idempotency-Key")
                            or headers.get("X-Gitlab-Event-UUID")
                            or f"event-{event['id']}"
                        ),
                        "status_code": int(status) if status.isdigit() else 0,
                    }
                )
        return found
