"""The tracing façade when off (no SDK, nothing to do) and the forge span's route
template (no ids or names in a span name)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from app.redaction import REDACTED, redact, registered_secrets
from app.tracing_sdk import register_header_secrets, route_template


@pytest.mark.parametrize(
    ("url", "route"),
    [
        ("/repos/{owner}/{name}/issues/{number}/comments", None),
        ("/repos/{owner}/{name}/pulls{?head,state,per_page}", "/repos/{owner}/{name}/pulls"),
        ("/app/hook/deliveries?per_page=100", "/app/hook/deliveries"),
        (
            "/projects/acme%2Fapp/merge_requests/12/notes",
            "/projects/{project}/merge_requests/{id}/notes",
        ),
        ("/projects/81", "/projects/{project}"),
        ("/projects/acme%2Fapp/statuses/9f0c2e1ab34d", "/projects/{project}/statuses/{sha}"),
        ("https://forge.example/api/v4/user", "/api/v4/user"),
    ],
)
def test_route_templates_name_no_ids(url: str, route: str | None) -> None:
    assert route_template(url) == (route or url)


def test_off_without_an_endpoint_and_nothing_of_the_sdk_imported() -> None:
    code = (
        "import sys\n"
        "from app import tracing\n"
        "assert not tracing.start_tracing('agentops-web')\n"
        "with tracing.webhook_span('github') as span:\n"
        "    span.set('x', 1)\n"
        "    tracing.delivery_received('d-1')\n"
        "    assert tracing.trace_parent() is None\n"
        "with tracing.forge_span('GET', '/user'):\n"
        "    tracing.llm_call('anthropic', 'm', 'ok', 5)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry', 'app.tracing_'))))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": "."}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_the_exporters_header_values_are_secrets() -> None:
    token = "otlp-ingest-token-5f3a9c81d2"
    register_header_secrets(
        {
            "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer%20{token},x-team=agentops",
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "api-key=trace-key-7d1e0b",
        }
    )
    known = registered_secrets()
    assert token in known and "trace-key-7d1e0b" in known
    assert "agentops" not in known  # not a credential header's value
    line = f"export failed: {token} / trace-key-7d1e0b"
    assert redact(line, known) == f"export failed: {REDACTED} / {REDACTED}"
