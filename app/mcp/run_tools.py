"""The run tools of `/mcp`: `list_runs`, `run_status`, `start_run`, `cancel_run`.

Both kinds of token read every tenant's runs (the admin token as `GET /api/runs` does;
an operator as `OPERATOR_LOGINS` lets them on the run pages); a run's steps, events and
costs are read in a reader transaction of its own tenant (row-level security). Starting
and cancelling file a run request through the intake, the durable path a comment takes,
as the token's person, on the token's forge (where `start_run` files is in
app/mcp/start_target.py); the worker checks their write access as for a comment. The
admin token belongs to no one and acts on nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import asyncpg

from app.commands import COMMANDS, parse_comment
from app.events import RunRequest
from app.forges.registry import ForgeRegistry
from app.mcp.errors import ToolRefusal
from app.mcp.run_models import Filed, RunList, RunStatus, RunSummary, StepSummary
from app.mcp.start_target import checked_kind, checked_name, known_target, unknown_target
from app.mcp.tokens import Principal
from app.runpage.control import control_request
from app.store import DATABASE_ERRORS
from app.store import llm_calls as llm_store
from app.store import runs as run_store
from app.store import steps as step_store
from app.store import tenants as tenant_store
from app.store.readers import latest_run_all_tenants, list_runs_filtered_all_tenants
from app.store.runs import Run
from app.web_service import Service

STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
STARTABLE = tuple(c for c in COMMANDS if c not in ("help", "cancel"))
MAX_COMMAND_CHARS = 65536  # what a GitHub comment may hold
MAX_NUMBER = 2**31 - 1  # the runs table's target_number


@asynccontextmanager
async def _owner(service: Service) -> AsyncIterator[asyncpg.Connection]:
    if service.db is None:
        raise ToolRefusal("the database is not connected yet: try again in a moment")
    try:
        async with service.db.admin() as conn:
            yield conn
    except DATABASE_ERRORS:
        raise ToolRefusal("the database is unreachable: try again in a moment") from None


async def list_runs(
    service: Service,
    repo: str | None = None,
    status: str | None = None,
    limit: int = 20,
    before: int | None = None,
) -> RunList:
    if status is not None and status not in STATUSES:
        raise ToolRefusal(f"status must be one of {', '.join(STATUSES)}")
    if not 1 <= limit <= 200:
        raise ToolRefusal("limit must be between 1 and 200")
    async with _owner(service) as conn:
        runs = await list_runs_filtered_all_tenants(
            conn, limit + 1, before=before, status=status, repo=repo or None
        )
    url = service.settings.public_url
    return RunList(
        runs=[RunSummary.of(r, url) for r in runs[:limit]],
        next_before=runs[limit - 1].id if len(runs) > limit else None,
    )


async def find_run(service: Service, run_id: int) -> Run:
    async with _owner(service) as conn:
        run = await run_store.get_run_all_tenants(conn, run_id)
    if run is None:
        raise ToolRefusal(f"there is no run {run_id}")
    return run


async def run_status(service: Service, run_id: int) -> RunStatus:
    run = await find_run(service, run_id)
    assert service.db is not None
    try:
        async with service.db.readers([run.tenant_id]) as rc:
            steps = await step_store.list_steps(rc.conn, run.id)
            usage = await llm_store.llm_usage_of_run(rc, run.id)
    except DATABASE_ERRORS:
        raise ToolRefusal("the database is unreachable: try again in a moment") from None
    summary = RunSummary.of(run, service.settings.public_url)
    links = {
        "page": summary.page,
        "log": f"agentops://runs/{run.id}/log",
        "diff": f"agentops://runs/{run.id}/diff",
    }
    for step in steps:
        pr_url = getattr(step.record, "pr_url", None)
        if isinstance(pr_url, str) and pr_url:
            links["pull_request"] = pr_url
    return RunStatus(
        run=summary,
        steps=[StepSummary.of(s) for s in steps if s.shown],
        cost_usd=round(sum(u.cost_usd for u in usage), 6),
        model_calls=sum(u.calls for u in usage),
        error=run.error,
        links=links,
        result=run.result,
    )


def _person(principal: Principal, action: str) -> tuple[str, str]:
    if principal.forge is None or principal.login is None:
        raise ToolRefusal(
            f"the admin token belongs to no one and cannot {action}: use your own token "
            "(AGENTOPS_MCP_TOKENS), so that the forge's write access can be checked"
        )
    return principal.forge, principal.login


async def start_run(
    service: Service,
    registry: ForgeRegistry,
    principal: Principal,
    repository: str,
    target_kind: Literal["issue", "pull_request"],
    number: int,
    command: str,
) -> Filed:
    """File `command` on `repository`'s issue or pull request as the token's person, on
    their forge: the tenant and context of the newest run there, or (a repository with no
    run yet on GitHub) of the App's installation GitHub names (app/mcp/start_target.py)."""
    forge, login = _person(principal, "start a run")
    if len(command) > MAX_COMMAND_CHARS:
        raise ToolRefusal(f"command is longer than {MAX_COMMAND_CHARS} characters")
    asked = parse_comment(f"/agentops {command.strip()}")
    if asked is None or asked.unknown is not None or asked.name not in STARTABLE:
        raise ToolRefusal(f"command must start with one of {', '.join(STARTABLE)}")
    if not 1 <= number <= MAX_NUMBER:
        raise ToolRefusal("number must be a positive issue or pull request number")
    name = checked_name(forge, repository)
    async with _owner(service) as conn:
        known = await latest_run_all_tenants(conn, forge, name)
        tenant = await tenant_store.get_tenant(conn, known.tenant_id) if known else None
    if known is not None and tenant is not None and tenant.active:
        target = known_target(known, tenant)
    else:
        target = await unknown_target(registry, forge, name)
    await checked_kind(registry, forge, target, target_kind, number, asked.name, STARTABLE)
    key = uuid.uuid4().hex
    request = RunRequest(
        tenant=target.tenant,
        repo=target.repo,
        target_kind=target_kind,
        target_number=number,
        command=asked,
        requested_by=login,
        trigger="web",
        trigger_key=f"web:mcp:{key}",
        context={**target.context, "asked_on": "mcp"},
    )
    return await _file(service, request, f"mcp-{key}", login)


async def cancel_run(service: Service, principal: Principal, run_id: int) -> Filed:
    _, login = _person(principal, "cancel a run")
    run = await find_run(service, run_id)
    if run.finished:
        raise ToolRefusal(f"run {run_id} has already ended ({run.status})")
    async with _owner(service) as conn:
        tenant = await tenant_store.get_tenant(conn, run.tenant_id)
    if tenant is None:
        raise ToolRefusal(f"there is no run {run_id}")
    request = control_request(run, tenant, "cancel", login, "mcp")
    return await _file(service, request, f"mcp-{uuid.uuid4().hex}", login)


async def _file(service: Service, request: RunRequest, delivery_id: str, login: str) -> Filed:
    try:
        result = await service.intake.accept(request, delivery_id, "mcp")
    except DATABASE_ERRORS:
        raise ToolRefusal("the database is unreachable: nothing was filed") from None
    if result.status_code >= 400:
        raise ToolRefusal(f"not filed: {result.text}")
    page = (
        f"{service.settings.public_url.rstrip('/')}/runs/{result.run_id}"
        if result.run_id is not None
        else None
    )
    return Filed(run_id=result.run_id, outcome=result.text, requested_by=login, page=page)
