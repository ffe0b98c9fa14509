"""Building adapters from settings, one per provider (or per inline base URL), on demand."""

from __future__ import annotations

import httpx2

from app.config import Settings
from app.llm.model_ids import ModelId
from app.llm.providers.anthropic import AnthropicProvider
from app.llm.providers.base import Provider
from app.llm.providers.openai_compat import OpenAICompatProvider
from app.llm.providers.tool_ids import MISTRAL_IDS
from app.redaction import register_secret


def ollama_openai_url(ollama_url: str) -> str:
    return ollama_url.rstrip("/") + "/v1"


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

        def secret(value: object) -> str | None:
            getter = getattr(value, "get_secret_value", None)
            return str(getter()) if getter is not None else None

        if model_id.provider == "anthropic":
            return AnthropicProvider(
                secret(s.anthropic_api_key), s.anthropic_base_url, timeout, client
            )
        if model_id.provider == "openai":
            return OpenAICompatProvider(
                "openai",
                s.openai_base_url,
                secret(s.openai_api_key),
                timeout,
                client,
                key_setting="AGENTOPS_OPENAI_API_KEY",
                max_tokens_field="max_completion_tokens",
            )
        if model_id.provider == "mistral":
            return OpenAICompatProvider(
                "mistral",
                s.mistral_base_url,
                secret(s.mistral_api_key),
                timeout,
                client,
                key_setting="AGENTOPS_MISTRAL_API_KEY",
                ids=MISTRAL_IDS,
            )
        if model_id.provider == "ollama":
            return OpenAICompatProvider(
                "ollama",
                ollama_openai_url(s.ollama_url),
                "ollama",
                timeout,
                client,
                requires_key=False,
            )
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
