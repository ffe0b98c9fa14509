"""`agentops llm ask`, `agentops doctor` and `agentops replay` as an operator runs them."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from app.cli import main
from app.llm import LLMRequest, Message, PostgresCallLog, ToolSpec, build_router
from app.llm.cooldowns import CooldownPolicy, RedisCooldowns
from app.store import connect
from tests.integration.llm.conftest import (
    ANTHROPIC_KEY,
    OPENAI_KEY,
    make_tenant_run,
    sim_settings,
)
from tests.sim.llm_sim import LLMSimulator, fault, text, tool_call

CLOSED_PORT_URL = "http://127.0.0.1:9"


@pytest.fixture
def sim_env(monkeypatch: pytest.MonkeyPatch, sim_url: str) -> None:
    for name, value in {
        "AGENTOPS_ANTHROPIC_API_KEY": ANTHROPIC_KEY,
        "AGENTOPS_ANTHROPIC_BASE_URL": sim_url,
        "AGENTOPS_OPENAI_API_KEY": OPENAI_KEY,
        "AGENTOPS_OPENAI_BASE_URL": f"{sim_url}/v1",
        "AGENTOPS_LLM_MODELS": json.dumps(
            {
                "cheap": ["anthropic:claude-a", "openai:gpt-a"],
                "coder": ["anthropic:claude-a"],
                "planner": ["anthropic:claude-b"],
                "reviewer": ["openai:gpt-a"],
            }
        ),
        "AGENTOPS_LLM_MAX_RETRIES": "1",
        "AGENTOPS_LLM_RETRY_BASE_SECONDS": "0.01",
    }.items():
        monkeypatch.setenv(name, value)


def test_ask_json_names_the_answering_model_the_fallbacks_tokens_and_cost(
    sim_env: None, sim: LLMSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    sim.script("claude-a", fault(500), fault(529))
    sim.script("gpt-a", text("Paris."))
    assert main(["llm", "ask", "Capital of France?", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["text"] == "Paris."
    assert (answer["provider"], answer["model"]) == ("openai", "gpt-a")
    assert [(a["model"], a["outcome"]) for a in answer["attempts"]] == [
        ("anthropic:claude-a", "server"),
        ("anthropic:claude-a", "overloaded"),
        ("openai:gpt-a", "ok"),
    ]
    assert answer["usage"]["output_tokens"] == 7 and answer["usage"]["input_tokens"] > 0
    assert answer["cost_usd"] > 0


def test_ask_prints_the_answer_then_who_answered_and_the_cost(
    sim_env: None, sim: LLMSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    sim.script("claude-a", text("Hello there."))
    assert main(["llm", "ask", "Hi", "--role", "coder"]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == "Hello there."
    assert "answered by anthropic:claude-a (provider anthropic)" in out.err
    assert "cost $" in out.err and "tokens:" in out.err


def test_ask_with_nothing_configured_and_no_ollama_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGENTOPS_OLLAMA_URL", CLOSED_PORT_URL)
    monkeypatch.setenv("AGENTOPS_LLM_RETRY_BASE_SECONDS", "0.01")
    assert main(["llm", "ask", "Hi"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert f"Ollama is not reachable at {CLOSED_PORT_URL}" in err


def test_ask_with_a_refused_key_is_a_configuration_error_without_the_key(
    sim_env: None, sim: LLMSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    sim.api_key = "another-key-" + "z" * 30
    assert main(["llm", "ask", "Hi"]) == 2
    err = capsys.readouterr().err.strip()
    assert "AGENTOPS_ANTHROPIC_API_KEY" in err and ANTHROPIC_KEY not in err
    assert err.count("\n") == 0


def _record_a_run(database_url: str, sim_url: str, sim: LLMSimulator) -> int:
    async def go() -> int:
        db = await connect(database_url)
        try:
            where = await make_tenant_run(db)
            log = PostgresCallLog(db, where.tenant_id, where.run_id)
            router, registry = build_router(sim_settings(sim_url), log)
            tool = ToolSpec("read_file", "Read.", {"type": "object", "properties": {}})
            request = LLMRequest("coder", "Fix.", (Message.user("fix a.py"),), tools=(tool,))
            sim.script("claude-a", tool_call("read_file", {"path": "a.py"}), text("Done."))
            first = await router.complete(request)
            call = first.response.tool_calls[0]
            await router.complete(
                request.with_messages(
                    first.response.as_message(), Message.tool_result(call.id, "print(1)")
                )
            )
            await registry.close()
            return where.run_id
        finally:
            await db.close()

    return asyncio.run(go())


def test_replay_reissues_a_runs_calls_from_the_record(
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    sim_url: str,
    sim: LLMSimulator,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_id = _record_a_run(database_url, sim_url, sim)
    received = len(sim.requests)
    monkeypatch.setenv("AGENTOPS_DATABASE_URL", database_url)
    assert main(["replay", str(run_id)]) == 0
    out = capsys.readouterr().out
    assert f"run {run_id} (running): 2 recorded LLM answers" in out
    assert 'tool call read_file {"path": "a.py"}' in out and "answer Done." in out
    assert "2 of 2 answers found: every answer was found" in out
    assert len(sim.requests) == received

    assert main(["replay", str(run_id), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["missing"] == 0 and [e["found"] for e in report["transcript"]] == [True] * 2


def test_replay_of_an_unknown_run_is_one_line(
    monkeypatch: pytest.MonkeyPatch, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGENTOPS_DATABASE_URL", database_url)
    assert main(["replay", "987654321"]) == 2
    assert capsys.readouterr().err.strip() == "agentops replay: run 987654321 does not exist"


def test_doctor_checks_providers_database_and_redis(
    sim_env: None,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AGENTOPS_DATABASE_URL", database_url)
    monkeypatch.setenv("AGENTOPS_REDIS_URL", redis_url)
    monkeypatch.setenv("AGENTOPS_OLLAMA_URL", CLOSED_PORT_URL)
    code = main(["doctor"])
    lines = capsys.readouterr().out.splitlines()
    by_name = {line[5:].split(":", 1)[0]: line for line in lines}
    assert by_name["provider anthropic"].startswith("ok  ")
    assert by_name["provider openai"].startswith("ok  ")
    assert by_name["database"].startswith("ok  ")
    assert "tenant work logs in as agentops_tenant" in by_name["database"]
    assert by_name["redis"].startswith("ok  ")
    assert any(name.startswith("forge") for name in by_name)
    assert "provider ollama" not in by_name  # not configured for any role: not checked
    if not any(line.startswith("FAIL") for line in lines):
        assert code == 0


def test_doctor_lists_the_models_in_cooldown(
    sim_env: None,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    queue = f"agentops-doctor-{uuid.uuid4().hex[:8]}"
    for name, value in {
        "AGENTOPS_DATABASE_URL": database_url,
        "AGENTOPS_REDIS_URL": redis_url,
        "AGENTOPS_QUEUE_NAME": queue,
    }.items():
        monkeypatch.setenv(name, value)
    main(["doctor"])
    assert "ok   cooldowns: no model in cooldown" in capsys.readouterr().out

    async def fail_once() -> None:
        worker = RedisCooldowns(redis_url, queue, CooldownPolicy(failures=1, cooldown=60))
        await worker.failed("anthropic:claude-a")
        await worker.close()

    asyncio.run(fail_once())
    main(["doctor"])
    line = next(x for x in capsys.readouterr().out.splitlines() if "cooldown anthropic" in x)
    assert "every worker skips it for 60 s more" in line or "for 59 s more" in line


def test_doctor_refuses_a_tenant_login_that_could_leave_its_tenant(
    sim_env: None,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    redis_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AGENTOPS_DATABASE_URL", database_url)
    monkeypatch.setenv("AGENTOPS_TENANT_DATABASE_URL", database_url)  # the owner itself
    monkeypatch.setenv("AGENTOPS_REDIS_URL", redis_url)
    assert main(["doctor"]) == 1
    lines = capsys.readouterr().out.splitlines()
    database = next(line for line in lines if line.startswith("FAIL database"))
    assert "AGENTOPS_TENANT_DATABASE_URL" in database and "superuser" in database


def test_doctor_says_what_is_wrong_in_one_line_each(
    monkeypatch: pytest.MonkeyPatch,
    sim: LLMSimulator,
    sim_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sim.api_key = "another-key-" + "z" * 30
    monkeypatch.setenv("AGENTOPS_ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("AGENTOPS_ANTHROPIC_BASE_URL", sim_url)
    monkeypatch.setenv(
        "AGENTOPS_LLM_MODELS", json.dumps({"coder": ["anthropic:claude-a", "ollama:qwen2.5-coder"]})
    )
    monkeypatch.setenv("AGENTOPS_OLLAMA_URL", CLOSED_PORT_URL)
    monkeypatch.setenv("AGENTOPS_DATABASE_URL", "postgresql://postgres@127.0.0.1:9/none")
    monkeypatch.setenv("AGENTOPS_REDIS_URL", "redis://127.0.0.1:9/0")
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    lines = {line[5:].split(":", 1)[0]: line for line in out.splitlines()}
    assert lines["provider anthropic"] == (
        "FAIL provider anthropic: key refused (401); check AGENTOPS_ANTHROPIC_API_KEY"
    )
    assert "Ollama is not reachable at http://127.0.0.1:9" in lines["provider ollama"]
    assert lines["database"].startswith("FAIL database: cannot reach PostgreSQL")
    assert lines["redis"].startswith("FAIL redis: cannot reach Redis")
    assert ANTHROPIC_KEY not in out
