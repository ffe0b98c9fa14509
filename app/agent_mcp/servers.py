"""The operator's MCP servers (`AGENTOPS_MCP_SERVERS`) and a repository's choice among them.

A server is the operator's: a command the worker starts (stdio) or a URL it calls
(streamable HTTP), with an allow-list of the tools the agent may use. Secrets are never
written in the setting itself: `{secret:NAME}` in an `env` or `headers` value is read from
the variable `AGENTOPS_MCP_SECRET_NAME` when the server is started. A repository's
`.agentops.yml` may only pick by name among the servers the operator lets that repository
use (`repos`); nothing it says becomes a command, an argument, a variable or a URL.

Pure: no I/O besides reading the environment it is handed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

SECRET_PREFIX = "AGENTOPS_MCP_SECRET_"  # noqa: S105 - a variable name, not a secret
SERVER_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,23}")  # no `_`: see app/llm/providers/tool_names
TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_WIRE_NAME = 64  # `server__tool`, as the providers take it
_SECRET_REF = re.compile(r"\{secret:([A-Za-z0-9_]+)\}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class McpServer(BaseModel):
    """One server of `AGENTOPS_MCP_SERVERS`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: list[str] | None = None
    """stdio: the program and its arguments, started by the worker for each run that uses it."""
    url: str | None = None
    """Streamable HTTP: the server's endpoint."""
    env: dict[str, str] = Field(default_factory=dict)
    """stdio: the only variables the program gets besides `PATH`, `HOME`, `USER`, `SHELL`,
    `TERM`, `LOGNAME` (never the worker's secrets); values may hold `{secret:NAME}`."""
    read_only_paths: list[str] = Field(default_factory=list)
    """stdio: host files or folders the program may read besides its own install prefix
    and the files its arguments name (e.g. what a filesystem server serves), read-only at
    the same path; the program sees nothing else of the host but the system's toolchain
    (app/agent_mcp/confinement.py)."""
    network: bool = False
    """stdio: whether the program shares the worker's network (a server that calls an HTTP
    API needs it): then it reaches what the worker reaches, loopback services such as Redis
    and PostgreSQL included. Off, it has a loopback of its own and nothing else."""
    headers: dict[str, str] = Field(default_factory=dict)
    """HTTP: headers of every request; values may hold `{secret:NAME}`."""
    tools: list[str]
    """The tools of the server the agent may call (an allow-list; others are not offered)."""
    repos: list[str]
    """The repositories whose runs may use it: full names (`acme/app`) or patterns
    (`acme/*`), case-insensitive; `["*"]` for every repository of every installation. A
    server lends its credentials to whoever the model works for: name them."""
    timeout_seconds: float = Field(default=20.0, gt=0, le=600)
    """Each call; past it the call is a tool error."""
    start_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    """Its start (and the list of its tools); past it the server is left out of the run."""
    max_result_chars: int = Field(default=20_000, ge=200, le=500_000)
    """What the model reads of one result; the rest is cut."""
    max_argument_chars: int = Field(default=8_000, ge=100, le=200_000)
    """The model's arguments of one call, as JSON; a longer call is refused unsent."""
    memory_mb: int = Field(default=2048, ge=64, le=1_048_576)
    """stdio: the writable memory of each of its processes (`RLIMIT_DATA`): an allocation
    past it fails; and, where the host gives cgroups, of all of them together: past it the
    kernel kills one."""
    processes: int = Field(default=256, ge=8, le=65_536)
    """stdio: its processes and threads at once (`RLIMIT_NPROC`, counted for its own uid:
    as root one leased for it alone; and its cgroup's `pids.max`): a fork past it fails."""
    file_mb: int = Field(default=1024, ge=1, le=1_048_576)
    """stdio: the largest file it may write (`RLIMIT_FSIZE`)."""
    cpus: float = Field(default=1.0, gt=0, le=256)
    """stdio, where the host gives cgroups: the CPU time of all its processes per second
    of wall-clock time (1.0: one core's worth)."""

    @model_validator(mode="after")
    def _consistent(self) -> McpServer:
        if (self.command is None) == (self.url is None):
            raise ValueError("give either `command` (stdio) or `url` (HTTP)")
        if self.command is not None and (not self.command or not self.command[0].strip()):
            raise ValueError("`command` needs a program")
        if self.url is not None:
            parts = urlsplit(self.url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("`url` must be an http(s) URL")
        if self.headers and self.url is None:
            raise ValueError("`headers` are for a server reached by `url`")
        if self.env and self.command is None:
            raise ValueError("`env` is for a server started by `command`")
        if self.network and self.command is None:
            raise ValueError("`network` is for a server started by `command`")
        if self.read_only_paths and self.command is None:
            raise ValueError("`read_only_paths` are for a server started by `command`")
        bad_path = [p for p in self.read_only_paths if not p.startswith("/") or p.strip("/") == ""]
        if bad_path:
            raise ValueError(f"`read_only_paths`: {bad_path[0]!r} is not an absolute path below /")
        bad_env = [name for name in self.env if not _ENV_NAME.fullmatch(name)]
        if bad_env:
            raise ValueError(f"`env` name {bad_env[0]!r} is not a variable name")
        if not self.tools:
            raise ValueError("`tools` must list the tools the agent may use")
        if not self.repos or not all(p.strip() for p in self.repos):
            raise ValueError('`repos` must list the repositories that may use it (["*"]: all)')
        bad = [t for t in self.tools if not TOOL_NAME.fullmatch(t)]
        if bad:
            raise ValueError(f"tool name {bad[0]!r} is not letters, digits, `_` or `-`")
        return self

    def serves(self, repo: str) -> bool:
        """Whether runs on `repo` (`owner/name`, as the forge gives it) may use it."""
        return any(fnmatchcase(repo.lower(), pattern.strip().lower()) for pattern in self.repos)

    def secret_names(self) -> list[str]:
        """The `NAME`s of every `{secret:NAME}` in `env` and `headers`."""
        values = [*self.env.values(), *self.headers.values()]
        return [m.group(1) for v in values for m in _SECRET_REF.finditer(v)]

    def resolved_env(self, environ: Mapping[str, str]) -> dict[str, str]:
        return {k: fill_secrets(v, environ) for k, v in self.env.items()}

    def resolved_headers(self, environ: Mapping[str, str]) -> dict[str, str]:
        return {k: fill_secrets(v, environ) for k, v in self.headers.items()}

    def secret_values(self, environ: Mapping[str, str]) -> list[str]:
        return [v for n in self.secret_names() if (v := environ.get(SECRET_PREFIX + n))]


def fill_secrets(value: str, environ: Mapping[str, str]) -> str:
    """`value` with each `{secret:NAME}` replaced by `AGENTOPS_MCP_SECRET_NAME`."""
    return _SECRET_REF.sub(lambda m: environ.get(SECRET_PREFIX + m.group(1), ""), value)


def check_servers(
    servers: Mapping[str, McpServer], environ: Mapping[str, str]
) -> dict[str, McpServer]:
    """`servers` when every name fits and every secret they name is set; else a
    ValueError that says which."""
    for name, server in servers.items():
        if not SERVER_NAME.fullmatch(name):
            raise ValueError(
                f"server name {name!r}: lower-case letters, digits and `-`, at most 24"
            )
        for tool in server.tools:
            if len(f"{name}__{tool}") > MAX_WIRE_NAME:
                raise ValueError(
                    f"{name}.{tool}: server and tool name together are too long "
                    f"(at most {MAX_WIRE_NAME - 2} characters)"
                )
        missing = [n for n in server.secret_names() if not environ.get(SECRET_PREFIX + n)]
        if missing:
            raise ValueError(f"server {name!r} names {SECRET_PREFIX}{missing[0]}, which is not set")
    return dict(servers)


class UnknownMcpServer(ValueError):
    """A repository named a server the operator has not configured."""


def chosen_servers(
    operator: Mapping[str, McpServer], asked: list[str] | None, repo: str
) -> dict[str, McpServer]:
    """The servers a run on `repo` uses: among those the operator lets `repo` use, the
    ones the repository names (`mcp_servers:`), or, when it names none, all of them. A
    name not among them is an `UnknownMcpServer` (its message does not quote the
    repository's text, nor name servers `repo` may not use)."""
    available = {name: server for name, server in operator.items() if server.serves(repo)}
    if asked is None:
        return available
    unknown = [name for name in asked if name not in available]
    if unknown:
        offered = ", ".join(sorted(available)) or "none"
        raise UnknownMcpServer(
            f"`mcp_servers` names {len(unknown)} MCP server(s) this repository may not use "
            f"(its servers: {offered})"
        )
    return {name: available[name] for name in asked}
