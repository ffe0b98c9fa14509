"""Check runs: the live progress display of a run on GitHub (one run named `AgentOps`).

Creating a check run is posted once (`create_once`): every run carries an `external_id`,
and a failed POST that may have been applied is looked for by that id on the head commit
before it is tried again.
"""

from __future__ import annotations

import uuid

from app.forges.base import CheckRef, CheckUpdate, Target
from app.forges.github.client import GitHubClient
from app.forges.github.format import check_run_payload
from app.forges.mentions import quiet_check
from app.forges.retry import create_once

CHECK_NAME = "AgentOps"


class GitHubChecks(GitHubClient):
    """The check-run side of the GitHub forge (see `GitHubForge`)."""

    async def start_check(
        self, repo: str, head_sha: str, update: CheckUpdate, target: Target | None = None
    ) -> CheckRef:
        update = quiet_check(update)
        external_id = update.external_id or uuid.uuid4().hex  # what `find_check` looks for
        payload = {
            "name": CHECK_NAME,
            "head_sha": head_sha,
            **check_run_payload(update),
            "external_id": external_id,
        }

        async def post() -> CheckRef:
            data = await self._api(
                "POST",
                "/repos/{owner}/{name}/check-runs",
                repo,
                data=payload,
                action="create a check run",
                once=True,
            )
            return CheckRef(
                repo=repo,
                head_sha=head_sha,
                id=int(data["id"]),
                name=str(data.get("name", CHECK_NAME)),
                target=target,
            )

        return await create_once(
            post,
            lambda: self.find_check(repo, head_sha, external_id, target),
            policy=self.app.retry,
            action="create a check run",
        )

    async def find_check(
        self, repo: str, head_sha: str, external_id: str, target: Target | None = None
    ) -> CheckRef | None:
        data = await self._api(
            "GET",
            "/repos/{owner}/{name}/commits/{sha}/check-runs{?check_name,filter,per_page}",
            repo,
            sha=head_sha,
            check_name=CHECK_NAME,
            filter="all",
            per_page=100,
            action="look for the check run",
        )
        ours = [
            run
            for run in (data or {}).get("check_runs", [])
            if run.get("name") == CHECK_NAME and run.get("external_id") == external_id
        ]
        if not ours:
            return None
        newest = max(ours, key=lambda run: int(run["id"]))
        return CheckRef(
            repo=repo,
            head_sha=head_sha,
            id=int(newest["id"]),
            name=CHECK_NAME,
            target=target,
        )

    async def update_check(self, ref: CheckRef, update: CheckUpdate) -> CheckRef:
        update = quiet_check(update)
        if ref.id is None:
            return await self.start_check(ref.repo, ref.head_sha, update, ref.target)
        await self._api(
            "PATCH",
            "/repos/{owner}/{name}/check-runs/{check_run_id}",
            ref.repo,
            data=check_run_payload(update),
            check_run_id=ref.id,
            action="update the check run",
        )
        return ref
