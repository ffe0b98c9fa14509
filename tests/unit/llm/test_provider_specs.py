"""One table of LLM providers (`app/llm/provider_specs.py: PROVIDERS`): the settings, the
price file, README and every module that needs a provider's name, key or URL follow it."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from pydantic import SecretStr

from app.config import Settings
from app.llm.doctor import explain_provider_error, provider_url
from app.llm.errors import ProviderError
from app.llm.model_ids import ModelId, ModelIdError, parse_model_id
from app.llm.prices import DEFAULT_PRICES_PATH, load_price_table
from app.llm.provider_specs import (
    INLINE_COMPATIBLE,
    PROVIDER_NAMES,
    PROVIDERS,
    ProviderSpec,
    config_hint,
)
from app.llm.providers.registry import ProviderRegistry
from app.llm.routing import resolve_routes
from app.llm.types import ROLES, LLMRequest, Message

ROOT = Path(__file__).resolve().parents[3]
KEYED = [spec for spec in PROVIDERS if spec.key_field is not None]
LOCAL = [spec for spec in PROVIDERS if spec.start_command]
NAMES = set(PROVIDER_NAMES)
SETTING_NAMES = {s.key_env for s in KEYED if s.key_env} | {s.url_env for s in PROVIDERS}


def _key(text: str) -> SecretStr:
    return SecretStr(text * 24)


def test_every_spec_names_settings_that_exist() -> None:
    fields = Settings.model_fields
    for spec in PROVIDERS:
        assert spec.url_field in fields
        assert spec.key_field is None or fields[spec.key_field].annotation == SecretStr | None


def test_every_key_setting_belongs_to_a_provider() -> None:
    """A new `*_api_key` setting without a table entry would never be read."""
    keys = {name for name in Settings.model_fields if name.endswith("_api_key")}
    assert keys == {spec.key_field for spec in KEYED}


def test_model_ids_know_exactly_the_table() -> None:
    for spec in PROVIDERS:
        assert parse_model_id(f"{spec.name}:m") == ModelId(spec.name, "m")
    with pytest.raises(ModelIdError, match=", ".join((*PROVIDER_NAMES, INLINE_COMPATIBLE))):
        parse_model_id("bedrock:claude")


@pytest.mark.parametrize("spec", KEYED, ids=lambda s: s.name)
def test_a_key_alone_implies_its_provider_s_models(spec: ProviderSpec) -> None:
    assert spec.key_field is not None
    routes = resolve_routes(Settings.model_validate({spec.key_field: _key("k")}))
    for role in ROLES:
        (only,) = routes.chain(role)
        assert str(only) == spec.implied_model(role)
    assert routes.chain("cheap") != routes.chain("coder")


def test_the_first_key_in_table_order_wins() -> None:
    every_key = {spec.key_field: _key("k") for spec in KEYED if spec.key_field}
    routes = resolve_routes(Settings.model_validate(every_key))
    assert routes.chain("coder")[0].provider == KEYED[0].name


def test_implied_models_have_their_own_price() -> None:
    table = load_price_table()
    for spec in KEYED:
        for role in ROLES:
            price = table.price_for(parse_model_id(spec.implied_model(role)))
            assert not price.guessed, f"{spec.implied_model(role)} is priced as {price.key}"


def test_the_price_file_has_a_fallback_per_provider_and_no_other_provider() -> None:
    keys = json.loads(DEFAULT_PRICES_PATH.read_text())["models"]
    assert {f"{name}:*" for name in (*PROVIDER_NAMES, INLINE_COMPATIBLE)} <= set(keys)
    assert {key.partition(":")[0] for key in keys} == {*PROVIDER_NAMES, INLINE_COMPATIBLE}


def test_readme_documents_each_provider_as_the_table_says() -> None:
    readme = (ROOT / "README.md").read_text()
    rows = {
        line.split("|")[1].strip(): line for line in readme.splitlines() if line.startswith("| ")
    }
    flat = " ".join(readme.split())
    for spec in PROVIDERS:
        row = rows[spec.title]
        assert f"`{spec.url_env}`" in row
        assert spec.key_env is None or f"`{spec.key_env}`" in row
        assert spec.key_env is not None or "no key" in row
        if spec.strong_model:
            assert f"{spec.title} → {spec.strong_model} / {spec.cheap_model}" in flat


@pytest.mark.parametrize("spec", KEYED, ids=lambda s: s.name)
async def test_without_its_key_an_adapter_names_the_setting_and_sends_nothing(
    spec: ProviderSpec,
) -> None:
    # a closed port: were a request sent, the error would be a connection failure
    assert spec.key_field is not None
    settings = Settings.model_validate({spec.url_field: "http://127.0.0.1:9"})
    registry = ProviderRegistry(settings)
    try:
        adapter = registry.for_model(ModelId(spec.name, "m"))
        with pytest.raises(ProviderError) as caught:
            await adapter.complete(LLMRequest("cheap", "s", (Message.user("x"),)), "m")
    finally:
        await registry.close()
    assert caught.value.kind == "auth" and caught.value.status is None
    assert caught.value.message == f"no API key: set {spec.key_env}"


def test_a_refused_key_points_at_the_right_setting() -> None:
    for spec in KEYED:
        assert config_hint(spec.name) == f"check {spec.key_env}"
    for spec in PROVIDERS:
        if spec.key_env is None:  # a keyless server refusing: its URL, not a key setting
            assert spec.url_env in config_hint(spec.name)
            assert "AGENTOPS_LLM_ENDPOINTS" not in config_hint(spec.name)
    assert "'gpu'" in config_hint("gpu") and "AGENTOPS_LLM_ENDPOINTS" in config_hint("gpu")


@pytest.mark.parametrize("spec", LOCAL, ids=lambda s: s.name)
def test_a_local_server_down_says_how_to_start_it_and_what_else_to_set(
    spec: ProviderSpec,
) -> None:
    settings = Settings.model_validate({spec.url_field: "http://127.0.0.1:9"})
    model_id = ModelId(spec.name, "m")
    assert provider_url(settings, model_id) == "http://127.0.0.1:9"
    line = explain_provider_error(settings, model_id, ProviderError("connection", "refused"))
    assert line.startswith(f"{spec.title} is not reachable at http://127.0.0.1:9: start it")
    assert f"`{spec.start_command}`" in line and spec.url_env in line
    assert all(f"{key.key_env}" in line for key in KEYED)


def test_urls_shown_are_the_configured_ones_or_the_provider_s_own() -> None:
    settings = Settings()
    for spec in PROVIDERS:
        shown = provider_url(settings, ModelId(spec.name, "m"))
        assert shown == (getattr(settings, spec.url_field) or spec.default_url)
        assert shown.startswith(("http://", "https://"))


# --- nothing outside the table lists providers by hand --------------------------------------


def _hand_written(path: Path, constants: bool) -> list[str]:
    """Literal collections (or dict keys) naming two providers or more; with `constants`,
    also any string that is a provider's name, a model id of one, or one of its settings'
    variables (`AGENTOPS_…_API_KEY`)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Tuple | ast.List | ast.Set | ast.Dict):
            items = node.keys if isinstance(node, ast.Dict) else node.elts
            named = {i.value for i in items if isinstance(i, ast.Constant) and i.value in NAMES}
            if len(named) >= 2:
                found.append(f"{node.lineno}: lists {sorted(named)}")
        elif constants and isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if (
                text in NAMES
                or (text.partition(":")[0] in NAMES and ":" in text)
                or any(name in text for name in SETTING_NAMES)
            ):
                found.append(f"{node.lineno}: {text[:60]!r}")
    return found


def test_nothing_else_lists_providers_by_hand() -> None:
    table = ROOT / "app" / "llm" / "provider_specs.py"
    # The settings model keeps one field per provider setting (README documents each) and
    # the default model id; it may not list providers either.
    settings = ROOT / "app" / "config.py"
    listed = {
        str(path.relative_to(ROOT)): lines
        for folder in ("app", "handlers", "jobs")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path != table and (lines := _hand_written(path, constants=path != settings))
    }
    assert listed == {}


def test_the_hand_list_check_sees_what_it_looks_for(tmp_path: Path) -> None:
    a, b = PROVIDER_NAMES[:2]
    source = tmp_path / "m.py"
    source.write_text(
        f"X = {{{a!r}: 1, {b!r}: 2}}\n"
        f"if p == {a!r}: pass\n"
        f"M = '{b}:some-model'\n"
        f"S = 'set {KEYED[0].key_env}'\n"
        "T = 'a plain: text'\n"
    )
    found = _hand_written(source, constants=True)
    assert {line.split(":")[0] for line in found} == {"1", "2", "3", "4"}
    assert f"1: lists {sorted((a, b))}" in found
