"""Metrics through the real processes: `agentops serve --workers 2` (multiprocess metrics)
and `agentops worker` with its metrics port, both behind the metrics token. Two review
runs go through the simulators: one as configured, one from a hostile repository whose
`.agentops.yml` names a made-up model. Both endpoints are scraped over HTTP and parsed
with prometheus_client's parser; the dashboard's queries and the alert rules must parse
and name only metrics these processes export. On the same processes, afterwards: the two
intake processes share one port, and every delivery becomes a run."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e import github_events as events
from tests.e2e import implement_script as script
from tests.e2e.conftest import GITHUB_SECRET
from tests.e2e.harness import ROOT, Service, wait_for
from tests.e2e.promql_names import metric_names
from tests.sim.github import GitHubSim
from tests.sim.llm_sim import LLMSimulator, structured
from tests.sim.serve import free_port

pytestmark = pytest.mark.e2e
TOKEN = "e2e-metrics-token-0123456789"
REVIEWER = "sim-reviewer"  # the operator's model
MADE_UP = "made-up-model-5f3a"  # named only by the hostile repository
HOSTILE_REPO = "evil-corp/cardinality-probe-91d2"
HOSTILE_DELIVERY = "delivery-probe-0c4e7b"
PINGS = 12
ANSWER = {"summary": "Looks fine.", "comments": []}
DASHBOARD = ROOT / "deploy/grafana/agentops.json"
ALERTS = ROOT / "deploy/prometheus/alerts.yml"
ADAPTER_RULES = ROOT / "deploy/k8s/prometheus-adapter-rules.yaml"
INTAKES_REPO = "acme/workers"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@dataclass(frozen=True)
class Scrape:
    text: str

    @property
    def samples(self) -> Samples:
        return {
            (s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(self.text)
            for s in family.samples
        }

    def value(self, name: str, **labels: str) -> float:
        return self.samples.get((name, frozenset(labels.items())), 0.0)

    def total(self, name: str, **labels: str) -> float:
        """The sum over every series of `name` whose labels include `labels`."""
        wanted = set(labels.items())
        return sum(v for (n, ls), v in self.samples.items() if n == name and wanted <= ls)

    def names(self) -> set[str]:
        """Every name a query may use: each family's samples, and the suffixes of its
        type (a counter or histogram with no sample yet is exported all the same)."""
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
        found: set[str] = set()
        for family in text_string_to_metric_families(self.text):
            found |= {s.name for s in family.samples}
            found |= {family.name + suffix for suffix in suffixes.get(family.type, ("",))}
        return found

    def label_values(self) -> set[str]:
        """The label values of AgentOps's own metrics (a histogram's `le` aside)."""
        return {
            value
            for name, labels in self.samples
            if name.startswith("agentops_")
            for label, value in labels
            if label != "le"
        }


@dataclass(frozen=True)
class Exported:
    web: Scrape
    worker: Scrape
    refused: list[int]  # the answers to scrapes without the token
    before_hostile: Scrape  # the worker's, before the hostile repository's run


def scrape(url: str, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(url, headers=headers, timeout=10)


@pytest.fixture(scope="module")
def extra_env(llm: tuple[LLMSimulator, str]) -> dict[str, str]:
    return script.reviewer_env(llm[1], REVIEWER) | {
        "AGENTOPS_METRICS_TOKEN": TOKEN,
        "AGENTOPS_METRICS_PORT": str(free_port()),
    }


@pytest.fixture(scope="module")
def intakes() -> int:
    return 2  # `agentops serve --workers 2`: its metrics are multiprocess


def review(service: Service, gh: GitHubSim, repo: str, delivery: str | None = None) -> int:
    gh.set_permission(repo, "alice", "write")
    gh.push_branch(repo, "change", {"calc.py": "def add(a, b):\n    return b + a\n"})
    number = gh.add_pull(repo, "change", title="Swap", body="", user="alice")
    run_id = script.comment_command(
        service, gh, repo, number, "/agentops review", pull_request=True, delivery=delivery
    )
    run = wait_for(lambda: service.finished(run_id), 90, what=f"run {run_id}")
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])
    return run_id


@pytest.fixture(scope="module")
def exported(
    service: Service,
    github: tuple[GitHubSim, str],
    llm: tuple[LLMSimulator, str],
    workdir: Path,
) -> Exported:
    gh, _ = github
    sim, _ = llm
    gh.add_repo("acme/metrics", {"calc.py": "def add(a, b):\n    return a + b\n"})
    sim.script(REVIEWER, structured(ANSWER))
    review(service, gh, "acme/metrics")
    # deliveries at once, spread over both intake processes: each is counted once
    with ThreadPoolExecutor(PINGS) as pool:
        pings = list(pool.map(lambda _: service.post_github("ping", {}, GITHUB_SECRET),
                              range(PINGS)))  # fmt: skip
    assert [p.status_code for p in pings] == [200] * PINGS
    worker_url = f"http://127.0.0.1:{service.env['AGENTOPS_METRICS_PORT']}/metrics"
    before_hostile = Scrape(scrape(worker_url).text)
    hostile_config = f"models:\n  reviewer: ['anthropic:{MADE_UP}']\n"
    gh.add_repo(
        HOSTILE_REPO,
        {"calc.py": "def add(a, b):\n    return a + b\n", ".agentops.yml": hostile_config},
    )
    sim.script(MADE_UP, structured(ANSWER))
    review(service, gh, HOSTILE_REPO, HOSTILE_DELIVERY)
    assert sim.requests_for(MADE_UP), "the hostile repository's model was not used"

    web_url = f"{service.url}/metrics"

    def web_when_queue_empty() -> Scrape | None:
        web = Scrape(scrape(web_url).text)
        return web if web.samples.get(("agentops_queue_depth", frozenset())) == 0 else None

    web = wait_for(web_when_queue_empty, 20, what="the queue to be empty on /metrics")
    worker = scrape(worker_url)
    assert worker.status_code == 200, worker.text
    (workdir / "web.metrics").write_text(web.text)  # for a failure's reader
    (workdir / "worker.metrics").write_text(worker.text)
    refused = [scrape(url, token).status_code for url in (web_url, worker_url)
               for token in (None, "wrong")]  # fmt: skip
    return Exported(web, Scrape(worker.text), refused, before_hostile)


def test_what_a_user_checks_is_exported(exported: Exported) -> None:
    web, worker = exported.web, exported.worker
    assert exported.refused == [401, 401, 401, 401]
    # both deliveries, whichever of the two intake processes answered them
    assert web.value("agentops_webhooks_total", forge="github", outcome="202") == 2
    assert web.value("agentops_webhooks_total", forge="github", outcome="200") == PINGS
    assert web.value("agentops_webhook_seconds_count", forge="github") == 2 + PINGS
    assert web.value("agentops_queue_depth") == 0
    assert web.value("agentops_queue_oldest_age_seconds") == 0
    assert web.value("agentops_runs", status="succeeded") == 2
    assert web.value("agentops_runs", status="queued") == 0

    runs = worker.value("agentops_run_seconds_count", command="review", status="succeeded")
    assert runs == 2
    assert worker.value("agentops_run_seconds_sum", command="review", status="succeeded") > 0
    assert worker.value("agentops_step_seconds_count", step="review", outcome="succeeded") == 2
    model = f"anthropic:{REVIEWER}"
    ok = {"provider": "anthropic", "model": model, "outcome": "ok"}
    assert worker.value("agentops_llm_calls_total", **ok) == 1
    assert worker.value("agentops_llm_call_seconds_count", **ok) == 1
    for kind in ("input", "output"):
        tokens = worker.value(
            "agentops_llm_tokens_total", provider="anthropic", model=model, kind=kind
        )
        assert tokens > 0, kind
    assert worker.total("agentops_forge_calls_total", forge="github", status="2xx") > 0
    assert worker.total("agentops_forge_calls_total", forge="github", endpoint="pulls") > 0
    assert worker.total("agentops_forge_calls_total", method="write") > 0


def test_hostile_names_become_no_label_values(exported: Exported) -> None:
    # the made-up model's call is counted, under `other`
    other = {"provider": "anthropic", "model": "other", "outcome": "ok"}
    assert exported.worker.value("agentops_llm_calls_total", **other) == 1
    # the same kind of run from a hostile repository adds no label value but `other`
    added = exported.worker.label_values() - exported.before_hostile.label_values()
    assert added <= {"other"}, added
    values = exported.web.label_values() | exported.worker.label_values()
    for chosen_by_others in (MADE_UP, "evil-corp", "cardinality-probe", HOSTILE_DELIVERY, "alice"):
        assert not [v for v in values if chosen_by_others in v], chosen_by_others
    # nothing else than fixed names: no number of an issue, a pull request or a run
    numeric = [v for v in values if v.isdigit() and v not in {"200", "202"}]
    assert not numeric


def exported_names(exported: Exported) -> set[str]:
    return exported.web.names() | exported.worker.names()


def test_every_alert_parses_and_names_exported_metrics(exported: Exported) -> None:
    rules = [
        rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]
    ]
    wanted = {
        "AgentOpsQueueAgeHigh",
        "AgentOpsRunFailureRate",
        "AgentOpsLLMCostRate",
        "AgentOpsWebhook5xx",
        "AgentOpsWorkerNotConsuming",
    }
    assert wanted <= {rule["alert"] for rule in rules}
    known = exported_names(exported)
    for rule in rules:
        names = metric_names(rule["expr"])  # raises on a query that does not parse
        assert names, rule["alert"]
        assert names <= known, (rule["alert"], names - known)


def _panel_queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def test_every_dashboard_query_parses_and_names_exported_metrics(exported: Exported) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    assert all(p["gridPos"]["x"] + p["gridPos"]["w"] <= 24 for p in panels)
    queries = list(_panel_queries(dashboard))
    assert len(queries) >= 10
    known = exported_names(exported)
    for title, expr in queries:
        names = metric_names(expr.replace("$__rate_interval", "5m"))
        assert names, title
        assert names <= known, (title, names - known)


def test_the_autoscalers_series_are_exported(exported: Exported) -> None:
    # deploy/k8s scales the workers on these: a renamed metric would stop the scaling
    rules = yaml.safe_load(ADAPTER_RULES.read_text())["rules"]["external"]
    known = exported_names(exported)
    series = [metric_names(rule["seriesQuery"]) for rule in rules]
    assert {"agentops_queue_depth", "agentops_queue_oldest_age_seconds"} <= set().union(*series)
    for names in series:
        assert names and names <= known, (names, names - known)


def test_two_intake_processes_share_the_port_and_every_delivery_becomes_a_run(
    service: Service, exported: Exported, github: tuple[GitHubSim, str]
) -> None:
    # `exported` first: the counts above are scraped before these runs add to them
    gh, _ = github
    gh.add_repo(INTAKES_REPO, {"README.md": "hi\n"})
    gh.set_permission(INTAKES_REPO, "alice", "admin")
    started = wait_for(
        lambda: (
            set(re.findall(r"Started server process \[(\d+)\]", service.web.output()))
            if service.web.output().count("Application startup complete") >= 2
            else None
        ),
        30,
        what="both intake processes",
    )
    assert len(started) == 2

    def command(n: int) -> int:
        _, payload = events.command_on_new_issue(gh, INTAKES_REPO, f"Issue {n}")
        answer = service.post_github("issue_comment", payload, GITHUB_SECRET)
        assert answer.status_code == 202, answer.text
        return int(answer.text.split()[-1])

    with ThreadPoolExecutor(8) as pool:
        run_ids = list(pool.map(command, range(16)))
    assert len(set(run_ids)) == 16
    for run_id in run_ids:
        run = wait_for(partial(service.finished, run_id), 60, what=f"run {run_id}")
        assert run["status"] == "succeeded"
    assert "Traceback" not in service.web.output()
