"""Model ids: which provider, which model, where.

Grammar (one string per model, as written in settings and `.agentops.yml`)::

    PROVIDER:MODEL
    openai-compatible:MODEL@BASE_URL

PROVIDER is a built-in provider (`provider_specs.PROVIDERS`), or the name of an endpoint in
`AGENTOPS_LLM_ENDPOINTS` (an OpenAI-compatible server with its base URL and key). The
text after the first colon is the model name exactly as the provider spells it, so
`ollama:qwen2.5-coder:7b` is the Ollama model `qwen2.5-coder:7b`. The inline form
`openai-compatible:MODEL@http://host:8000/v1` names a keyless OpenAI-compatible server.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.llm.provider_specs import INLINE_COMPATIBLE, PROVIDER_NAMES


class ModelIdError(ValueError):
    pass


@dataclass(frozen=True)
class ModelId:
    provider: str  # a built-in provider, INLINE_COMPATIBLE, or an endpoint's name
    model: str
    base_url: str | None = None  # only for the inline openai-compatible form

    def __str__(self) -> str:
        if self.base_url:
            return f"{self.provider}:{self.model}@{self.base_url}"
        return f"{self.provider}:{self.model}"

    @property
    def provider_key(self) -> str:
        """The adapter this model is served by (inline servers: one per base URL)."""
        return f"{self.provider}@{self.base_url}" if self.base_url else self.provider


def parse_model_id(text: str, endpoints: frozenset[str] = frozenset()) -> ModelId:
    provider, sep, rest = text.strip().partition(":")
    if not sep or not provider or not rest:
        example = f"{PROVIDER_NAMES[0]}:MODEL"
        raise ModelIdError(f"model id {text!r} is not PROVIDER:MODEL (e.g. {example})")
    if provider == INLINE_COMPATIBLE:
        model, at, base_url = rest.rpartition("@")
        if not at or not model or not base_url.startswith(("http://", "https://")):
            raise ModelIdError(
                f"model id {text!r}: write openai-compatible:MODEL@http://host:port/v1"
            )
        return ModelId(provider, model, base_url.rstrip("/"))
    if provider not in PROVIDER_NAMES and provider not in endpoints:
        known = ", ".join((*PROVIDER_NAMES, INLINE_COMPATIBLE, *sorted(endpoints)))
        raise ModelIdError(f"model id {text!r}: unknown provider {provider!r} (known: {known})")
    return ModelId(provider, rest)
