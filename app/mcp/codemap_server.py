"""The code-map tools registered on an MCP server, each run in a worker thread (indexing
and ranking are CPU work): on the checkout `repo_of` names (stdio), or on a repository
the service has worked on, at a commit (`/mcp`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from app.mcp import codemap_tools, models
from app.mcp.repo_map import RepoMap

RepoOf = Callable[[Context], RepoMap]
_READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)

# The tools' parameters and descriptions, the same on both transports.
IssueText = Annotated[str, Field(description="the issue's title and body")]
Top = Annotated[int, Field(description="how many files (1-50)")]
NoTests = Annotated[bool, Field(description="leave out the tests that exercise the files")]
SymbolName = Annotated[str, Field(description="a name or dotted name: `QuerySet.filter`")]
References = Annotated[bool, Field(description="also list the lines that use it")]
FilePath = Annotated[str, Field(description="a file's path in the repository")]
Paths = Annotated[list[str] | None, Field(description="files to render")]
RankBy = Annotated[
    str | None, Field(description="rank the files (among `paths`, if given) by this issue")
]
Budget = Annotated[int, Field(description="a ceiling (100-50000)")]
LOCATE = (
    "The source files an issue is about (to change), best first, and the test files that "
    "exercise them (to read and extend), each with the reasons."
)
FIND_SYMBOL = "Where a symbol is defined (path, kind, signature, lines) and where it is used."
OUTLINE = "A file's definitions (classes, functions, methods...) with their line ranges."
CONTEXT = (
    "The context AgentOps's workflows give the model for these files: the relevant "
    "definitions' code with line numbers and the other definitions' signatures."
)


def add_codemap_tools(server: MCPServer, repo_of: RepoOf) -> None:
    @server.tool(annotations=_READ_ONLY, description=LOCATE)
    async def locate(
        issue_text: IssueText, ctx: Context, top: Top = 10, no_tests: NoTests = False
    ) -> Annotated[CallToolResult, models.LocateResult]:
        repo = repo_of(ctx)
        return await anyio.to_thread.run_sync(codemap_tools.locate, repo, issue_text, top, no_tests)

    @server.tool(annotations=_READ_ONLY, description=FIND_SYMBOL)
    async def find_symbol(
        name: SymbolName, ctx: Context, references: References = True
    ) -> Annotated[CallToolResult, models.FindSymbolResult]:
        repo = repo_of(ctx)
        return await anyio.to_thread.run_sync(codemap_tools.find_symbol, repo, name, references)

    @server.tool(annotations=_READ_ONLY, description=OUTLINE)
    async def outline(
        path: FilePath, ctx: Context
    ) -> Annotated[CallToolResult, models.OutlineResult]:
        repo = repo_of(ctx)
        return await anyio.to_thread.run_sync(codemap_tools.outline, repo, path)

    @server.tool(annotations=_READ_ONLY, description=CONTEXT)
    async def context(
        ctx: Context, paths: Paths = None, issue_text: RankBy = None, budget_tokens: Budget = 8000
    ) -> Annotated[CallToolResult, models.ContextResult]:
        repo = repo_of(ctx)
        return await anyio.to_thread.run_sync(
            codemap_tools.context, repo, paths, issue_text, budget_tokens
        )

    @server.tool(annotations=_READ_ONLY)
    async def index_status(ctx: Context) -> Annotated[CallToolResult, models.IndexStatus]:
        """What the code map holds of the repository: files, symbols, languages, failures."""
        repo = repo_of(ctx)
        return await anyio.to_thread.run_sync(codemap_tools.index_status, repo)


OpenMap = Callable[[Context, str, str | None, str | None], Awaitable[RepoMap]]
Repository = Annotated[
    str,
    Field(description="a repository AgentOps has worked on: owner/name (GitLab: group/project)"),
]
Forge = Annotated[
    str | None, Field(description="github or gitlab (unset: the forge of its newest run)")
]
Commit = Annotated[
    str | None,
    Field(description="a full commit SHA (unset: the commit of the newest run there)"),
]


def add_repository_codemap_tools(server: MCPServer, open_map: OpenMap) -> None:
    """The same tools over `/mcp`, on a repository the service has worked on, at a commit:
    `open_map` finds (or fetches) its tree, then the tool runs in a worker thread."""

    @server.tool(annotations=_READ_ONLY, description=LOCATE)
    async def locate(
        repository: Repository,
        issue_text: IssueText,
        ctx: Context,
        forge: Forge = None,
        commit: Commit = None,
        top: Top = 10,
        no_tests: NoTests = False,
    ) -> Annotated[CallToolResult, models.LocateResult]:
        repo = await open_map(ctx, repository, forge, commit)
        return await anyio.to_thread.run_sync(codemap_tools.locate, repo, issue_text, top, no_tests)

    @server.tool(annotations=_READ_ONLY, description=FIND_SYMBOL)
    async def find_symbol(
        repository: Repository,
        name: SymbolName,
        ctx: Context,
        forge: Forge = None,
        commit: Commit = None,
        references: References = True,
    ) -> Annotated[CallToolResult, models.FindSymbolResult]:
        repo = await open_map(ctx, repository, forge, commit)
        return await anyio.to_thread.run_sync(codemap_tools.find_symbol, repo, name, references)

    @server.tool(annotations=_READ_ONLY, description=OUTLINE)
    async def outline(
        repository: Repository,
        path: FilePath,
        ctx: Context,
        forge: Forge = None,
        commit: Commit = None,
    ) -> Annotated[CallToolResult, models.OutlineResult]:
        repo = await open_map(ctx, repository, forge, commit)
        return await anyio.to_thread.run_sync(codemap_tools.outline, repo, path)

    @server.tool(annotations=_READ_ONLY, description=CONTEXT)
    async def context(
        repository: Repository,
        ctx: Context,
        forge: Forge = None,
        commit: Commit = None,
        paths: Paths = None,
        issue_text: RankBy = None,
        budget_tokens: Budget = 8000,
    ) -> Annotated[CallToolResult, models.ContextResult]:
        repo = await open_map(ctx, repository, forge, commit)
        return await anyio.to_thread.run_sync(
            codemap_tools.context, repo, paths, issue_text, budget_tokens
        )

    @server.tool(annotations=_READ_ONLY)
    async def index_status(
        repository: Repository, ctx: Context, forge: Forge = None, commit: Commit = None
    ) -> Annotated[CallToolResult, models.IndexStatus]:
        """What the code map holds of the repository at that commit: files, symbols,
        languages, failures, and the process's resident indexes."""
        repo = await open_map(ctx, repository, forge, commit)
        return await anyio.to_thread.run_sync(codemap_tools.index_status, repo)
