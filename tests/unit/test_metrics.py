"""/metrics text: names a repository or a person chose never become label values, and a
hostile model name cannot add lines."""

from prometheus_client.parser import text_string_to_metric_families

from app.metrics import exposition
from app.metrics.labels import endpoint_family, method_class, status_class
from app.metrics.scrape import QueueBacklog, ScrapeValues


def _samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def test_a_hostile_model_name_stays_inside_its_label_and_becomes_other() -> None:
    hostile = 'anthropic:x"}\nagentops_runs{status="succeeded"} 999999\nx{a="'
    text = exposition(ScrapeValues({"succeeded": 2}, None, {hostile: 42.0})).decode()
    assert _samples(text, "agentops_runs") == [
        ({"status": "queued"}, 0),
        ({"status": "running"}, 0),
        ({"status": "succeeded"}, 2),
        ({"status": "failed"}, 0),
        ({"status": "cancelled"}, 0),
    ]
    assert _samples(text, "agentops_llm_model_cooldown_seconds") == [({"model": "other"}, 42.0)]
    assert _samples(text, "agentops_llm_models_in_cooldown") == [({}, 1)]


def test_a_known_model_keeps_its_name_and_an_unknown_status_is_other() -> None:
    values = ScrapeValues(
        {"queued": 3, "made-up": 4},
        QueueBacklog(depth=3, oldest_age_seconds=12.5),
        {"anthropic:claude-sonnet-4-6": 30.0},
    )
    text = exposition(values).decode()
    assert ({"status": "other"}, 4) in _samples(text, "agentops_runs")
    assert _samples(text, "agentops_queue_depth") == [({}, 3)]
    assert _samples(text, "agentops_queue_oldest_age_seconds") == [({}, 12.5)]
    assert _samples(text, "agentops_llm_model_cooldown_seconds") == [
        ({"model": "anthropic:claude-sonnet-4-6"}, 30.0)
    ]


def test_values_not_read_are_left_out() -> None:
    text = exposition(ScrapeValues(None, None, None)).decode()
    for name in ("agentops_runs", "agentops_queue_depth", "agentops_llm_models_in_cooldown"):
        assert not _samples(text, name)


def test_forge_paths_become_endpoint_families_without_names_or_numbers() -> None:
    assert endpoint_family("/repos/evil-org/secret-repo/issues/12/comments") == "issues"
    assert endpoint_family("/api/v3/repos/o/n/check-runs/7") == "check-runs"
    assert endpoint_family("/api/v4/projects/g%2Fsub%2Fp/merge_requests/1/notes") == (
        "merge_requests"
    )
    assert endpoint_family("/app/installations/5/access_tokens") == "app"
    assert endpoint_family("/repos/o/n/made-up-thing") == "other"
    assert endpoint_family("/evil-org") == "other"
    assert endpoint_family("/") == "other"
    assert (status_class(201), status_class(404), status_class(None)) == ("2xx", "4xx", "error")
    assert (method_class("get"), method_class("PATCH")) == ("read", "write")
