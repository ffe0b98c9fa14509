"""Who a bearer token of `/mcp` is, and the gate in front of the endpoint."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from app.config import ConfigError, Settings, load_settings
from app.mcp.gate import BearerGate, principal_in
from app.mcp.tokens import ADMIN, Principal, endpoint_on, principal_of

ALICE = "a" * 40
ADMIN_TOKEN = "the-admin-token"


def settings(**values: str) -> Settings:
    return Settings(**values)  # type: ignore[arg-type]


def operators(**values: str) -> Settings:
    return settings(
        operator_logins="github:alice,gitlab:Bob",
        mcp_tokens=f"github:alice={ALICE}, gitlab:bob={'b' * 32}",
        admin_token=ADMIN_TOKEN,
        **values,
    )


def test_each_token_names_its_holder() -> None:
    s = operators()
    assert principal_of(f"Bearer {ALICE}", s) == Principal("github", "alice")
    assert principal_of(f"bearer {'b' * 32}", s) == Principal("gitlab", "bob")
    assert principal_of(f"Bearer {ADMIN_TOKEN}", s) == ADMIN
    for refused in ("", "Bearer", f"Basic {ALICE}", f"Bearer {ALICE}x", ALICE):
        assert principal_of(refused, s) is None, refused


def test_a_token_of_no_operator_or_too_short_is_refused_at_start_without_showing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AGENTOPS_OPERATOR_LOGINS", "github:alice")
    monkeypatch.setenv("AGENTOPS_MCP_TOKENS", f"github:mallory={ALICE}")
    with pytest.raises(ConfigError) as not_operator:
        load_settings()
    assert "github:mallory" in str(not_operator.value) and ALICE not in str(not_operator.value)
    monkeypatch.setenv("AGENTOPS_MCP_TOKENS", "github:alice=short-secret")
    with pytest.raises(ConfigError) as short:
        load_settings()
    assert "shorter than 32" in str(short.value) and "short-secret" not in str(short.value)


def _seen(request: Request) -> Response:
    principal = principal_in(request.scope)
    return PlainTextResponse(principal.person if principal else "nobody")


def _client(s: Settings) -> TestClient:
    inner = Starlette(routes=[Route("/mcp", _seen, methods=["POST"])])
    return TestClient(BearerGate(inner, s))


def test_the_gate_is_closed_without_tokens_and_names_the_holder_with_one() -> None:
    assert not endpoint_on(settings())
    off = _client(settings()).post("/mcp", headers={"Authorization": f"Bearer {ALICE}"})
    assert off.status_code == 403 and "AGENTOPS_ADMIN_TOKEN" in off.text

    client = _client(operators())
    missing = client.post("/mcp")
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert client.post("/mcp", headers={"Authorization": f"Bearer {ALICE}"}).text == "github:alice"
    admin = client.post("/mcp", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert admin.text == "the admin token"
