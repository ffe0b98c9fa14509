import json
from pathlib import Path

import pytest

from app.llm.model_ids import ModelId
from app.llm.prices import cost_usd, estimate_cost_usd, load_price_table
from app.llm.types import LLMRequest, Message, Usage


def test_shipped_price_file_prices_known_models_and_snapshots() -> None:
    table = load_price_table()
    sonnet = table.price_for(ModelId("anthropic", "claude-sonnet-4-5-20250929"))
    assert (sonnet.input, sonnet.output, sonnet.cached_input) == (3.0, 15.0, 0.30)
    assert sonnet.key == "anthropic:claude-sonnet-4-5"
    assert table.price_for(ModelId("openai", "gpt-4.1-mini")).key == "openai:gpt-4.1-mini"


def test_unknown_paid_models_fall_back_to_a_high_provider_price_and_local_ones_are_free() -> None:
    table = load_price_table()
    assert table.price_for(ModelId("anthropic", "claude-future")).key == "anthropic:*"
    assert table.price_for(ModelId("ollama", "llama3:8b")).output == 0.0
    assert table.price_for(ModelId("openai-compatible", "x", "http://h/v1")).input == 0.0
    assert table.price_for(ModelId("vllm", "x")).key == "openai-compatible:*"


def test_cost_counts_cached_and_cache_write_tokens_at_their_prices() -> None:
    price = load_price_table().price_for(ModelId("anthropic", "claude-sonnet-4-5"))
    usage = Usage(
        input_tokens=1_000, output_tokens=500, cached_tokens=10_000, cache_write_tokens=2_000
    )
    expected = (1_000 * 3.0 + 500 * 15.0 + 10_000 * 0.30 + 2_000 * 3.75) / 1_000_000
    assert cost_usd(usage, price) == pytest.approx(expected)


def test_estimate_is_an_upper_bound_with_all_max_tokens_of_output() -> None:
    price = load_price_table().price_for(ModelId("openai", "gpt-4.1"))
    request = LLMRequest("coder", "s" * 400, (Message.user("u" * 4000),), max_tokens=1000)
    estimate = estimate_cost_usd(request, price)
    assert estimate >= (1100 * 2.0 + 1000 * 8.0) / 1_000_000


def test_an_operator_price_file_replaces_the_shipped_one(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"models": {"openai:*": {"input": 1, "output": 2}}}))
    price = load_price_table(path).price_for(ModelId("openai", "gpt-x"))
    assert (price.input, price.output, price.cached_input) == (1, 2, 1)


def test_a_broken_price_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text('{"models": {"openai:*": {"input": -1, "output": 2}}}')
    with pytest.raises(ValueError, match="cannot read the LLM price file"):
        load_price_table(path)
