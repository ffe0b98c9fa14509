"""A request a person makes on AgentOps's own pages or tools (the run page's buttons, the
MCP tools): a run request with trigger `web`, filed through the intake like a comment's,
that the worker authorises with the same write-access check before it acts."""

from __future__ import annotations

from typing import Any

from app.commands import Command
from app.events import RunRequest, TenantKey
from app.store.runs import Run
from app.store.tenants import Tenant

_FORGE_CONTEXT = ("installation_id", "repo_id", "project_id", "instance_url")


def forge_context(run: Run) -> dict[str, Any]:
    """What the worker needs of a run's context to reach the forge (the installation, the
    project), as the webhook gave it for that run."""
    return {k: run.context[k] for k in _FORGE_CONTEXT if k in run.context}


def control_request(run: Run, tenant: Tenant, action: str, login: str, asked_on: str) -> RunRequest:
    """`cancel` or `retry` of `run`, asked by `login`: one per run and action, so a double
    click (or a loop, or a client's retry) files one control run."""
    return RunRequest(
        tenant=TenantKey(tenant.forge, tenant.external_key, tenant.account),
        repo=run.repo,
        target_kind=run.target_kind,  # type: ignore[arg-type]
        target_number=run.target_number,
        command=Command(action),  # type: ignore[arg-type]
        requested_by=login,
        trigger="web",
        trigger_key=f"web:{run.id}:{action}",
        context={**forge_context(run), "asked_on": asked_on},
        refers_to_run=run.id,
    )
