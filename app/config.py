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

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from app.agent_mcp.servers import SECRET_PREFIX, McpServer, check_servers
from app.commands import COMMANDS, DEFAULT_LABELS
from app.forwarded import Network, trusted_networks
from app.git_export import TreeLimits
from app.operators import parse_operator_logins
from app.prepare.egress import DEFAULT_REGISTRIES, EgressConfigError, parse_allowed, parse_resolve


class ConfigError(Exception):
    """Settings that cannot serve; the message is one line for the operator."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AGENTOPS_", extra="ignore", use_attribute_docstrings=True
    )

    # --- infrastructure -------------------------------------------------------------
    database_url: str = "postgresql://postgres@127.0.0.1:5432/agentops"
    """PostgreSQL: the service's state."""
    tenant_database_url: str | None = None
    """The login of tenant work, under row-level security it cannot leave; unset: `DATABASE_URL`
    with user `agentops_tenant` and no password. A password given here is set on the role by
    `agentops migrate` (as a SCRAM verifier)."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    """Redis: the queue."""
    queue_name: str = "agentops:queue"
    """The ARQ queue's name."""
    public_url: str = "http://127.0.0.1:8000"
    """Where forges reach this service; unset, the set-up page uses the address it was opened
    at. Set, check runs (GitLab: commit statuses) and pull requests link each run's page
    (`<PUBLIC_URL>/runs/<id>`)."""
    trusted_proxies: str = "127.0.0.1,::1"
    """Comma-separated addresses or networks (`10.0.0.0/8`, `*`) of your reverse proxies: only a
    request from one of them may set its scheme, host and client with `X-Forwarded-Proto`,
    `-Host` and `-For`; empty: none may."""
    admin_token: SecretStr | None = None
    """Bearer token of `GET /api/runs`; unset, the API is off."""
    metrics_token: SecretStr | None = None
    """When set, `GET /metrics` wants `Authorization: Bearer <token>` (else 401); unset, it
    answers clients on loopback only (else 403). The worker's metrics port (`METRICS_PORT`)
    wants it too, and without it binds loopback only (`agentops worker` refuses to start)."""
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    """`agentops worker` serves its own metrics (runs, steps, LLM calls, forge calls, the
    sandbox) on `http://METRICS_HOST:METRICS_PORT/metrics`; unset, it serves none (the web
    process's `/metrics` has the intake, the queue and runs by status)."""
    metrics_host: str = "127.0.0.1"
    """The address the worker's metrics port binds (`0.0.0.0` in a container, for
    Prometheus)."""
    workdir: Path = Path("/tmp/agentops")  # noqa: S108 - clones live here, per run
    """Where runs clone repositories."""
    codemap_cache_mb: int = Field(default=2048, ge=16)
    """The code map's cache (`<WORKDIR>/codemap-cache`: what was extracted from each file,
    and folders' snapshots): beyond this many megabytes, the least recently used go first
    (`agentops index --prune` clears what is no longer needed)."""
    codemap_resident_indexes: int = Field(default=4, ge=1)
    """Code indexes a worker keeps in memory, per repository and commit (Django's takes about
    110 MB, a neighbouring commit's 15 MB more: they share what did not change), so that
    another run on a known commit ranks at once and a new commit reads only its changed
    files; the least recently used go first. The web process (for the code-map tools of
    `/mcp`) and `agentops mcp` keep as many."""
    max_body_bytes: int = 25 * 1024 * 1024
    """A webhook body over this many bytes is refused (413) while it streams."""
    intake_budget_seconds: float = Field(default=5.0, gt=0)
    """A webhook is answered within this many seconds (GitHub waits 10): stored and 202, or 503
    so that the forge sends it again; a body not received in it is a 408 (see *How a webhook
    becomes work*)."""
    intake_max_pending: int = Field(default=64, ge=1)
    """Deliveries being stored at once beyond this are answered 503 at once (load shed)."""
    intake_max_receiving_mb: int = Field(default=128, ge=1)
    """Megabytes of webhook bodies held at once (a body is authenticated only once whole);
    beyond, a new delivery is answered 503."""
    log_format: Literal["text", "json"] = "text"
    """`json`: one JSON object per log line (time, level, logger, message, and the
    `run_id`, `delivery_id`, `tenant_id` and `step` of the work it is about; an exception
    as one field), for a log collector; `text`: lines for a person. Secrets are redacted
    from both. The container image sets `json`."""
    access_log: bool = False
    """uvicorn's line per HTTP request (every delivery that stores something logs its own
    line; `/metrics` counts every answer by forge and status)."""
    job_timeout_seconds: int = 1800
    """The longest a run's job may take."""
    job_max_tries: int = 5
    """How often a run's job is tried."""
    requeue_after_seconds: int = 5
    """A queued run (or pending label check) at least this old whose job is not in Redis
    (its enqueue failed, or Redis lost it) is enqueued by the sweep, which runs every 5 s.
    The intake enqueues within a second of storing: a shorter time only makes the sweep
    look sooner."""
    heartbeat_seconds: float = 10.0
    """A running run's worker proves it is alive this often."""
    stale_run_seconds: float = 90.0
    """A running run silent this long is handed to another worker: its worker died."""
    shutdown_grace_seconds: float = Field(default=25.0, ge=0)
    """On SIGTERM or SIGINT a worker takes no new job and lets its runs end their current step
    this long, then cuts the steps still going; its runs go back to the queue for another
    worker to go on from the next step, and it exits 0. The orchestrator must wait longer
    (see *How a webhook becomes work*)."""
    labels: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_LABELS))
    """JSON map label → command (see *Labels*)."""
    repository_labels: bool = True
    """Also look up other labels in each repository's `.agentops.yml` (`labels:`)."""
    forge_timeout_seconds: float = 30.0
    """Each call to GitHub's or GitLab's API."""
    refusal_notice_limit: int = Field(default=5, ge=0)
    """A person without write access gets the 👀 and the refusal at most this often per
    repository within `REFUSAL_NOTICE_WINDOW_SECONDS`; past it their runs end refused with
    nothing posted (logged)."""
    refusal_notice_window_seconds: float = Field(default=3600.0, gt=0)
    """The window of `REFUSAL_NOTICE_LIMIT`."""
    sandbox_allow_unsandboxed: bool = False
    """Run repositories' tests without bubblewrap (unsafe)."""
    sandbox_python: Path | None = None
    """The Python (a virtualenv or prefix, read-only) that runs repositories' Python tests;
    unset, the worker's own, whose pytest plugins then load into those tests too (`make run`:
    `.venv-sandbox`)."""

    # --- GitHub App ------------------------------------------------------------------
    github_app_id: int | None = None
    """The GitHub App's id."""
    github_app_slug: str | None = None
    """The GitHub App's slug: it names its bot (`<slug>[bot]`)."""
    github_private_key: SecretStr | None = None
    """The App's PEM key (or `GITHUB_PRIVATE_KEY_PATH`)."""
    github_private_key_path: Path | None = None
    """A file holding the App's PEM key (or `GITHUB_PRIVATE_KEY`)."""
    github_webhook_secret: SecretStr | None = None
    """Required when the App is set: at least 16 characters, not only whitespace (the same for
    the GitLab secret and signing token), else start-up stops with one line."""
    github_api_url: str = "https://api.github.com"
    """GitHub Enterprise Server: `https://HOST/api/v3`."""
    github_redeliver_seconds: float = Field(default=300.0, ge=0)
    """How often a worker asks GitHub to send again the deliveries that failed (also once at
    start); 0: never (see *How a webhook becomes work*)."""
    setup_credentials_file: Path | None = None
    """The set-up page writes the new App's settings to this file (mode 0600, never over an
    existing file) instead of showing them once."""

    # --- GitLab ----------------------------------------------------------------------
    gitlab_url: str | None = None
    """The GitLab instance."""
    gitlab_token: SecretStr | None = None
    """The bot user's token."""
    gitlab_webhook_secret: SecretStr | None = None
    """Required when GitLab is set: the operator's secret each project's (or group's) hook
    token is derived from (`agentops gitlab-secret PATH`)."""
    gitlab_accept_shared_secret: bool = False
    """Migration only: also accept `GITLAB_WEBHOOK_SECRET` itself as a hook token (each such
    delivery logs a warning; any project's maintainer can then forge deliveries for every
    project)."""
    gitlab_signing_token: SecretStr | None = None
    """`whsec_…`: also require Standard Webhooks signatures."""
    gitlab_bot_username: str | None = None
    """The bot's username, so that its own notes never trigger it."""
    gitlab_redeliver_seconds: float = Field(default=300.0, ge=0)
    """How often a worker asks GitLab (17.4+) to resend the failed deliveries of the project
    hooks that point at AgentOps, in the projects that have reached it before where the bot
    is Maintainer (also once at start); 0: never."""

    # --- sign-in to the run pages (owned by app/signin; keep this block together) -----
    session_secret: SecretStr | None = None
    """At least 32 random characters (`openssl rand -hex 32`): signs the sign-in cookies and
    encrypts the people's forge tokens stored for their sessions; unset, sign-in is off
    (only `ADMIN_TOKEN` opens the run pages)."""
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    """How long a sign-in lasts; then the person signs in again."""
    github_client_id: str | None = None
    """The GitHub App's client id (its settings page; the set-up page hands it over): sign-in
    with GitHub. Callback URL: `<PUBLIC_URL>/signin/github/callback`."""
    github_client_secret: SecretStr | None = None
    """The GitHub App's client secret."""
    gitlab_oauth_client_id: str | None = None
    """The application id of a GitLab OAuth application (scopes `read_user read_api`, callback
    `<PUBLIC_URL>/signin/gitlab/callback`): sign-in with GitLab."""
    gitlab_oauth_client_secret: SecretStr | None = None
    """The GitLab OAuth application's secret."""
    operator_logins: str = ""
    """Comma-separated `github:LOGIN` / `gitlab:USERNAME`, each optionally `#ID` (the forge's
    numeric user id): people who see every run (as the admin token does); they cancel or
    retry where the forge gives them write access, like anyone. Without `#ID` the id is
    pinned at the login's first sign-in: a later account with that login is no operator."""
    mcp_tokens: SecretStr | None = None
    """Comma-separated `FORGE:LOGIN=TOKEN`: each operator's own bearer token of `/mcp` (at
    least 32 characters; the login one of `OPERATOR_LOGINS`). `start_run` and `cancel_run`
    act as that person, with the write-access check of a comment; the admin token acts as
    nobody and may only read."""
    run_page_events: int = Field(default=500, ge=10, le=10_000)
    """The run page shows this many of a run's events at once, the latest first in view; a
    link leads to the ones before (a long run's thousands of events are not read at every
    view)."""
    access_cache_seconds: float = Field(default=120.0, gt=0, le=1800)
    """How long what a forge said of a person's access (a repository, their workspaces) is
    kept before it is asked again."""

    # --- LLM providers (owned by app/llm; keep this block together) ------------------
    anthropic_api_key: SecretStr | None = None
    """Anthropic's key (see *LLM providers*)."""
    anthropic_base_url: str | None = None
    """Where Anthropic is reached (a proxy, a gateway); unset, its own API."""
    openai_api_key: SecretStr | None = None
    """OpenAI's key."""
    openai_base_url: str | None = None
    """Where OpenAI is reached (a proxy, a gateway); unset, its own API."""
    mistral_api_key: SecretStr | None = None
    """Mistral's key."""
    mistral_base_url: str = "https://api.mistral.ai/v1"
    """Where Mistral is reached."""
    ollama_url: str = "http://127.0.0.1:11434"
    """Where Ollama is reached (no key)."""
    llm_models: dict[str, list[str]] = Field(default_factory=dict)
    """JSON: role → list of model ids, the first one tried first (see *Roles and
    fallbacks*)."""
    llm_timeout_seconds: float = 120.0
    """Each model call."""
    llm_max_retries: int = 3
    """Retries of a model call on timeouts, 5xx and dropped answers."""
    llm_prices_path: Path | None = None
    """A JSON file of prices per model; unset, the built-in table (see *Prices*)."""
    budget_tenant_month_usd: float | None = None
    """Spending cap per tenant per month (see *Budgets*)."""
    budget_run_usd: float | None = None
    """Spending cap per run (see *Budgets*)."""
    llm_default_model: str = "ollama:qwen2.5-coder"
    """The model of a role that `LLM_MODELS` does not name and no key implies."""
    llm_endpoints: dict[str, dict[str, str]] = Field(default_factory=dict)
    """JSON: name → `{"base_url", "api_key"}` of an OpenAI-compatible server; a model id
    `NAME:MODEL` goes there."""
    llm_retry_base_seconds: float = 1.0
    """The first backoff of a model call's retries, doubled per retry."""
    llm_retry_max_seconds: float = 30.0
    """The longest wait before a retry; a longer `retry-after` skips to the next model."""
    llm_stop_on_auth_error: bool = False
    """A refused or missing key stops the run at once, instead of logging what to fix and
    trying the next model."""
    llm_cooldown_failures: int = Field(default=3, ge=1)
    """A model failing this often (timeouts, 5xx, overload) within `LLM_COOLDOWN_WINDOW_SECONDS`
    is skipped by every worker for `LLM_COOLDOWN_SECONDS`."""
    llm_cooldown_window_seconds: float = Field(default=300.0, gt=0)
    """The window of `LLM_COOLDOWN_FAILURES`."""
    llm_cooldown_seconds: float = Field(default=120.0, gt=0)
    """How long every worker skips a model in cooldown."""

    # --- MCP servers whose tools the agent may use (app/agent_mcp) -------------------
    mcp_servers: dict[str, McpServer] = Field(default_factory=dict)
    """JSON: name → `{"command": [...]}` (stdio) or `{"url": ...}` (HTTP), `"tools"` (the
    allow-list), `"repos"` (the repositories whose runs may use it: names or patterns such
    as `acme/*`; `["*"]`: all), optional `env` / `headers` (`{secret:NAME}` reads
    `MCP_SECRET_NAME`), `read_only_paths` (stdio servers run jailed: what else they may
    read), `network` (stdio: the worker's network; off, none), `timeout_seconds`,
    `start_timeout_seconds`, `max_result_chars`, `max_argument_chars`, and each stdio
    server's limits `memory_mb` (2048, per process and, with cgroups, in all), `processes`
    (256), `file_mb` (1024), `cpus` (1.0, with cgroups) (see *MCP servers as tools*)."""

    # --- sandbox limits, caps on .agentops.yml (owned by app/sandbox; keep together) --
    # Each sandboxed command as a whole, through its own cgroup where the host gives one;
    # `agentops doctor` says which isolation is in force.
    sandbox_memory_mb: int = Field(default=4096, ge=64)
    """RAM of each test command as a whole (its own cgroup), tmpfs pages included."""
    sandbox_processes: int = Field(default=256, ge=16)
    """Processes and threads of each test command at once."""
    sandbox_cpus: float = Field(default=2.0, gt=0)
    """CPU seconds per wall-clock second of each test command."""
    sandbox_disk_mb: int = Field(default=2048, ge=16)
    """Size of a command's `/tmp` (its HOME) and `/dev/shm`, and of a run's scratch area."""
    tree_max_entries: int = Field(default=1_000_000, ge=1_000)
    """A commit listing more files (links and submodules included) is refused when the
    worker writes its copy of the original code for the tests (a few kB of git objects can
    list millions of names); the run fails saying so."""
    tree_max_mb: int = Field(default=4096, ge=16)
    """Likewise, a commit whose files hold more megabytes (as listed: one blob listed a
    thousand times counts a thousand times). The run's clone is stopped as it arrives once
    it passes what such a commit could need (this plus 100 bytes an entry)."""
    sandbox_cgroup: Path | None = None
    """A delegated cgroup v2 directory for the per-command groups; unset, found."""
    sandbox_pythons: str = ""
    """Interpreters a repository may ask for by `requires-python` (comma-separated paths);
    unset, `python3.N` on `PATH` and pyenv's versions."""
    max_test_timeout_seconds: int = Field(default=1800, ge=10)
    """The most `.agentops.yml` `limits:` may ask for as its test timeout; more is capped."""
    max_turns: int = Field(default=60, ge=1)
    """The most model turns `.agentops.yml` `limits:` may ask for; more is capped."""
    max_tokens: int = Field(default=1_000_000, ge=1_000)
    """The most tokens `.agentops.yml` `limits:` may ask for; more is capped."""
    max_test_runs: int = Field(default=12, ge=1)
    """The most test runs `.agentops.yml` `limits:` may ask for; more is capped."""
    max_suite_check_seconds: int = Field(default=900, ge=0)
    """The longest whole-suite check `.agentops.yml` `limits:` may ask for; more is capped."""
    unproven_delivery: Literal["draft", "none"] = "none"
    """A change whose new tests cannot pass in the sandbox for a reason outside it (they need
    the network, a service, a display): `draft` delivers it as a draft marked *Unproven*
    (neutral check run), `none` delivers nothing and says why on the issue."""

    # --- the prepare phase (app/prepare): dependencies installed in the sandbox --------
    prepare_registries: str = ",".join(DEFAULT_REGISTRIES)
    """The only hosts the prepare phase's egress proxy admits (comma-separated `host`,
    `host:port`, `*.domain`; no port: 443 and 80); default: PyPI, npm, Yarn, Packagist,
    GitHub's archives, the Go proxy (see *Dependencies*)."""
    prepare_resolve: str = ""
    """`name:port=address:port`, comma-separated: a registry reached at another address (split
    DNS); the only way to admit a loopback or link-local address."""
    prepare_pip_index_url: str | None = None
    """A company mirror instead of PyPI (add its host to `PREPARE_REGISTRIES`)."""
    prepare_npm_registry: str | None = None
    """A company mirror instead of the npm registry (add its host to `PREPARE_REGISTRIES`)."""
    prepare_composer_repository: str | None = None
    """A company mirror instead of Packagist (add its host to `PREPARE_REGISTRIES`)."""
    prepare_goproxy: str | None = None
    """A company mirror instead of the Go module proxy (add its host to
    `PREPARE_REGISTRIES`)."""
    prepare_corepack_integrity_keys: str | None = None
    """The keys corepack checks pnpm's and yarn's signatures with; unset, corepack's own; `0`
    turns the check off, for a mirror that serves package metadata without signatures."""
    prepare_ca_bundle: Path | None = Path("/etc/ssl/certs/ca-certificates.crt")
    """The CA bundle package managers trust (a mirror's private CA, a TLS-inspecting proxy)."""
    prepare_timeout_seconds: int = Field(default=900, ge=10)
    """Each install command's time."""
    prepare_memory_mb: int = Field(default=4096, ge=64)
    """Each install command's memory."""
    prepare_disk_mb: int = Field(default=4096, ge=16)
    """Each install's disk: the checkout's copy and what it installs."""
    prepare_cache_dir: Path | None = None
    """The dependency cache, per tenant; unset, `<WORKDIR>/deps-cache`."""
    prepare_cache_mb: int = Field(default=10240, ge=0)
    """The dependency cache's size per tenant; the least recently used go first."""

    @property
    def tree_limits(self) -> TreeLimits:
        return TreeLimits(self.tree_max_entries, self.tree_max_mb * 1_000_000)

    @property
    def sandbox_python_env(self) -> Path:
        # absolute: the sandbox mounts it at the same path, and runs in another directory
        return (self.sandbox_python or Path(sys.prefix)).absolute()

    @field_validator("labels")
    @classmethod
    def _label_commands_exist(cls, labels: dict[str, str]) -> dict[str, str]:
        unknown = sorted({c for c in labels.values() if c not in COMMANDS})
        if unknown:
            raise ValueError(
                f"unknown command(s) {', '.join(unknown)}; commands: {', '.join(COMMANDS)}"
            )
        return labels

    @field_validator("mcp_servers")
    @classmethod
    def _mcp_servers_usable(cls, servers: dict[str, McpServer]) -> dict[str, McpServer]:
        return check_servers(servers, os.environ)

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
        session_secret = self.session_secret.get_secret_value() if self.session_secret else ""
        if session_secret and len(session_secret) < 32:
            raise ValueError(
                "AGENTOPS_SESSION_SECRET is too short: use at least 32 random characters "
                "(e.g. `openssl rand -hex 32`)"
            )
        from app.forges.registry import KINDS as kinds  # the registry reads these settings

        parse_operator_logins(self.operator_logins, kinds)  # a ValueError names a bad entry
        from app.mcp.tokens import operator_tokens  # checks each entry

        operator_tokens(self)
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
    def operator_entries(self) -> dict[tuple[str, str], str | None]:
        """(forge, lower-case login) of `OPERATOR_LOGINS` → the user id its entry pins, or
        None (pinned at its first sign-in: app/operators.py)."""
        return parse_operator_logins(self.operator_logins)

    @property
    def operators(self) -> frozenset[tuple[str, str]]:
        """(forge, lower-case login) of `OPERATOR_LOGINS`."""
        return frozenset(self.operator_entries)

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
        for server in self.mcp_servers.values():
            found.extend(server.secret_values(os.environ))
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
        field, *inside = [str(p) for p in first.get("loc", ())] or [""]
        message = first.get("msg", str(exc)).removeprefix("Value error, ")
        # the setting's variable, then the key inside its JSON as written (`.docs.tools`)
        where = "".join(f".{part}" for part in inside)
        prefix = f"AGENTOPS_{field.upper()}{where}: " if field else ""
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
        if variable.startswith(SECRET_PREFIX):  # read by app/agent_mcp, named in MCP_SERVERS
            continue
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.8)
        if close:
            found.append(f"{variable} is not a setting (did you mean AGENTOPS_{close[0]}?)")
    return found
