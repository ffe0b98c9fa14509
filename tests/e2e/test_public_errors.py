"""A model provider that refuses the key and echoes part of it in its error body: the
person reads what failed and what to do, and neither the body, nor the piece of the key,
nor a setting's name; the run's record (the admin API) keeps the detail, redacted."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e import implement_script as script
from tests.e2e.harness import Service, wait_for
from tests.sim.github import GitHubSim
from tests.sim.llm_sim import LLMSimulator, fault

pytestmark = pytest.mark.e2e
REPO = "acme/keys"
KEY = "sk-ant-api03-Rq8vN2kXm7Lp4wT9sB3cZ6dF1gJ5hY0aE-uI_oP2rW4tQ8yK1sA7dF3gH6jL9nB2vC5xM8qW"
ECHOED_HEAD = KEY[:24]
ECHOED_TAIL = KEY[-6:]
PROVIDER_MESSAGE = (
    f"invalid x-api-key: {ECHOED_HEAD}…{ECHOED_TAIL} (request req_011CVx7 from organization "
    "org-7f3a, see https://docs.anthropic.com/en/api/errors)"
)


@pytest.fixture(scope="module")
def extra_env(llm: tuple[LLMSimulator, str]) -> dict[str, str]:
    return {**script.llm_env(llm[1]), "AGENTOPS_ANTHROPIC_API_KEY": KEY}


def key_pieces(text: str) -> list[str]:
    """Pieces of the key (8 characters and more) found in `text`."""
    return [KEY[i : i + 8] for i in range(len(KEY) - 7) if KEY[i : i + 8] in text]


def public_leaks(text: str) -> list[str]:
    found = [
        word
        for word in (
            "x-api-key",
            "invalid",
            "req_011CVx7",
            "org-7f3a",
            "docs.anthropic.com",
            "AGENTOPS_",
            "ProviderConfigError",
            "Traceback",
            "401",
            ECHOED_TAIL,
        )
        if word in text
    ]
    return found + key_pieces(text)


def test_a_provider_refusing_the_key_is_told_without_its_body_or_the_key(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gh, _ = github
    sim, _ = llm
    gh.add_repo(REPO, script.FILES)
    gh.set_permission(REPO, "alice", "write")
    sim.script(script.PLANNER, fault(401, message=PROVIDER_MESSAGE))
    number, run_id = script.start_implement(service, gh, REPO)

    run = wait_for(lambda: service.finished(run_id), 120, what="the run to fail")
    assert run["status"] == "failed", service.logs()[-3000:]

    # What people read: the comment, and every state of the check run they saw.
    bot = [c["body"] for c in gh.comments(REPO, number) if c["user"]["login"] == gh.bot_login]
    failed = [body for body in bot if "failed" in body]
    assert len(failed) == 1, bot
    assert "model provider is unavailable" in failed[0]
    assert "/agentops retry" in failed[0] and "operator" in failed[0]
    check = next(c for c in gh.check_runs(REPO) if c["external_id"] == str(run_id))
    assert check["conclusion"] == "failure"
    assert "model provider is unavailable" in check["output"]["summary"]
    seen: list[Any] = [*bot, *check["history"], check]
    for shown in seen:
        assert public_leaks(str(shown)) == [], shown

    # What the operator reads: the run's record keeps the detail, without the key.
    assert run["result"]["failure"]["kind"] == "model_provider"
    assert "refused the credentials (401)" in run["error"]
    assert "AGENTOPS_ANTHROPIC_API_KEY" in run["error"]
    assert "req_011CVx7" in run["error"]  # the provider's words, for the operator
    assert "[REDACTED]" in run["error"] and key_pieces(run["error"]) == []
    failed_steps = [s for s in run["steps"] if s["status"] == "failed"]
    assert len(failed_steps) == 1
    assert "ProviderConfigError" in failed_steps[0]["error"]
    assert key_pieces(failed_steps[0]["error"]) == []
    assert failed_steps[0]["detail"]["failure"].startswith("The model provider is unavailable")
    # ... and so do the logs.
    logs = service.logs()
    assert "refused the credentials" in logs and key_pieces(logs) == []
