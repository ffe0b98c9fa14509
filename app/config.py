"""Process settings (environment, `AGENTOPS_` prefix) and their validation at start."""

from __future__ import annotations

import sys
from functools import cached_property
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
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
    heartbeat_seconds: float = 10.0  # a running run's worker proves it is alive this often
    stale_run_seconds: float = 90.0  # no heartbeat for this long: the worker died
    labels: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_LABELS))
    # Other labels are looked up in the repository's .agentops.yml (`labels:`) by the worker.
    repository_labels: bool = True
    forge_timeout_seconds: float = 30.0
    # Tests of repositories run only inside bubblewrap unless the operator says otherwise.
    sandbox_allow_unsandboxed: bool = False
    # The Python (a venv or prefix, read-only) that runs repositories' Python tests; the
    # worker's own when unset, whose pytest plugins then load into those tests too.
    sandbox_python: Path | None = None

    @property
    def sandbox_python_env(self) -> Path:
        # absolute: the sandbox mounts it at the same path, and runs in another directory
        return (self.sandbox_python or Path(sys.prefix)).absolute()

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
    # The operator's secret: each project's (or group's) hook token is derived from it
    # (`agentops gitlab-secret PATH`); the secret itself is refused as a token unless the
    # operator opts in for a migration (each such delivery logs a warning).
    gitlab_webhook_secret: SecretStr | None = None
    gitlab_accept_shared_secret: bool = False
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
        if (
            self.sandbox_python is not None
            and not (self.sandbox_python / "bin" / "python").exists()
        ):
            raise ValueError(
                f"AGENTOPS_SANDBOX_PYTHON={self.sandbox_python} has no bin/python: point it at "
                "a virtualenv (`make sandbox-python` builds one with pytest)"
            )
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
        for endpoint in self.llm_endpoints.values():
            if endpoint.get("api_key"):
                found.append(endpoint["api_key"])
        return found


def _filled(secret: SecretStr | None) -> bool:
    return secret is not None and bool(secret.get_secret_value())


def load_settings() -> Settings:
    """Read the environment; a bad setting becomes one `ConfigError` line."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = first.get("msg", str(exc)).removeprefix("Value error, ")
        prefix = f"AGENTOPS_{where.upper()}: " if where else ""
        raise ConfigError(f"configuration error: {prefix}{message}") from None


# --- per-repository `.agentops.yml` ----------------------------------------------------

REPO_CONFIG_FILE = ".agentops.yml"
ALL_COMMANDS = ("implement", "plan", "test", "review", "fix", "status", "cancel", "retry", "help")


class RepoLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_turns: int = Field(default=30, ge=1, le=200)
    max_tokens: int = Field(default=400_000, ge=1_000)
    max_test_runs: int = Field(default=6, ge=1, le=50)
    test_timeout_seconds: int = Field(default=600, ge=10, le=3600)


class RepoConfig(BaseModel):
    """What a repository may say about how AgentOps works on it.

    Read from the default branch; from a pull request's head only when its author has
    write access. `models` and `budgets` are validated by `app/llm` (`RepoLLMConfig`).
    """

    model_config = ConfigDict(extra="forbid")
    commands: list[str] = Field(default_factory=lambda: list(ALL_COMMANDS))
    labels: dict[str, str] = Field(default_factory=dict)
    models: dict[str, list[str] | str] = Field(default_factory=dict)
    budgets: dict[str, float] = Field(default_factory=dict)
    test: str | None = None  # the test command; detected when absent
    setup: list[str] = Field(default_factory=list)  # run in the sandbox before the tests
    forbidden_paths: list[str] = Field(default_factory=list)  # globs the bot may not touch
    allow_workflow_edits: bool = False  # .github/workflows/ stays off limits unless true
    limits: RepoLimits = Field(default_factory=RepoLimits)

    @model_validator(mode="after")
    def _known_commands(self) -> RepoConfig:
        unknown = [c for c in [*self.commands, *self.labels.values()] if c not in ALL_COMMANDS]
        if unknown:
            raise ValueError(f"unknown command {unknown[0]!r}; known: {', '.join(ALL_COMMANDS)}")
        return self


class RepoConfigError(Exception):
    """`.agentops.yml` is not usable; the message says where and why, for the person."""


def parse_repo_config(text: str | None) -> RepoConfig:
    """The repository's settings; defaults when the file is absent or empty."""
    if not text or not text.strip():
        return RepoConfig()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise RepoConfigError(f"{REPO_CONFIG_FILE} is not valid YAML{where}") from None
    if data is None:
        return RepoConfig()
    if not isinstance(data, dict):
        raise RepoConfigError(f"{REPO_CONFIG_FILE} must be a mapping of settings")
    try:
        return RepoConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        message = first["msg"].removeprefix("Value error, ")
        raise RepoConfigError(f"{REPO_CONFIG_FILE}: {where}: {message}") from None


def repo_config_labels(text: str | None) -> dict[str, str]:
    """`labels:` of an `.agentops.yml`, honoured even when another key is wrong: the run
    such a label starts then reports that error where the person sees it. Nothing when
    the file is not YAML or `labels:` is not a mapping."""
    try:
        return parse_repo_config(text).labels
    except RepoConfigError:
        pass
    try:
        data = yaml.safe_load(text or "")
    except yaml.YAMLError:
        return {}
    labels = data.get("labels") if isinstance(data, dict) else None
    if not isinstance(labels, dict):
        return {}
    return {k: v for k, v in labels.items() if isinstance(k, str) and isinstance(v, str)}
