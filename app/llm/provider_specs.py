"""The LLM providers AgentOps speaks to by name: one entry each, everything else derived.

A `ProviderSpec` says which adapter serves the provider (the Anthropic Messages API or
OpenAI's Chat Completions), which settings hold its key and its base URL, the models a
configured key implies, and the words a person reads about it (what to set, how to start
a local server, how to fetch a missing model). The model-id grammar, the adapter
registry, the default routes, the key hints of the router, `agentops doctor`, the CLI's
"nothing reachable" line and the price file's `PROVIDER:*` fallbacks all read this
table; `tests/unit/llm/test_provider_specs.py` checks that nothing else lists providers.

The settings themselves stay fields of `app.config.Settings` (README documents each);
this table names them. Adding a provider: one entry here, its settings fields, a
`PROVIDER:*` price, and a row in README's *LLM providers* table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.config import Settings
from app.llm.providers.tool_ids import ANTHROPIC_IDS, MISTRAL_IDS, OPENAI_IDS, ToolIdRule

# Anthropic's Messages API, or OpenAI's Chat Completions (which many servers speak)
Protocol = Literal["messages", "chat-completions"]

# `openai-compatible:MODEL@BASE_URL`: a keyless OpenAI-compatible server named inline.
INLINE_COMPATIBLE = "openai-compatible"


@dataclass(frozen=True)
class ProviderSpec:
    name: str  # the PROVIDER of model ids `PROVIDER:MODEL`
    title: str  # as a person writes it
    protocol: Protocol
    url_field: str  # the Settings field of its base URL
    # the Settings field of its API key; None: it takes none (a local server)
    key_field: str | None = None
    # shown when the URL setting is unset (the SDK's own default is then used)
    default_url: str = ""
    # appended to the URL setting for the API (Ollama's OpenAI-compatible API is at /v1)
    api_path: str = ""
    # the models a configured key implies, per role kind, when nothing else is set
    strong_model: str = ""
    cheap_model: str = ""
    max_tokens_field: str = "max_tokens"  # OpenAI's newer models take max_completion_tokens
    tool_ids: ToolIdRule = OPENAI_IDS
    start_command: str = ""  # how a person starts a local server
    pull_command: str = ""  # how a person fetches a missing model ({model})

    @property
    def key_env(self) -> str | None:
        """The variable a person sets for its key (`AGENTOPS_…_API_KEY`)."""
        return None if self.key_field is None else _env(self.key_field)

    @property
    def url_env(self) -> str:
        return _env(self.url_field)

    def implied_model(self, role: str) -> str:
        """The model id a configured key implies for `role` ("" when none)."""
        model = self.cheap_model if role == "cheap" else self.strong_model
        return f"{self.name}:{model}" if model else ""


PROVIDERS: tuple[ProviderSpec, ...] = (  # the order keys imply default models in
    ProviderSpec(
        "anthropic",
        "Anthropic",
        "messages",
        url_field="anthropic_base_url",
        key_field="anthropic_api_key",
        default_url="https://api.anthropic.com",
        strong_model="claude-sonnet-4-6",
        cheap_model="claude-haiku-4-5",
        tool_ids=ANTHROPIC_IDS,
    ),
    ProviderSpec(
        "openai",
        "OpenAI",
        "chat-completions",
        url_field="openai_base_url",
        key_field="openai_api_key",
        default_url="https://api.openai.com/v1",
        strong_model="gpt-4.1",
        cheap_model="gpt-4.1-mini",
        max_tokens_field="max_completion_tokens",
    ),
    ProviderSpec(
        "mistral",
        "Mistral",
        "chat-completions",
        url_field="mistral_base_url",
        key_field="mistral_api_key",
        strong_model="mistral-large-latest",
        cheap_model="mistral-small-latest",
        tool_ids=MISTRAL_IDS,
    ),
    ProviderSpec(
        "ollama",
        "Ollama",
        "chat-completions",
        url_field="ollama_url",
        api_path="/v1",
        start_command="ollama serve",
        pull_command="ollama pull {model}",
    ),
)

PROVIDER_NAMES: tuple[str, ...] = tuple(spec.name for spec in PROVIDERS)
_BY_NAME: dict[str, ProviderSpec] = {spec.name: spec for spec in PROVIDERS}


def _env(field: str) -> str:
    return f"AGENTOPS_{field.upper()}"


def provider_spec(name: str) -> ProviderSpec | None:
    """The built-in provider called `name`; None for named endpoints and inline servers."""
    return _BY_NAME.get(name)


def api_key(settings: Settings, spec: ProviderSpec) -> str | None:
    """The provider's configured key, or None (unset, empty, or it takes none)."""
    if spec.key_field is None:
        return None
    value = getattr(settings, spec.key_field)
    if value is None:
        return None
    return str(value.get_secret_value()) or None


def api_url(settings: Settings, spec: ProviderSpec) -> str | None:
    """The base URL the adapter is given; None: the SDK's own default."""
    value: str | None = getattr(settings, spec.url_field)
    if value is None:
        return None
    return value.rstrip("/") + spec.api_path if spec.api_path else value


def shown_url(settings: Settings, spec: ProviderSpec) -> str:
    """Where the provider is reached, as a person configures it (not redacted)."""
    value: str | None = getattr(settings, spec.url_field)
    return value or spec.default_url


def key_settings() -> str:
    """The key variables, for "configure another provider (…)"."""
    return ", ".join(spec.key_env for spec in PROVIDERS if spec.key_env is not None)


def config_hint(provider: str) -> str:
    """What to check when `provider` refused the credentials."""
    spec = provider_spec(provider)
    if spec is not None and spec.key_env is not None:
        return f"check {spec.key_env}"
    if spec is not None:
        return f"{spec.title} takes no key: check what answers at {spec.url_env}"
    if provider == INLINE_COMPATIBLE:
        return "a server named inline gets no key: add it to AGENTOPS_LLM_ENDPOINTS with one"
    return f"check the api_key of endpoint {provider!r} in AGENTOPS_LLM_ENDPOINTS"


def not_running(spec: ProviderSpec, url: str) -> str:
    """A local server that does not answer, and what to do (`url` already redacted)."""
    return (
        f"{spec.title} is not reachable at {url}: start it (`{spec.start_command}`), set "
        f"{spec.url_env}, or configure another provider ({key_settings()})"
    )


def missing_model_hint(spec: ProviderSpec, model: str) -> str:
    return f" (run `{spec.pull_command.format(model=model)}`)" if spec.pull_command else ""
