import pytest
from pydantic import SecretStr

from app.config import Settings
from app.llm.model_ids import ModelId, ModelIdError
from app.llm.routing import RepoLLMConfig, resolve_routes


def test_nothing_configured_means_ollama_on_localhost_for_every_role() -> None:
    routes = resolve_routes(Settings())
    for role in ("planner", "coder", "reviewer", "cheap"):
        assert routes.chain(role) == (ModelId("ollama", "qwen2.5-coder"),)


def test_an_anthropic_key_alone_implies_claude_models() -> None:
    routes = resolve_routes(Settings(anthropic_api_key=SecretStr("k" * 20)))
    assert routes.chain("coder")[0].model == "claude-sonnet-4-6"
    assert routes.chain("cheap")[0].model == "claude-haiku-4-5"


def test_settings_give_ordered_fallbacks_per_role() -> None:
    settings = Settings(
        llm_models={"coder": ["anthropic:claude-sonnet-4-5", "openai:gpt-4.1", "ollama:qwen"]}
    )
    chain = resolve_routes(settings).chain("coder")
    assert [str(m) for m in chain] == [
        "anthropic:claude-sonnet-4-5",
        "openai:gpt-4.1",
        "ollama:qwen",
    ]


def test_a_repository_overrides_a_role() -> None:
    settings = Settings(llm_models={"coder": ["openai:gpt-4.1"]})
    repo = RepoLLMConfig.model_validate({"models": {"coder": "mistral:codestral-latest"}})
    assert resolve_routes(settings, repo).chain("coder") == (
        ModelId("mistral", "codestral-latest"),
    )


def test_a_repository_may_not_send_prompts_to_a_server_of_its_choosing() -> None:
    repo = RepoLLMConfig.model_validate(
        {"models": {"coder": ["openai-compatible:m@http://169.254.169.254/v1"]}}
    )
    with pytest.raises(ModelIdError, match="may not name its own server"):
        resolve_routes(Settings(), repo)


def test_named_endpoints_are_usable_everywhere() -> None:
    settings = Settings(
        llm_endpoints={"gateway": {"base_url": "http://gw/v1"}},
        llm_models={"planner": ["gateway:big"]},
    )
    assert resolve_routes(settings).chain("planner") == (ModelId("gateway", "big"),)


def test_bad_settings_name_the_setting() -> None:
    with pytest.raises(ModelIdError, match=r"AGENTOPS_LLM_MODELS\[coder\]"):
        resolve_routes(Settings(llm_models={"coder": ["gpt-4.1"]}))
    with pytest.raises(ModelIdError, match="unknown role"):
        resolve_routes(Settings(llm_models={"writer": ["openai:gpt-4.1"]}))
