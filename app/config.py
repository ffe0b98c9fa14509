"""Process settings (environment, `AGENTOPS_` prefix) and their validation at start."""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import sys
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from app import repo_files
from app.commands import COMMANDS, DEFAULT_LABELS
from app.forwarded import Network, trusted_networks
from app.prepare.egress import DEFAULT_REGISTRIES, EgressConfigError, parse_allowed, parse_resolve
from app.sandbox.test_commands import command_from_config, parse_select_template


class ConfigError(Exception):
    """Settings that cannot serve; the message is one line for the operator."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AGENTOPS_", extra="ignore")

    # --- infrastructure -------------------------------------------------------------
    database_url: str = "postgresql://postgres@127.0.0.1:5432/agentops"
    # Tenant work logs in as agentops_tenant (row-level security it cannot leave); by
    # default the database URL with that user and no password.
    tenant_database_url: str | None = None
    redis_url: str = "redis://127.0.0.1:6379/0"
    queue_name: str = "agentops:queue"
    public_url: str = "http://127.0.0.1:8000"
    # comma-separated addresses or networks whose X-Forwarded-* headers count (app/forwarded.py)
    trusted_proxies: str = "127.0.0.1,::1"
    admin_token: SecretStr | None = None
    # When set, GET /metrics wants `Authorization: Bearer <token>`; unset, it stays open.
    metrics_token: SecretStr | None = None
    workdir: Path = Path("/tmp/agentops")  # noqa: S108 - clones live here, per run
    max_body_bytes: int = 25 * 1024 * 1024
    # A webhook is answered within this many seconds (GitHub waits 10): stored and 202,
    # or 503 so that the forge sends it again; a body not received in it is a 408.
    intake_budget_seconds: float = Field(default=5.0, gt=0)
    # Deliveries being stored at once beyond this are answered 503 at once (load shed).
    intake_max_pending: int = Field(default=64, ge=1)
    # Megabytes of webhook bodies held at once (a body is authenticated only once whole);
    # beyond, a new delivery is answered 503.
    intake_max_receiving_mb: int = Field(default=128, ge=1)
    # uvicorn's line per HTTP request; off by default: every delivery that stores something
    # logs its own line, /metrics counts every answer by forge and status.
    access_log: bool = False
    job_timeout_seconds: int = 1800
    job_max_tries: int = 5
    requeue_after_seconds: int = 60
    heartbeat_seconds: float = 10.0  # a running run's worker proves it is alive this often
    stale_run_seconds: float = 90.0  # no heartbeat for this long: the worker died
    labels: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_LABELS))
    # Other labels are looked up in the repository's .agentops.yml (`labels:`) by the worker.
    repository_labels: bool = True
    forge_timeout_seconds: float = 30.0
    # A person without write access gets the 👀 and the refusal at most this many times per
    # repository within the window; past it their runs end refused with nothing posted.
    refusal_notice_limit: int = Field(default=5, ge=0)
    refusal_notice_window_seconds: float = Field(default=3600.0, gt=0)
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
    # how often the worker asks GitHub again for deliveries that did not reach AgentOps
    # (also once at start); 0 turns it off
    github_redeliver_seconds: float = Field(default=300.0, ge=0)
    # The manifest flow writes the new App's settings here (mode 0600) instead of showing
    # them on the page.
    setup_credentials_file: Path | None = None

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
    # a refused or missing key: false = log what to fix and try the next model
    llm_stop_on_auth_error: bool = False
    # a model failing this often (timeouts, 5xx, overload) within the window is skipped by
    # every worker for llm_cooldown_seconds
    llm_cooldown_failures: int = Field(default=3, ge=1)
    llm_cooldown_window_seconds: float = Field(default=300.0, gt=0)
    llm_cooldown_seconds: float = Field(default=120.0, gt=0)

    # --- sandbox limits, caps on .agentops.yml (owned by app/sandbox; keep together) --
    # Each sandboxed command as a whole: memory, processes and CPU through its own cgroup
    # where the host gives one; `agentops doctor` says which isolation is in force.
    sandbox_memory_mb: int = Field(default=4096, ge=64)  # RAM, tmpfs pages included
    sandbox_processes: int = Field(default=256, ge=16)  # processes and threads at once
    sandbox_cpus: float = Field(default=2.0, gt=0)  # CPU seconds per wall-clock second
    # size of its /tmp (HOME), of its /dev/shm, and of the run's scratch area (root)
    sandbox_disk_mb: int = Field(default=2048, ge=16)
    sandbox_cgroup: Path | None = None  # a delegated cgroup v2 directory; found if unset
    # Interpreters a repository may ask for (comma-separated paths); unset: python3.N on
    # PATH and pyenv's versions (app/toolchains.py)
    sandbox_pythons: str = ""
    # The most a repository's `.agentops.yml` `limits:` may ask for; more is capped.
    max_test_timeout_seconds: int = Field(default=1800, ge=10)
    max_turns: int = Field(default=60, ge=1)
    max_tokens: int = Field(default=1_000_000, ge=1_000)
    max_test_runs: int = Field(default=12, ge=1)
    max_suite_check_seconds: int = Field(default=900, ge=0)
    # A change whose new tests cannot be proven here for a reason outside it (they need
    # the network, a service, a display): "draft" delivers it as a draft marked unproven,
    # "none" delivers nothing and says why. Not delivered by default: what reaches people
    # as the bot's work has been proven, unless the operator decides otherwise.
    unproven_delivery: Literal["draft", "none"] = "none"

    # --- the prepare phase (app/prepare): dependencies installed in the sandbox --------
    # Its only network is the worker's egress proxy, which admits these hosts (comma-
    # separated `host`, `host:port` or `*.domain`; no port: 443 and 80) and nothing else.
    prepare_registries: str = ",".join(DEFAULT_REGISTRIES)
    # `name:port=address:port`, comma-separated: a registry reached at another address
    # (split DNS); the only way to admit a loopback or link-local address
    prepare_resolve: str = ""
    # A company mirror instead of the public registries (also add its host above).
    prepare_pip_index_url: str | None = None
    prepare_npm_registry: str | None = None
    prepare_composer_repository: str | None = None
    prepare_goproxy: str | None = None
    # The keys corepack checks pnpm's and yarn's signatures with (its own by default); "0"
    # turns the check off, for a mirror that serves package metadata without signatures.
    prepare_corepack_integrity_keys: str | None = None
    # The CA bundle package managers trust (a mirror's private CA, a TLS-inspecting proxy).
    prepare_ca_bundle: Path | None = Path("/etc/ssl/certs/ca-certificates.crt")
    prepare_timeout_seconds: int = Field(default=900, ge=10)  # each install command
    prepare_memory_mb: int = Field(default=4096, ge=64)
    prepare_disk_mb: int = Field(default=4096, ge=16)  # the checkout's copy and what it installs
    prepare_cache_dir: Path | None = None  # default: <workdir>/deps-cache
    prepare_cache_mb: int = Field(default=10240, ge=0)  # per tenant; least recently used go

    @field_validator("labels")
    @classmethod
    def _label_commands_exist(cls, labels: dict[str, str]) -> dict[str, str]:
        unknown = sorted({c for c in labels.values() if c not in ALL_COMMANDS})
        if unknown:
            raise ValueError(
                f"unknown command(s) {', '.join(unknown)}; commands: {', '.join(ALL_COMMANDS)}"
            )
        return labels

    @field_validator("prepare_registries", "prepare_resolve")
    @classmethod
    def _egress_entries(cls, value: str, info: ValidationInfo) -> str:
        parse = parse_allowed if info.field_name == "prepare_registries" else parse_resolve
        try:
            parse(value.split(","))
        except (EgressConfigError, ValueError) as exc:
            raise ValueError(f"AGENTOPS_{str(info.field_name).upper()}: {exc}") from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        try:
            trusted_networks(value.split(","))
        except ValueError as exc:
            raise ValueError(f"AGENTOPS_TRUSTED_PROXIES: {exc}") from None
        return value

    @property
    def proxy_networks(self) -> tuple[Network, ...]:
        return trusted_networks(self.trusted_proxies.split(","))

    @property
    def repo_limit_caps(self) -> dict[str, int]:
        """`RepoLimits` field -> the operator's cap (see `cap_repo_limits`)."""
        return {
            "test_timeout_seconds": self.max_test_timeout_seconds,
            "max_turns": self.max_turns,
            "max_tokens": self.max_tokens,
            "max_test_runs": self.max_test_runs,
            "suite_check_seconds": self.max_suite_check_seconds,
        }

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
        if self.github_private_key_path is not None:
            # an unreadable key file fails later, loudly, where the key is used
            with contextlib.suppress(OSError):
                found.append(self.github_private_key_pem)
        # Passwords in service URLs, when long enough not to be ordinary words ("postgres"):
        # inside a URL they are caught anyway (`scheme://user:secret@`).
        for url in (self.database_url, self.tenant_database_url, self.redis_url):
            password = unquote(urlsplit(url or "").password or "")
            if len(password) >= 12:
                found.append(password)
        return found


