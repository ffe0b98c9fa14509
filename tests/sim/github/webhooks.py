"""Webhook payloads in GitHub's shapes, built from the simulator's state, and the
settings of a service process pointed at the simulator."""

from __future__ import annotations

from typing import Any

from tests.sim.github.hooks import signed_request
from tests.sim.github.shapes import (
    check_json,
    comment_json,
    issue_json,
    pull_json,
    record_labeled,
    repo_json,
    store_comment,
)
from tests.sim.github.state import GitHubState, later_than, user_json


class Webhooks(GitHubState):
    def service_env(self, webhook_secret: str) -> dict[str, str]:
        """`AGENTOPS_GITHUB_*` variables that point a service process at this simulator."""
        return {
            "AGENTOPS_GITHUB_APP_ID": str(self.app_id),
            "AGENTOPS_GITHUB_APP_SLUG": self.slug,
            "AGENTOPS_GITHUB_PRIVATE_KEY": self.private_key_pem,
            "AGENTOPS_GITHUB_WEBHOOK_SECRET": webhook_secret,
            "AGENTOPS_GITHUB_API_URL": self.base_url.rstrip("/") + self.api_prefix,
        }

    def deliver(self, event: str, payload: dict[str, Any]) -> str:
        """Send `event` to the App's hook URL as GitHub does (once); its delivery id."""
        return self.hooks.send(event, payload).guid

    @staticmethod
    def webhook_request(
        event: str, payload: dict[str, Any], secret: str, delivery: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers GitHub would POST (signed with `X-Hub-Signature-256`)."""
        return signed_request(event, payload, secret, delivery)

    def _event_base(self, repo: str, action: str, sender: str) -> dict[str, Any]:
        web, api = self._urls()
        sim_repo = self._repo(repo)
        return {
            "action": action,
            "sender": user_json(sender),
            "repository": repo_json(sim_repo, web, api),
            "installation": {"id": sim_repo.installation_id},
        }

    def webhook_issue_comment_event(
        self,
        repo: str,
        number: int,
        body: str,
        *,
        user: str = "alice",
        association: str = "OWNER",
        comment_id: int | None = None,
        action: str = "created",
    ) -> dict[str, Any]:
        """An `issue_comment` payload; the comment is created in the sim unless given."""
        with self._lock:
            if comment_id is None:
                comment_id = store_comment(self, repo, number, body, user, association)["id"]
            assert comment_id is not None
            comment = self._comments[comment_id]
            payload = self._event_base(repo, action, user)
            web, api = self._urls()
            payload["issue"] = issue_json(self._repo(repo), number, web, api)
            payload["comment"] = comment_json(comment, web, web.rstrip("/"))
            payload["comment"].pop("edits")
            payload["comment"]["performed_via_github_app"] = None
            return payload

    def webhook_labeled_event(
        self, repo: str, number: int, label: str, *, user: str = "alice"
    ) -> tuple[str, dict[str, Any]]:
        """`(event, payload)`: `issues` or, on a PR, `pull_request` with action `labeled`.

        The label is added to the issue in the sim.
        """
        with self._lock:
            sim_repo = self._repo(repo)
            issue = sim_repo.issues[number]
            if label not in issue["labels"]:
                issue["labels"].append(label)
            issue["updated_at"] = later_than(issue["updated_at"])  # labeling moves it
            record_labeled(self, repo, number, label, user)
            payload = self._event_base(repo, "labeled", user)
            payload["label"] = {"name": label}
            web, api = self._urls()
            if number in sim_repo.pulls:
                payload["number"] = number
                payload["pull_request"] = pull_json(sim_repo, number, web, api)
                return "pull_request", payload
            payload["issue"] = issue_json(sim_repo, number, web, api)
            return "issues", payload

    def webhook_check_run_event(
        self,
        repo: str,
        check_run_id: int,
        identifier: str,
        *,
        user: str = "alice",
        action: str = "requested_action",
    ) -> dict[str, Any]:
        """A `check_run` payload: a person pressed the button `identifier`."""
        with self._lock:
            sim_repo = self._repo(repo)
            run = next(r for r in sim_repo.check_runs if r["id"] == check_run_id)
            payload = self._event_base(repo, action, user)
            payload["check_run"] = check_json(self, sim_repo, run, self.base_url + "/")
            payload["requested_action"] = {"identifier": identifier}
            return payload

    def webhook_installation_event(
        self, installation_id: int, action: str = "created", user: str | None = None
    ) -> dict[str, Any]:
        """An `installation` payload (created, deleted, suspend, unsuspend)."""
        with self._lock:
            installation = self._installations[installation_id]
            repos = [
                {
                    "id": r.id,
                    "full_name": r.full_name,
                    "name": r.full_name.split("/")[1],
                    "private": r.private,
                }
                for r in self._repos.values()
                if r.installation_id == installation_id
            ]
            return {
                "action": action,
                "sender": user_json(user or installation.account),
                "installation": {
                    "id": installation_id,
                    "account": user_json(installation.account),
                    "app_id": self.app_id,
                },
                "repositories": repos,
            }
