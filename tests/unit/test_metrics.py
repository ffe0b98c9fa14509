"""/metrics text: a model name from a repository's `.agentops.yml` cannot add lines."""

from app.metrics import Metrics


def test_a_hostile_model_name_stays_inside_its_label() -> None:
    hostile = 'anthropic:x"}\nagentops_runs{status="succeeded"} 999999\nx{a="'
    text = Metrics().render({}, {hostile: 42.0})
    lines = text.splitlines()
    assert not any(line.startswith('agentops_runs{status="succeeded"} 999999') for line in lines)
    cooldown = [line for line in lines if line.startswith("agentops_llm_model_cooldown_seconds{")]
    assert len(cooldown) == 1 and cooldown[0].endswith("} 42.0")
