"""In-process counters rendered as Prometheus text (`GET /metrics`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Metrics:
    webhooks: Counter[tuple[str, str]] = field(default_factory=Counter)
    webhook_seconds_sum: float = 0.0
    webhook_seconds_count: int = 0

    def observe_webhook(self, forge: str, outcome: str, seconds: float) -> None:
        self.webhooks[(forge, outcome)] += 1
        self.webhook_seconds_sum += seconds
        self.webhook_seconds_count += 1

    def render(
        self,
        runs_by_status: dict[str, int] | None = None,
        models_cooling: dict[str, float] | None = None,
    ) -> str:
        lines = [
            "# HELP agentops_webhooks_total Webhook deliveries by forge and outcome.",
            "# TYPE agentops_webhooks_total counter",
        ]
        for (forge, outcome), count in sorted(self.webhooks.items()):
            lines.append(f'agentops_webhooks_total{{forge="{forge}",outcome="{outcome}"}} {count}')
        lines += [
            "# HELP agentops_webhook_seconds Time to answer a webhook.",
            "# TYPE agentops_webhook_seconds summary",
            f"agentops_webhook_seconds_sum {self.webhook_seconds_sum:.6f}",
            f"agentops_webhook_seconds_count {self.webhook_seconds_count}",
        ]
        if runs_by_status is not None:
            lines += [
                "# HELP agentops_runs Runs by status.",
                "# TYPE agentops_runs gauge",
            ]
            for status, count in sorted(runs_by_status.items()):
                lines.append(f'agentops_runs{{status="{status}"}} {count}')
        if models_cooling is not None:
            lines += [
                "# HELP agentops_llm_models_in_cooldown Models every worker skips for now.",
                "# TYPE agentops_llm_models_in_cooldown gauge",
                f"agentops_llm_models_in_cooldown {len(models_cooling)}",
                "# HELP agentops_llm_model_cooldown_seconds Seconds left of a model's cooldown.",
                "# TYPE agentops_llm_model_cooldown_seconds gauge",
            ]
            for model, seconds in sorted(models_cooling.items()):
                label = _label_value(model)  # a repository's config may name the model
                lines.append(
                    f'agentops_llm_model_cooldown_seconds{{model="{label}"}} {seconds:.1f}'
                )
        return "\n".join(lines) + "\n"


def _label_value(text: str) -> str:
    """A Prometheus label value: backslash, double quote and newline escaped."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
