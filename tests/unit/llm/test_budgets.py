import pytest

from app.config import Settings
from app.llm.budgets import BudgetLimits, Spent, budget_limits, check_budgets
from app.llm.errors import BudgetExhausted
from app.llm.routing import RepoLLMConfig


def test_within_budgets_passes() -> None:
    check_budgets(BudgetLimits(1.0, 10.0), Spent(0.5, 5.0), 0.4)
    check_budgets(BudgetLimits(), Spent(1e6, 1e6), 1e6)


def test_run_budget_names_itself_and_how_to_raise_it() -> None:
    with pytest.raises(BudgetExhausted) as caught:
        check_budgets(BudgetLimits(1.0, 10.0), Spent(0.9, 0.9), 0.2)
    assert "run budget of $1.00" in str(caught.value)
    assert "AGENTOPS_BUDGET_RUN_USD" in str(caught.value)


def test_tenant_month_budget_names_itself_and_how_to_raise_it() -> None:
    with pytest.raises(
        BudgetExhausted, match=r"monthly tenant budget of \$10\.00.*TENANT_MONTH_USD"
    ):
        check_budgets(BudgetLimits(None, 10.0), Spent(0.0, 9.95), 0.1)


def test_a_repository_may_lower_the_run_budget_but_not_raise_it() -> None:
    settings = Settings(budget_run_usd=2.0)
    lower = budget_limits(settings, RepoLLMConfig.model_validate({"budgets": {"run_usd": 0.5}}))
    assert lower.run_usd == 0.5 and ".agentops.yml" in lower.run_how_to_raise
    higher = budget_limits(settings, RepoLLMConfig.model_validate({"budgets": {"run_usd": 9}}))
    assert higher.run_usd == 2.0 and "AGENTOPS_BUDGET_RUN_USD" in higher.run_how_to_raise
