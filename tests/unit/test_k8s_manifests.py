"""deploy/k8s, rendered by kustomize for the base and each overlay: valid Kubernetes objects
that an operator's checks pass. Each check is also shown to catch a broken copy."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest
import yaml

from app.config import Settings, weak_webhook_secret
from tests.unit import k8s_manifest_checks as checks
from tests.unit.k8s_manifest_checks import Doc

TARGETS = ["base", "overlays/staging", "overlays/production"]
# The worker needs hostUsers with an unmasked /proc: on by default from 1.33. The newest
# schema the package ships is checked as well.
VERSIONS = ["1.33", kubernetes_validate.utils.latest_version()]
SECRETS = checks.load(checks.K8S / "secret.example.yaml")
ADAPTER_RULES: Doc = yaml.safe_load((checks.K8S / "prometheus-adapter-rules.yaml").read_text())


@functools.cache
def _rendered(target: str) -> tuple[Doc, ...]:
    return tuple(checks.render(target))


def rendered(target: str) -> list[Doc]:
    """A fresh copy of one target's documents, for a test to break at will."""
    return copy.deepcopy(list(_rendered(target)))


def doc(docs: list[Doc], kind: str, name: str) -> Doc:
    found = checks.find(docs, kind, name)
    assert found is not None, f"{kind}/{name} missing"
    return found


def container(docs: list[Doc], kind: str, name: str) -> Doc:
    first: Doc = checks.pod_template(doc(docs, kind, name))["spec"]["containers"][0]
    return first


def env(docs: list[Doc], workload: str, name: str) -> Doc:
    entries = container(docs, "Deployment", workload)["env"]
    return next(e for e in entries if e["name"] == name)


def test_every_target_renders_the_whole_deployment() -> None:
    for target in TARGETS:
        kinds = {d["kind"] for d in rendered(target)}
        assert {
            "Deployment",
            "Service",
            "Ingress",
            "Job",
            "NetworkPolicy",
            "PodDisruptionBudget",
            "HorizontalPodAutoscaler",
            "ConfigMap",
        } <= kinds, target


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("target", TARGETS)
def test_documents_match_the_kubernetes_schema(target: str, version: str) -> None:
    assert checks.schema_problems(rendered(target), version) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_the_secret_template_matches_the_schema_and_holds_placeholders(version: str) -> None:
    assert checks.schema_problems(SECRETS, version) == []
    assert checks.placeholder_problems(SECRETS) == []
    broken = copy.deepcopy(SECRETS)
    broken[0]["stringData"]["AGENTOPS_OPENAI_API_KEY"] = "sk-live-0123456789"
    assert checks.placeholder_problems(broken) == [
        "Secret/agentops-secrets: AGENTOPS_OPENAI_API_KEY is no placeholder"
    ]


def test_the_secret_template_as_it_is_turns_nothing_on() -> None:
    """Its keys are settings, and left as they are they enable no forge, no admin API and
    no model key: nothing serves with a value everyone can read here."""
    values = SECRETS[0]["stringData"]
    assert checks.setting_problems(dict.fromkeys(values, "secret.example.yaml")) == []
    settings = Settings(**{key.removeprefix("AGENTOPS_").lower(): v for key, v in values.items()})
    assert weak_webhook_secret(settings) is None
    assert not settings.github_enabled and not settings.gitlab_enabled
    assert settings.secret_values() == []


@pytest.mark.parametrize("target", TARGETS)
def test_every_agentops_variable_is_a_setting(target: str) -> None:
    config_env = checks.K8S / "base" / "config.env"
    variables = checks.agentops_variables(rendered(target), config_env)
    assert "AGENTOPS_SHUTDOWN_GRACE_SECONDS" in variables
    assert "AGENTOPS_GITHUB_APP_ID" in variables  # config.env's commented examples count
    assert checks.setting_problems(variables) == []