def _filled(secret: SecretStr | None) -> bool:
    return secret is not None and bool(secret.get_secret_value())


MIN_WEBHOOK_SECRET_LENGTH = 16


def weak_webhook_secret(settings: Settings) -> str | None:
    """Why a configured webhook secret is too weak to serve with, or None.

    A short secret is guessed or brute-forced offline from one signed delivery; one of
    whitespace is what a bad copy-paste leaves. The value itself is never quoted."""
    for name, secret in (
        ("AGENTOPS_GITHUB_WEBHOOK_SECRET", settings.github_webhook_secret),
        ("AGENTOPS_GITLAB_WEBHOOK_SECRET", settings.gitlab_webhook_secret),
        ("AGENTOPS_GITLAB_SIGNING_TOKEN", settings.gitlab_signing_token),
    ):
        value = secret.get_secret_value() if secret is not None else ""
        if not value:
            continue  # unset; whether it is required is `Settings`'s own check
        if not value.strip():
            return f"{name} is only whitespace: set a random secret (e.g. `openssl rand -hex 32`)"
        if len(value.strip()) < MIN_WEBHOOK_SECRET_LENGTH:
            return (
                f"{name} is too short ({len(value.strip())} characters): use at least "
                f"{MIN_WEBHOOK_SECRET_LENGTH} random characters (e.g. `openssl rand -hex 32`)"
            )
    return None


