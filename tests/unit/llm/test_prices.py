import json
from pathlib import Path

import pytest

from app.llm.model_ids import ModelId
from app.llm.prices import (
    DEFAULT_PRICES_PATH,
    billed_tokens,
    cost_usd,
    estimate_cost_usd,
    load_price_table,
)
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


@pytest.mark.parametrize(
    ("provider", "model", "key"),
    [
        ("openai", "gpt-5-pro", "openai:gpt-5-pro"),  # not gpt-5, 12x cheaper
        ("openai", "gpt-5-pro-2025-10-06", "openai:gpt-5-pro"),
        ("openai", "gpt-5-2025-08-07", "openai:gpt-5"),
        ("openai", "gpt-5-codex", "openai:gpt-5"),  # an explicit alias
        ("openai", "gpt-4o-2024-08-06", "openai:gpt-4o"),
        ("openai", "gpt-4o-2024-05-13", "openai:gpt-4o-2024-05-13"),  # priced on its own
        ("openai", "gpt-4.1-mini-turbo", "openai:*"),  # a longer name is another model
        ("anthropic", "claude-opus-4-1-20250805", "anthropic:claude-opus-4-1"),
        ("anthropic", "claude-sonnet-4-5@20250929", "anthropic:claude-sonnet-4-5"),
        ("anthropic", "claude-sonnet-4-5-thinking", "anthropic:*"),
        ("mistral", "mistral-large-latest", "mistral:mistral-large"),
        ("mistral", "mistral-small-2503", "mistral:mistral-small"),
        ("mistral", "devstral-small-2507", "mistral:devstral-small"),
    ],
)
def test_only_exact_entries_aliases_and_dated_snapshots_share_a_price(
    provider: str, model: str, key: str
) -> None:
    assert load_price_table().price_for(ModelId(provider, model)).key == key


def test_an_unknown_model_is_priced_high_and_warned_about_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    table = load_price_table()
    known = table.price_for(ModelId("openai", "gpt-5"))
    for _ in range(3):
        unknown = table.price_for(ModelId("openai", "gpt-5.9-ultra"))
    assert unknown.guessed and not known.guessed
    assert unknown.output >= 120.0 > known.output
    warnings = [r for r in caplog.records if "gpt-5.9-ultra" in r.getMessage()]
    assert len(warnings) == 1 and "AGENTOPS_LLM_PRICES_PATH" in warnings[0].getMessage()


def test_every_shipped_entry_has_coherent_prices_and_a_checked_date() -> None:
    data = json.loads(DEFAULT_PRICES_PATH.read_text())
    assert data["_checked"].startswith("20")
    for key, entry in data["models"].items():
        provider, _, name = key.partition(":")
        assert provider and name, key
        if entry["input"]:
            assert entry["output"] >= entry["input"], key
            assert entry.get("cached_input", entry["input"]) <= entry["input"], key
        if "input_limit" in entry:
            assert entry["input_limit"] < entry["context_window"], key
    wildcard = data["models"]["openai:*"]
    assert all(  # the unknown-model price is never below a listed model's but o1-pro's
        wildcard["output"] >= e["output"]
        for k, e in data["models"].items()
        if k.startswith("openai:") and k != "openai:o1-pro"
    )


def test_billed_tokens_count_cache_reads_at_their_discount() -> None:
    price = load_price_table().price_for(ModelId("anthropic", "claude-sonnet-4-5"))
    usage = Usage(input_tokens=1_000, output_tokens=500, cached_tokens=90_000)
    assert billed_tokens(usage, price) == 1_000 + 500 + 9_000  # reads at a tenth
    written = Usage(input_tokens=0, output_tokens=0, cache_write_tokens=10_000)
    assert billed_tokens(written, price) == 12_500  # writes at 1.25x
    local = load_price_table().price_for(ModelId("ollama", "qwen"))
    assert billed_tokens(usage, local) == 91_500