@pytest.mark.parametrize("target", TARGETS)
def test_operator_checks_pass(target: str) -> None:
    docs = rendered(target)
    assert checks.selector_problems(docs) == []
    assert checks.port_problems(docs) == []
    assert checks.reference_problems(docs, SECRETS) == []
    assert checks.grace_problems(docs) == []
    assert checks.worker_policy_problems(docs) == []
    assert checks.web_policy_problems(docs) == []
    assert checks.sandbox_problems(docs) == []
    assert checks.restricted_problems(checks.component(docs, "web")) == []
    assert checks.restricted_problems(checks.component(docs, "migrate")) == []
    assert checks.pod_problems(docs) == []
    assert checks.probe_problems(docs) == []
    assert checks.autoscaler_problems(docs, ADAPTER_RULES) == []
    assert checks.ingress_problems(docs) == []


def test_production_images_are_pinned() -> None:
    assert checks.image_problems(rendered("overlays/production")) == []
    assert checks.image_problems(rendered("base")) != []  # `agentops`, untagged: latest


# --- each check catches a broken manifest ------------------------------------------------

Breakage = Callable[[list[Doc]], Any]


def _broken(breakage: Breakage) -> list[Doc]:
    docs = rendered("overlays/production")
    breakage(docs)
    return docs


def test_a_misspelt_field_fails_the_schema() -> None:
    def misspell(docs: list[Doc]) -> None:
        spec = checks.pod_template(doc(docs, "Deployment", "agentops-worker"))["spec"]
        spec["terminationGracePeriod"] = spec.pop("terminationGracePeriodSeconds")

    problems = checks.schema_problems(_broken(misspell), "1.33")
    assert len(problems) == 1
    assert "terminationGracePeriod" in problems[0]


def test_a_selector_that_misses_its_pods_is_caught() -> None:
    def relabel(docs: list[Doc]) -> None:
        doc(docs, "Service", "agentops-web")["spec"]["selector"]["app.kubernetes.io/component"] = (
            "webs"
        )

    problems = checks.selector_problems(_broken(relabel))
    assert len(problems) == 1
    assert problems[0].startswith("Service/agentops-web: selector")
    assert problems[0].endswith("selects no pod")

    def deployment(docs: list[Doc]) -> None:
        web = doc(docs, "Deployment", "agentops-web")
        web["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"] = "worker"

    assert any(
        "misses its pod template" in p for p in checks.selector_problems(_broken(deployment))
    )


def test_a_service_aimed_at_no_container_port_is_caught() -> None:
    def retarget(docs: list[Doc]) -> None:
        doc(docs, "Service", "agentops-web")["spec"]["ports"][0]["targetPort"] = 8080

    assert checks.port_problems(_broken(retarget)) == [
        "Service/agentops-web: target port 8080 is no container's"
    ]


def test_a_variable_that_is_no_setting_is_caught() -> None:
    def misspell(docs: list[Doc]) -> None:
        env(docs, "agentops-worker", "AGENTOPS_REDIS_URL")["name"] = "AGENTOPS_REDIS_ULR"

    docs = _broken(misspell)
    assert (
        "Deployment/agentops-worker: AGENTOPS_REDIS_ULR is no setting of app/config.py"
        in checks.setting_problems(checks.agentops_variables(docs))
    )


def test_a_missing_secret_or_config_key_is_caught() -> None:
    def rekey(docs: list[Doc]) -> None:
        ref = env(docs, "agentops-web", "AGENTOPS_ADMIN_TOKEN")["valueFrom"]["secretKeyRef"]
        ref["key"] = "ADMIN_TOKEN"
        worker = container(docs, "Deployment", "agentops-worker")
        worker["envFrom"][0]["configMapRef"]["name"] = "agentops-config"  # not the hashed one
        worker["env"].append(
            {
                "name": "AGENTOPS_LABELS",
                "valueFrom": {"configMapKeyRef": {"name": ref_map(docs), "key": "LABELS"}},
            }
        )

    def ref_map(docs: list[Doc]) -> str:
        name: str = checks.of_kind(docs, "ConfigMap")[0]["metadata"]["name"]
        return name

    docs = _broken(rekey)
    assert checks.reference_problems(docs, SECRETS) == [
        "Deployment/agentops-web: secret agentops-secrets has no key ADMIN_TOKEN",
        f"Deployment/agentops-worker: configmap {ref_map(docs)} has no key LABELS",
        "Deployment/agentops-worker: configmap agentops-config does not exist",
    ]


