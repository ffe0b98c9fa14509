"""Check runs (with every state a user saw) and commit statuses."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from tests.sim.github.http import body_of, invalid, route
from tests.sim.github.shapes import check_json
from tests.sim.github.state import Call, GitHubState, SimRepo, iso
from tests.sim.skeleton import SimError

if TYPE_CHECKING:
    from tests.sim.github.app import GitHubSim

CHECK_STATUSES = {"queued", "in_progress", "completed", "waiting", "requested", "pending"}
CONCLUSIONS = {
    "success",
    "failure",
    "cancelled",
    "neutral",
    "skipped",
    "timed_out",
    "action_required",
    "stale",
}
MAX_OUTPUT = 65_535


class ChecksReading(GitHubState):
    def check_runs(self, repo: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._repo(repo).check_runs)

    def check_run_of(self, repo: str, run_id: int) -> dict[str, Any]:
        """The check run AgentOps made for its run `run_id` (its external id)."""
        return next(c for c in self.check_runs(repo) if c["external_id"] == str(run_id))

    def statuses(self, repo: str) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._repo(repo).statuses)


def _output(output: Any) -> dict[str, Any]:
    if not isinstance(output, dict) or not output.get("title") or not output.get("summary"):
        raise invalid("CheckRun", "output", "missing_field")
    for key in ("summary", "text"):
        if len(str(output.get(key, "")).encode()) > MAX_OUTPUT:
            raise invalid(
                "CheckRun",
                f"output.{key}",
                message=f"Only 65535 characters "
                f"are allowed; {len(str(output[key]))} were supplied.",
            )
    return {"title": output["title"], "summary": output["summary"], "text": output.get("text")}


def _actions(actions: Any) -> Any:
    if len(actions) > 3:
        raise invalid("CheckRun", "actions", message="Only 3 actions are allowed")
    for action in actions:
        if (
            len(action.get("label", "")) > 20
            or len(action.get("identifier", "")) > 20
            or len(action.get("description", "")) > 40
        ):
            raise invalid("CheckRun", "actions")
    return actions


def _check_fields(body: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key in ("name", "head_sha", "details_url", "external_id"):
        if key in body:
            fields[key] = body[key]
    if "status" in body:
        if body["status"] not in CHECK_STATUSES:
            raise invalid("CheckRun", "status")
        fields["status"] = body["status"]
    if "conclusion" in body:
        if body["conclusion"] not in CONCLUSIONS:
            raise invalid("CheckRun", "conclusion")
        fields["conclusion"], fields["status"] = body["conclusion"], "completed"
        fields["completed_at"] = iso()
    if "output" in body:
        fields["output"] = _output(body["output"])
    if "actions" in body:
        fields["actions"] = _actions(body["actions"])
    return fields


@route("POST", "/repos/{owner}/{repo}/check-runs")
def _create_check(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    repo, body = sim._visible_repo(call), body_of(call)
    if not body.get("name") or not body.get("head_sha"):
        raise invalid("CheckRun", "name" if not body.get("name") else "head_sha", "missing_field")
    fields = _check_fields(body)
    if fields.get("status") == "completed" and "conclusion" not in fields:
        raise invalid("CheckRun", "conclusion", "missing_field")
    run = {
        "id": sim._next_id(),
        "status": "queued",
        "conclusion": None,
        "output": None,
        "actions": [],
        "details_url": None,
        "started_at": iso(),
        "completed_at": None,
        **fields,
    }
    run["history"] = [copy.deepcopy(run)]
    repo.check_runs.append(run)
    return 201, check_json(sim, repo, run, call.web)


def _find_check(sim: GitHubSim, call: Call) -> tuple[SimRepo, dict[str, Any]]:
    repo = sim._visible_repo(call)
    for run in repo.check_runs:
        if run["id"] == int(call.params["check_run_id"]):
            return repo, run
    raise SimError(404, "Not Found")


@route("GET", "/repos/{owner}/{repo}/check-runs/{check_run_id}")
def _get_check(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    repo, run = _find_check(sim, call)
    return 200, check_json(sim, repo, run, call.web)


@route("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}")
def _update_check(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    repo, run = _find_check(sim, call)
    fields = _check_fields(body_of(call))
    if (
        fields.get("status") == "completed"
        and "conclusion" not in fields
        and run["conclusion"] is None
    ):
        raise invalid("CheckRun", "conclusion", "missing_field")
    run.update(fields)
    run["history"].append({k: copy.deepcopy(v) for k, v in run.items() if k != "history"})
    return 200, check_json(sim, repo, run, call.web)


@route("POST", "/repos/{owner}/{repo}/statuses/{sha}")
def _create_status(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    repo, body = sim._visible_repo(call), body_of(call)
    if body.get("state") not in {"error", "failure", "pending", "success"}:
        raise invalid("Status", "state")
    status = {
        "id": sim._next_id(),
        "sha": call.params["sha"],
        "state": body["state"],
        "context": body.get("context", "default"),
        "description": body.get("description"),
        "target_url": body.get("target_url"),
        "created_at": iso(),
    }
    repo.statuses.append(status)
    return 201, status
