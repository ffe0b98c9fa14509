"""Project webhooks that really deliver: a hook per project with a URL and a secret token,
each delivery POSTed over HTTP and logged as GitLab logs it (a *hook event*), and the REST
API that lists and resends them (GitLab 17.4+, Maintainer):

- `GET /projects/:id/hooks`: the project's hooks (`id`, `url`, and the trigger flags);
- `GET /projects/:id/hooks/:hook_id/events`: its deliveries of the last 7 days, newest
  first: `id`, `url`, `trigger`, `request_headers`, `request_data`, `response_status` (a
  string: the HTTP status, or `internal error` when the request found nobody),
  `response_body`, `execution_duration`, `created_at`;
- `POST /projects/:id/hooks/:hook_id/events/:hook_event_id/resend`: sends the event's
  request again, as it was (its `Idempotency-Key` too), now, and logs a new event; answers
  `201 {"response_status": ...}`.

Setup: `add_hook(project, url, token) -> hook id`; `deliver_hook(project, event, payload)`
sends to every hook of the project (blocking) and returns the events logged;
`hook_events(project)` and `hook_resends` (the resend requests) are what a test reads.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from starlette.responses import JSONResponse, Response

from tests.sim.gitlab.auth import access_level
from tests.sim.gitlab.http import PROJECT, Call, page, route
from tests.sim.gitlab.state import GitLabState, SimProject, not_found, now
from tests.sim.skeleton import SimError

if TYPE_CHECKING:
    from tests.sim.gitlab.app import GitLabSim

TRIGGERS = {"Note Hook": "note_hooks", "Issue Hook": "issue_hooks"}
TRIGGERS["Merge Request Hook"] = "merge_request_hooks"


@dataclass
class SimHook:
    id: int
    project_id: int
    url: str
    token: str

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.url,
            "project_id": self.project_id,
            "note_events": True,
            "issues_events": True,
            "merge_requests_events": True,
            "push_events": False,
            "enable_ssl_verification": True,
            "alert_status": "executable",
            "created_at": now(),
        }


class ProjectHooks(GitLabState):
    def _init_hooks(self) -> None:
        self._hooks: dict[int, SimHook] = {}
        self._hook_events: dict[int, list[dict[str, Any]]] = {}  # hook id -> newest first
        self.hook_resends: list[tuple[int, int]] = []  # (hook id, event id) asked again

    def add_hook(self, project: str | SimProject, url: str, token: str) -> int:
        hook = SimHook(next(self._ids), self.project(project).id, url, token)
        self._hooks[hook.id] = hook
        self._hook_events[hook.id] = []
        return hook.id

    def deliver_hook(
        self, project: str | SimProject, event: str, payload: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Send `payload` as `event` ("Note Hook", …) to each of the project's hooks."""
        proj = self.project(project)
        body = json.dumps(payload)
        sent = []
        for hook in [h for h in self._hooks.values() if h.project_id == proj.id]:
            headers = self.webhook_headers(event, hook.token, body=body.encode())  # type: ignore[attr-defined]
            sent.append(self._send(hook, event, headers, body))
        return sent

    def hook_events(self, project: str | SimProject) -> list[dict[str, Any]]:
        proj = self.project(project)
        hooks = [h.id for h in self._hooks.values() if h.project_id == proj.id]
        return [e for hook in hooks for e in self._hook_events[hook]]

    def _send(
        self, hook: SimHook, event: str, headers: dict[str, str], body: str
    ) -> dict[str, Any]:
        started = time.monotonic()
        try:
            answer = httpx.post(hook.url, content=body.encode(), headers=headers, timeout=10)
            status, said = str(answer.status_code), answer.text[:1000]
        except httpx.HTTPError as exc:
            status, said = "internal error", str(exc) or type(exc).__name__
        logged = {
            "id": next(self._ids),
            "url": hook.url,
            "trigger": TRIGGERS.get(event, "note_hooks"),
            "request_headers": {k: v for k, v in headers.items() if k != "X-Gitlab-Token"},
            "request_data": body,
            "response_headers": {},
            "response_body": said,
            "response_status": status,
            "execution_duration": round(time.monotonic() - started, 3),
            "created_at": now(),
            "_event": event,
            "_headers": headers,
        }
        self._hook_events[hook.id].insert(0, logged)
        return _shown(logged)


def _shown(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if not k.startswith("_")}


def _hook(sim: GitLabSim, call: Call) -> SimHook:
    if access_level(call.proj, call.user) < 40:
        raise SimError(403, "403 Forbidden")
    hook = sim._hooks.get(int(call.params["hook_id"]))
    if hook is None or hook.project_id != call.proj.id:
        raise not_found("Hook")
    return hook


@route("GET", PROJECT + "/hooks")
def _list_hooks(sim: GitLabSim, call: Call) -> Response:
    if access_level(call.proj, call.user) < 40:
        raise SimError(403, "403 Forbidden")
    return page(
        call.request, [h.json() for h in sim._hooks.values() if h.project_id == call.proj.id]
    )


@route("GET", PROJECT + "/hooks/{hook_id:int}/events")
def _list_events(sim: GitLabSim, call: Call) -> Response:
    hook = _hook(sim, call)
    return page(call.request, [_shown(e) for e in sim._hook_events[hook.id]])


@route("POST", PROJECT + "/hooks/{hook_id:int}/events/{event_id:int}/resend")
def _resend(sim: GitLabSim, call: Call) -> Response:
    hook = _hook(sim, call)
    event_id = int(call.params["event_id"])
    event = next((e for e in sim._hook_events[hook.id] if e["id"] == event_id), None)
    if event is None:
        raise not_found("Hook event")
    sim.hook_resends.append((hook.id, event_id))
    again = sim._send(hook, event["_event"], event["_headers"], event["request_data"])
    return JSONResponse({"response_status": again["response_status"]}, 201)