def load_settings() -> Settings:
    """Read the environment; a bad setting becomes one `ConfigError` line."""
    try:
        settings = Settings()
    except SettingsError as exc:  # a JSON setting that does not parse
        named = re.search(r'field "([^"]+)"', str(exc))
        name = f"AGENTOPS_{named.group(1).upper()}" if named else "a setting"
        why = f" ({exc.__cause__})" if exc.__cause__ else ""
        raise ConfigError(f"configuration error: {name} is not valid JSON{why}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = first.get("msg", str(exc)).removeprefix("Value error, ")
        prefix = f"AGENTOPS_{where.upper()}: " if where else ""
        raise ConfigError(f"configuration error: {prefix}{message}") from None
    if (weak := weak_webhook_secret(settings)) is not None:
        raise ConfigError(f"configuration error: {weak}")
    for line in misspelled_settings(os.environ):
        print(f"agentops: warning: {line}", file=sys.stderr)
    return settings


# AGENTOPS_* variables that are no settings of the service (the code map's CLI, the tests)
OTHER_VARIABLES = frozenset({"CODEMAP_CACHE", "TEST_PG", "TEST_PG_BIN", "TEST_REDIS"})


def misspelled_settings(environ: Mapping[str, str]) -> list[str]:
    """An `AGENTOPS_*` variable that is no setting but close to one's name: it would be
    ignored without a word."""
    names = [name.upper() for name in Settings.model_fields]
    found = []
    for variable in sorted(environ):
        name = variable.removeprefix("AGENTOPS_")
        if name == variable or name in names or name in OTHER_VARIABLES:
            continue
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.8)
        if close:
            found.append(f"{variable} is not a setting (did you mean AGENTOPS_{close[0]}?)")
    return found