def test_an_image_at_latest_is_caught() -> None:
    def unpin(docs: list[Doc]) -> None:
        container(docs, "Job", "agentops-migrate")["image"] = "registry.example.com/agentops:latest"

    assert checks.image_problems(_broken(unpin)) == [
        "Job/agentops-migrate: image registry.example.com/agentops:latest is not pinned"
    ]


def test_a_grace_period_too_short_for_the_shutdown_grace_is_caught() -> None:
    def shorten(docs: list[Doc]) -> None:
        worker = doc(docs, "Deployment", "agentops-worker")
        checks.pod_template(worker)["spec"]["terminationGracePeriodSeconds"] = 270

    assert checks.grace_problems(_broken(shorten)) == [
        "Deployment/agentops-worker: terminationGracePeriodSeconds 270 is not over "
        "AGENTOPS_SHUTDOWN_GRACE_SECONDS 240 + 30"
    ]

    def unset(docs: list[Doc]) -> None:
        entries = container(docs, "Deployment", "agentops-worker")["env"]
        entries[:] = [e for e in entries if e["name"] != "AGENTOPS_SHUTDOWN_GRACE_SECONDS"]

    assert checks.grace_problems(_broken(unset)) == [
        "Deployment/agentops-worker: AGENTOPS_SHUTDOWN_GRACE_SECONDS is not set"
    ]


def test_worker_network_policy_faults_are_caught() -> None:
    def worker_policy(docs: list[Doc]) -> Doc:
        return doc(docs, "NetworkPolicy", "agentops-worker")

    def unselect(docs: list[Doc]) -> None:
        worker_policy(docs)["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] = (
            "workers"
        )

    assert "no NetworkPolicy selects the worker pods" in checks.worker_policy_problems(
        _broken(unselect)
    )

    def open_ssh(docs: list[Doc]) -> None:
        worker_policy(docs)["spec"]["egress"][-1]["ports"].append({"protocol": "TCP", "port": 22})

    assert checks.worker_policy_problems(_broken(open_ssh)) == [
        "NetworkPolicy/agentops-worker: egress to ports [('TCP', 22), ('TCP', 443)]",
        "NetworkPolicy/agentops-worker: an address block for [('TCP', 22), ('TCP', 443)]",
        "NetworkPolicy/agentops-worker: an address block for [('TCP', 22), ('TCP', 443)]",
    ]

    def reach_metadata(docs: list[Doc]) -> None:
        block = worker_policy(docs)["spec"]["egress"][-1]["to"][0]["ipBlock"]
        block["except"].remove("169.254.0.0/16")

    assert checks.worker_policy_problems(_broken(reach_metadata)) == [
        "NetworkPolicy/agentops-worker: HTTPS to 169.254.0.0/16 is allowed"
    ]

    def take_connections(docs: list[Doc]) -> None:
        worker_policy(docs)["spec"]["ingress"] = [{"from": [{"podSelector": {}}]}]

    assert checks.worker_policy_problems(_broken(take_connections)) == [
        "NetworkPolicy/agentops-worker: the workers take no connections"
    ]


