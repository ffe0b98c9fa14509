"""Budgets: per tenant per calendar month (UTC) and per run, checked before every call.

The run budget is `AGENTOPS_BUDGET_RUN_USD`; a repository may set a lower one in
`.agentops.yml` (`budgets: run_usd:`) but never a higher one. The tenant budget is
`AGENTOPS_BUDGET_TENANT_MONTH_USD`. An unset budget is unlimited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from app.config import Settings
from app.llm.errors import BudgetExhausted
from app.llm.routing import RepoLLMConfig


@dataclass(frozen=True)
class BudgetLimits:
    run_usd: float | None = None
    tenant_month_usd: float | None = None
    run_how_to_raise: str = "set AGENTOPS_BUDGET_RUN_USD"


@dataclass(frozen=True)
class Spent:
    run_usd: float = 0.0
    tenant_month_usd: float = 0.0


def budget_limits(settings: Settings, repo: RepoLLMConfig | None = None) -> BudgetLimits:
    operator = settings.budget_run_usd
    repo_run = repo.budgets.run_usd if repo is not None else None
    if repo_run is not None and (operator is None or repo_run < operator):
        how = "raise budgets.run_usd in the repository's .agentops.yml"
        if operator is not None:
            how += f" (up to AGENTOPS_BUDGET_RUN_USD, ${operator:.2f})"
        return BudgetLimits(repo_run, settings.budget_tenant_month_usd, how)
    return BudgetLimits(operator, settings.budget_tenant_month_usd, "raise AGENTOPS_BUDGET_RUN_USD")


def check_budgets(limits: BudgetLimits, spent: Spent, estimate_usd: float) -> None:
    """Raise `BudgetExhausted` when a call estimated at `estimate_usd` would overrun."""
    if limits.run_usd is not None and spent.run_usd + estimate_usd > limits.run_usd:
        raise BudgetExhausted(
            "run", limits.run_usd, spent.run_usd, estimate_usd, limits.run_how_to_raise
        )
    if (
        limits.tenant_month_usd is not None
        and spent.tenant_month_usd + estimate_usd > limits.tenant_month_usd
    ):
        raise BudgetExhausted(
            "monthly tenant",
            limits.tenant_month_usd,
            spent.tenant_month_usd,
            estimate_usd,
            "raise AGENTOPS_BUDGET_TENANT_MONTH_USD, or wait for the next month (UTC)",
        )


def month_start(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
