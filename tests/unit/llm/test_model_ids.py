import pytest

from app.llm.model_ids import ModelId, ModelIdError, parse_model_id


def test_provider_and_model_split_on_first_colon() -> None:
    assert parse_model_id("ollama:qwen2.5-coder:7b") == ModelId("ollama", "qwen2.5-coder:7b")
    assert parse_model_id("anthropic:claude-sonnet-4-5").model == "claude-sonnet-4-5"


def test_inline_openai_compatible_server_carries_its_base_url() -> None:
    model_id = parse_model_id("openai-compatible:Qwen/Qwen2.5-Coder@http://gpu:8000/v1/")
    assert model_id == ModelId("openai-compatible", "Qwen/Qwen2.5-Coder", "http://gpu:8000/v1")
    assert str(model_id) == "openai-compatible:Qwen/Qwen2.5-Coder@http://gpu:8000/v1"


def test_named_endpoint_is_a_provider() -> None:
    assert parse_model_id("vllm:llama", frozenset({"vllm"})).provider == "vllm"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("claude", "PROVIDER:MODEL"),
        ("bedrock:claude", "unknown provider 'bedrock'"),
        ("openai-compatible:model", "MODEL@http"),
        ("openai-compatible:model@gpu:8000", "MODEL@http"),
    ],
)
def test_bad_ids_say_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ModelIdError, match=says):
        parse_model_id(text)