# --- per-repository `.agentops.yml` ----------------------------------------------------

REPO_CONFIG_FILE = ".agentops.yml"
MAX_REPO_CONFIG_BYTES = 256 * 1024
ALL_COMMANDS: tuple[str, ...] = COMMANDS


class RepoLimits(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_turns: int = Field(default=30, ge=1, le=200)
    max_tokens: int = Field(default=400_000, ge=1_000)
    max_test_runs: int = Field(default=6, ge=1, le=50)
    test_timeout_seconds: int = Field(default=600, ge=10, le=3600)
    # Before delivery the whole suite runs on the original code and on the change when it
    # ends within this on the original code (0: only the touched test files are compared).
    # Left unset, a repository with more than 300 test files leaves its suite out.
    suite_check_seconds: int | None = Field(default=None, ge=0, le=3600)


CAP_SETTINGS = {
    "test_timeout_seconds": "AGENTOPS_MAX_TEST_TIMEOUT_SECONDS",
    "max_turns": "AGENTOPS_MAX_TURNS",
    "max_tokens": "AGENTOPS_MAX_TOKENS",
    "max_test_runs": "AGENTOPS_MAX_TEST_RUNS",
    "suite_check_seconds": "AGENTOPS_MAX_SUITE_CHECK_SECONDS",
}


def cap_repo_limits(limits: RepoLimits, caps: dict[str, int]) -> tuple[RepoLimits, list[str]]:
    """`limits` with every value above the operator's cap lowered to it, and one line per
    value lowered, for the run's check run and log (pure)."""
    lowered: dict[str, int] = {}
    notices: list[str] = []
    for name, cap in caps.items():
        asked = getattr(limits, name)
        if asked is not None and asked > cap:
            lowered[name] = cap
            notices.append(
                f"`limits.{name}: {asked}` in {REPO_CONFIG_FILE} is above what this "
                f"installation allows; {cap} is used"
            )
    return limits.model_copy(update=lowered), notices


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
    test_select: str | None = None  # how `test` runs single tests: a command with {tests}
    setup: list[str] = Field(default_factory=list)  # run in the sandbox before the tests
    forbidden_paths: list[str] = Field(default_factory=list)  # globs the bot may not touch
    allow_workflow_edits: bool = False  # CI definitions (edits/policy.py) off limits unless true
    limits: RepoLimits = Field(default_factory=RepoLimits)

    # The unknown name itself is not quoted: messages never echo a file's contents.
    @field_validator("commands")
    @classmethod
    def _known_commands(cls, commands: list[str]) -> list[str]:
        if any(c not in ALL_COMMANDS for c in commands):
            raise ValueError(f"an unknown command; known: {', '.join(ALL_COMMANDS)}")
        return commands

    @field_validator("test")
    @classmethod
    def _readable_test_command(cls, test: str | None) -> str | None:
        """A command the sandbox could not even start is refused when the file is read
        (an unclosed quote, only `NAME=value` words), not found out as red and green both
        failing."""
        if test is not None and test.strip():
            command_from_config(test)  # its ValueError says what is wrong
        return test

    @field_validator("test_select")
    @classmethod
    def _readable_select(cls, select: str | None) -> str | None:
        if select is not None:
            parse_select_template(select)  # its ValueError says what is wrong
        return select

    @model_validator(mode="after")
    def _select_needs_a_command(self) -> RepoConfig:
        if self.test_select and not (self.test and self.test.strip()):
            raise ValueError("test_select needs the test command it selects from: set `test:`")
        return self

    @field_validator("labels")
    @classmethod
    def _known_label_commands(cls, labels: dict[str, str]) -> dict[str, str]:
        if any(c not in ALL_COMMANDS for c in labels.values()):
            raise ValueError(f"an unknown command; known: {', '.join(ALL_COMMANDS)}")
        return labels


class RepoConfigError(Exception):
    """`.agentops.yml` is not usable; the message says where and why, for the person."""


def parse_repo_config(text: str | None) -> RepoConfig:
    """The repository's settings; defaults when the file is absent or empty."""
    if not text or not text.strip():
        return RepoConfig()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RepoConfigError(_yaml_error_text(exc)) from None
    if data is None:
        return RepoConfig()
    if not isinstance(data, dict):
        raise RepoConfigError(f"{REPO_CONFIG_FILE} must be a mapping of settings")
    try:
        return RepoConfig.model_validate(data)
    except ValidationError as exc:
        raise RepoConfigError(_validation_error_text(exc, text)) from None


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


# The messages below reach public check runs and comments: they say where (line, column,
# the name of a known setting) and what kind of problem, never a byte of the file.
_KNOWN_SETTINGS = frozenset(RepoConfig.model_fields) | frozenset(RepoLimits.model_fields)
_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"")
_YAML_TOKEN = re.compile(r"[^\w\s]{1,3}|<[a-z ]+>")


