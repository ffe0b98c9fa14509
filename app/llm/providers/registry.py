"""Building adapters from settings, one per provider (or per inline base URL), on demand."""

from __future__ import annotations

import httpx2

from app.config import Settings
from app.llm.model_ids import ModelId
from app.llm.provider_specs import ProviderSpec, api_key, api_url, provider_spec
from app.llm.providers.anthropic import AnthropicProvider
from app.llm.providers.base import Provider
from app.llm.providers.openai_compat import OpenAICompatProvider
from app.redaction import register_secret


def build_adapter(
    spec: ProviderSpec, settings: Settings, http_client: httpx2.AsyncClient | None = None
) -> Provider:
    """The adapter of a built-in provider, as its table entry and the settings say."""
    key, url = api_key(settings, spec), api_url(settings, spec)
    timeout = settings.llm_timeout_seconds
    if spec.protocol == "messages":
        return AnthropicProvider(
            spec.name, key, url, timeout, http_client, key_setting=spec.key_env or ""
        )
    return OpenAICompatProvider(
        spec.name,
        url,
        key,
        timeout,
        http_client,
        key_setting=spec.key_env or "",
        max_tokens_field=spec.max_tokens_field,
        requires_key=spec.key_field is not None,
        ids=spec.tool_ids,
    )


def llm_secrets(settings: Settings) -> list[str]:
    """Every LLM key in the settings, including named endpoints' (never to be sent)."""
    found = list(settings.secret_values())
    for endpoint in settings.llm_endpoints.values():
        key = endpoint.get("api_key")
        if key:
            found.append(key)
    return found


class ProviderRegistry:
    def __init__(self, settings: Settings, http_client: httpx2.AsyncClient | None = None) -> None:
        self._settings = settings
        self._http_client = http_client
        self._providers: dict[str, Provider] = {}
        for endpoint in settings.llm_endpoints.values():  # plain strings in Settings:
            if endpoint.get("api_key"):  # tell the log filter about them
                register_secret(endpoint["api_key"])

    def for_model(self, model_id: ModelId) -> Provider:
        key = model_id.provider_key
        if key not in self._providers:
            self._providers[key] = self._build(model_id)
        return self._providers[key]

    def _build(self, model_id: ModelId) -> Provider:
        s = self._settings
        timeout = s.llm_timeout_seconds
        client = self._http_client
        spec = provider_spec(model_id.provider)
        if spec is not None:
            return build_adapter(spec, s, client)
        if model_id.base_url is not None:
            return OpenAICompatProvider(
                model_id.provider, model_id.base_url, None, timeout, client, requires_key=False
            )
        endpoint = s.llm_endpoints[model_id.provider]
        return OpenAICompatProvider(
            model_id.provider,
            endpoint.get("base_url"),
            endpoint.get("api_key"),
            timeout,
            client,
            requires_key=False,
        )

    async def close(self) -> None:
        for provider in self._providers.values():
            await provider.close()
        self._providers.clear()