def test_web_reachable_from_elsewhere_is_caught() -> None:
    def open_web(docs: list[Doc]) -> None:
        rule = doc(docs, "NetworkPolicy", "agentops-web")["spec"]["ingress"][0]
        rule["from"].append({"podSelector": {}})

    assert checks.web_policy_problems(_broken(open_web)) == [
        "NetworkPolicy/agentops-web: the web pods take connections from {'podSelector': {}}"
    ]


def test_a_worker_without_the_sandbox_settings_is_caught() -> None:
    def weaken(docs: list[Doc]) -> None:
        spec = checks.pod_template(doc(docs, "Deployment", "agentops-worker"))["spec"]
        spec["securityContext"]["seccompProfile"]["localhostProfile"] = "profiles/bwrap.json"
        del spec["hostUsers"]
        spec["containers"][0]["securityContext"]["procMount"] = "Default"

    assert checks.sandbox_problems(_broken(weaken)) == [
        "worker: hostUsers must be false (its own user namespace)",
        "worker: seccomp must be the Localhost profile seccomp-bwrap.json",
        "worker/worker: procMount must be Unmasked",
    ]


def test_a_web_pod_outside_the_restricted_standard_is_caught() -> None:
    def loosen(docs: list[Doc]) -> None:
        web = container(docs, "Deployment", "agentops-web")
        web["securityContext"]["capabilities"] = {"drop": ["ALL"], "add": ["NET_RAW"]}

    docs = _broken(loosen)
    assert checks.restricted_problems(checks.component(docs, "web")) == [
        "Deployment/agentops-web/web: must drop ALL capabilities"
    ]


def test_pods_without_limits_or_with_an_api_token_are_caught() -> None:
    def unlimit(docs: list[Doc]) -> None:
        del container(docs, "Deployment", "agentops-worker")["resources"]["limits"]
        checks.pod_template(doc(docs, "Job", "agentops-migrate"))["spec"].pop(
            "automountServiceAccountToken"
        )

    assert checks.pod_problems(_broken(unlimit)) == [
        "Deployment/agentops-worker/worker: requests and limits",
        "Job/agentops-migrate: automountServiceAccountToken must be false",
    ]


def test_probes_on_the_wrong_path_are_caught() -> None:
    def swap(docs: list[Doc]) -> None:
        container(docs, "Deployment", "agentops-web")["readinessProbe"]["httpGet"]["path"] = (
            "/healthz"
        )

    assert checks.probe_problems(_broken(swap)) == [
        "web/web: readinessProbe must GET /readyz on its port"
    ]


def test_autoscaler_faults_are_caught() -> None:
    def pin_replicas(docs: list[Doc]) -> None:
        doc(docs, "Deployment", "agentops-worker")["spec"]["replicas"] = 3
        metric = doc(docs, "HorizontalPodAutoscaler", "agentops-worker")["spec"]["metrics"][0]
        metric["external"]["metric"]["name"] = "arq_queue_length"

    assert checks.autoscaler_problems(_broken(pin_replicas), ADAPTER_RULES) == [
        "Deployment/agentops-worker: sets replicas, which "
        "HorizontalPodAutoscaler/agentops-worker owns",
        "HorizontalPodAutoscaler/agentops-worker: does not follow agentops_queue_depth",
        "HorizontalPodAutoscaler/agentops-worker: metric arq_queue_length has no "
        "prometheus-adapter rule",
    ]


def test_an_ingress_that_exposes_metrics_or_another_host_is_caught() -> None:
    def expose(docs: list[Doc]) -> None:
        rule = doc(docs, "Ingress", "agentops-web")["spec"]["rules"][0]
        rule["host"] = "agentops.example.org"
        rule["http"]["paths"][-1]["pathType"] = "Prefix"

    assert checks.ingress_problems(_broken(expose)) == [
        "Ingress/agentops-web: host agentops.example.org is not https://agentops.example.com's",
        "Ingress/agentops-web: / exposes /metrics",
        "Ingress/agentops-web: / exposes /healthz",
        "Ingress/agentops-web: / exposes /readyz",
    ]
