"""Process settings (environment, `AGENTOPS_` prefix) and their validation at start."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_LABELS = {
    "agentops": "implement",
    "agentops:implement": "implement",
    "agentops:plan": "plan",
    "agentops:test": "test",
    "agentops:review": "review",
}


class ConfigError(Exception):
    """Settings that cannot serve; the message is one line for the operator."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AGENTOPS_", extra="ignore")

    # --- infrastructure -------------------------------------------------------------
    database_url: str = "postgresql://postgres@127.0.0.1:5432/agentops"
    redis_url: str = "redis://127.0.0.1:6379/0"
    queue_name: str = "agentops:queue"
    public_url: str = "http://127.0.0.1:8000"
    admin_token: SecretStr | None = None
    workdir: Path = Path("/tmp/agentops")  # noqa: S108 - clones live here, per run
    max_body_bytes: int = 25 * 1024 * 1024
    job_timeout_seconds: int = 1800
    job_max_tries: int = 5
    requeue_after_seconds: int = 60
    labels: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_LABELS))
    forge_timeout_seconds: float = 30.0

    # --- GitHub App ------------------------------------------------------------------
    github_app_id: int | None = None
    github_app_slug: str | None = None
    github_private_key: SecretStr | None = None
    github_private_key_path: Path | None = None
    github_webhook_secret: SecretStr | None = None
    github_api_url: str = "https://api.github.com"

    # --- GitLab ----------------------------------------------------------------------
    gitlab_url: str | None = None
    gitlab_token: SecretStr | None = None
    gitlab_webhook_secret: SecretStr | None = None
    gitlab_signing_token: SecretStr | None = None
    gitlab_bot_username: str | None = None

    # --- LLM providers (owned by app/llm; keep this block together) ------------------
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    mistral_api_key: SecretStr | None = None
    mistral_base_url: str = "https://api.mistral.ai/v1"
    ollama_url: str = "http://127.0.0.1:11434"
    llm_models: dict[str, list[str]] = Field(default_factory=dict)
    llm_timeout_seconds: float = 120.0
    llm_max_retries: int = 3
    llm_prices_path: Path | None = None
    budget_tenant_month_usd: float | None = None
    budget_run_usd: float | None = None
    # model used for a role that `llm_models` does not name and no API key implies
    llm_default_model: str = "ollama:qwen2.5-coder"
    # named OpenAI-compatible servers: {"vllm": {"base_url": "http://gpu:8000/v1",
    # "api_key": "..."}}; a model id `vllm:MODEL` then goes there
    llm_endpoints: dict[str, dict[str, str]] = Field(default_factory=dict)
    llm_retry_base_seconds: float = 1.0  # first backoff; doubles per retry
    llm_retry_max_seconds: float = 30.0  # longest wait; a longer retry-after skips the model

    @model_validator(mode="after")
    def _forges_have_secrets(self) -> Settings:
        if self.github_app_id is not None and not _filled(self.github_webhook_secret):
            raise ValueError(
                "AGENTOPS_GITHUB_APP_ID is set but AGENTOPS_GITHUB_WEBHOOK_SECRET is not: "
                "set the webhook secret of the GitHub App"
            )
        if self.github_app_id is not None and not (
            _filled(self.github_private_key) or self.github_private_key_path
        ):
            raise ValueError(
                "AGENTOPS_GITHUB_APP_ID is set but neither AGENTOPS_GITHUB_PRIVATE_KEY nor "
                "AGENTOPS_GITHUB_PRIVATE_KEY_PATH is"
            )
        if self.gitlab_url and not _filled(self.gitlab_webhook_secret):
            raise ValueError(
                "AGENTOPS_GITLAB_URL is set but AGENTOPS_GITLAB_WEBHOOK_SECRET is not: "
                "set the secret token of the GitLab webhook"
            )
        if self.gitlab_url and not _filled(self.gitlab_token):
            raise ValueError("AGENTOPS_GITLAB_URL is set but AGENTOPS_GITLAB_TOKEN is not")
        return self

    @property
    def github_enabled(self) -> bool:
        return self.github_app_id is not None

    @property
    def gitlab_enabled(self) -> bool:
        return bool(self.gitlab_url)

    @cached_property
    def github_private_key_pem(self) -> str:
        if self.github_private_key is not None and self.github_private_key.get_secret_value():
            return self.github_private_key.get_secret_value().replace("\\n", "\n")
        if self.github_private_key_path is not None:
            return self.github_private_key_path.read_text()
        raise ConfigError("no GitHub App private key is configured")

    @property
    def github_bot_login(self) -> str | None:
        return f"{self.github_app_slug}[bot]" if self.github_app_slug else None

    def secret_values(self) -> list[str]:
        """Every configured secret, for log redaction."""
        found: list[str] = []
        for value in self.__dict__.values():
            if isinstance(value, SecretStr) and value.get_secret_value():
                found.append(value.get_secret_value())
        return found


def _filled(secret: SecretStr | None) -> bool:
    return secret is not None and bool(secret.get_secret_value())


def load_settings() -> Settings:
    """Read the environment; a bad setting becomes one `ConfigError` line."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = first.get("msg", str(exc)).removeprefix("Value error, ")
        prefix = f"AGENTOPS_{where.upper()}: " if where else ""
        raise ConfigError(f"configuration error: {prefix}{message}") from None