def _yaml_error_text(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None)
    kind = f": {_QUOTED.sub(_token_or_ellipsis, problem)}" if isinstance(problem, str) else ""
    return f"{REPO_CONFIG_FILE} is not valid YAML{where}{kind}"


def _token_or_ellipsis(quoted: re.Match[str]) -> str:
    """A quoted piece of a YAML problem: kept when it is a syntax token (`','`,
    `'<stream end>'`), else `…` (an alias, a tag, a character of the file)."""
    return quoted[0] if _YAML_TOKEN.fullmatch(quoted[0][1:-1]) else "…"


def _validation_error_text(exc: ValidationError, text: str) -> str:
    first = exc.errors()[0]
    loc = tuple(first["loc"])
    named: list[str] = []
    for part in loc:
        if not (isinstance(part, str) and part in _KNOWN_SETTINGS):
            break
        named.append(part)
    if first["type"] == "extra_forbidden":
        known = RepoLimits.model_fields if named == ["limits"] else RepoConfig.model_fields
        message = f"an unknown setting; known: {', '.join(known)}"
        named = named[:-1] if len(named) == len(loc) else named
    else:
        message = first["msg"].removeprefix("Value error, ")
    where = _position(text, loc)
    setting = f", `{'.'.join(named)}`" if named else ""
    return f"{REPO_CONFIG_FILE}{setting}{where}: {message}"


def _position(text: str, loc: tuple[int | str, ...]) -> str:
    """` (line L, column C)` of the key (or item) at loc in the YAML text; "" if unknown."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return ""
    mark = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next((kv for kv in node.value if str(kv[0].value) == str(part)), None)
            if pair is None:
                break
            mark, node = pair[0].start_mark, pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                break
            node = node.value[part]
            mark = node.start_mark
        else:
            break
    return f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""


def read_repo_config(root: Path) -> str | None:
    """The text of a checkout's `.agentops.yml` (None when there is none), read by the safe
    reader: a link, a special file or an oversized file is a RepoConfigError."""
    try:
        return repo_files.read_text(root, REPO_CONFIG_FILE, max_bytes=MAX_REPO_CONFIG_BYTES)
    except repo_files.RepositoryFileRefused as refused:
        raise repo_config_refused(refused) from None


def repo_config_refused(refused: Exception) -> RepoConfigError:
    """The person's message for an `.agentops.yml` that is not a regular file."""
    return RepoConfigError(
        f"{refused} AgentOps reads {REPO_CONFIG_FILE} only from a regular file "
        f"of at most {MAX_REPO_CONFIG_BYTES} bytes"
    )
