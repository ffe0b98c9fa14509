"""The tools a model may use on a checkout: read, list, search, edit, run the tests.

Each tool returns text for the model; a misuse (a path outside the checkout, a malformed
edit) is an error result the model can correct, never an exception for the run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from app import repo_files
from app.edits import EditFormatError, EditPolicy, apply_edits, parse_edits
from app.llm.types import ToolSpec

MAX_READ_LINES = 400
MAX_SEARCH_HITS = 40
MAX_FILE_BYTES = 1_000_000
_SEARCH_SKIP_DIRS = frozenset({".git", "node_modules", ".venv"})

TOOL_SPECS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "read_file",
        "Read a file of the repository, with line numbers.",
        {
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "path relative to the repository root"},
                "start_line": {"type": "integer", "minimum": 1},
                "end_line": {"type": "integer", "minimum": 1},
            },
            "required": ["path"],
        },
    ),
    ToolSpec(
        "list_dir",
        "List a directory of the repository.",
        {
            "type": "object",
            "properties": {"path": {"type": "string", "default": "."}},
        },
    ),
    ToolSpec(
        "search_code",
        "Find lines containing a text (case-insensitive) in the repository.",
        {
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 2},
                "path": {"type": "string", "description": "only under this folder"},
            },
            "required": ["query"],
        },
    ),
    ToolSpec(
        "find_symbol",
        "Where a class, function or method is defined (as of the start "
        "of the run), with its signature.",
        {
            "type": "object",
            "properties": {
                "name": {
                    "type": "string",
                    "description": "a name or dotted name, e.g. `divide` or `Calc.add`",
                }
            },
            "required": ["name"],
        },
    ),
    ToolSpec(
        "apply_edits",
        "Change or create files with SEARCH/REPLACE blocks.",
        {
            "type": "object",
            "properties": {"edits": {"type": "string", "description": "blocks in the edit format"}},
            "required": ["edits"],
        },
    ),
    ToolSpec(
        "run_tests",
        "Run the repository's tests, all or only the given test ids.",
        {
            "type": "object",
            "properties": {"test_ids": {"type": "array", "items": {"type": "string"}}},
        },
    ),
    ToolSpec(
        "finish",
        "Say the change is complete.",
        {
            "type": "object",
            "properties": {
                "summary": {"type": "string", "description": "what changed and why, briefly"},
                "tests": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "ids of the tests you added or changed",
                },
            },
            "required": ["summary", "tests"],
        },
    ),
)

TestRunner = Callable[[Sequence[str]], Awaitable[tuple[bool, str]]]
SymbolFinder = Callable[[str], list[str]]


@dataclass
class ToolResult:
    text: str
    is_error: bool = False
    finished: bool = False
    detail: dict[str, Any] = field(default_factory=dict)


class ToolError(Exception):
    pass


class ExtraTools(Protocol):
    """Tools beyond the checkout's (the operator's MCP servers: app/agent_mcp/toolset.py)."""

    @property
    def specs(self) -> tuple[ToolSpec, ...]: ...

    def handles(self, name: str) -> bool: ...

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolResult: ...


@dataclass
class Toolbox:
    """The tools bound to one checkout, its edit policy and its test runner."""

    root: Path
    policy: EditPolicy
    run_tests: TestRunner
    edited: list[str] = field(default_factory=list)
    test_runs: int = 0
    max_test_runs: int = 6
    find_symbols: SymbolFinder | None = None
    extra: ExtraTools | None = None

    @property
    def specs(self) -> tuple[ToolSpec, ...]:
        """The tools to offer the model: the built-in ones and the extra ones."""
        return TOOL_SPECS + (self.extra.specs if self.extra is not None else ())

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolResult:
        if self.extra is not None and self.extra.handles(name):
            return await self.extra.call(name, arguments)
        handler = getattr(self, f"_tool_{name}", None)
        if handler is None:
            return ToolResult(f"unknown tool {name!r}", is_error=True)
        try:
            result: ToolResult = await handler(**arguments)
        except ToolError as exc:
            return ToolResult(str(exc), is_error=True)
        except TypeError as exc:
            return ToolResult(f"bad arguments for {name}: {exc}", is_error=True)
        return result

    def _relative(self, raw: str) -> str:
        """raw as a path relative to the checkout (`.` for its root), or a ToolError."""
        try:
            parts = repo_files.path_parts(raw)
        except repo_files.RepositoryFileRefused as refused:
            raise ToolError(str(refused)) from None
        if ".git" in parts:
            raise ToolError("the .git directory is not part of the code")
        return "/".join(parts) or "."

    async def _tool_read_file(
        self, path: str, start_line: int = 1, end_line: int | None = None
    ) -> ToolResult:
        try:
            text = repo_files.read_text(self.root, self._relative(path), max_bytes=MAX_FILE_BYTES)
        except repo_files.RepositoryFileRefused as refused:
            raise ToolError(str(refused)) from None
        if text is None:
            raise ToolError(f"no file {path!r}")
        lines = text.splitlines()
        start = max(start_line, 1)
        end = min(end_line or len(lines), len(lines), start + MAX_READ_LINES - 1)
        numbered = [f"{n:>5}  {lines[n - 1]}" for n in range(start, end + 1)]
        more = f"\n... ({len(lines) - end} more lines)" if end < len(lines) else ""
        return ToolResult(
            f"{path} (lines {start}-{end} of {len(lines)})\n" + "\n".join(numbered) + more
        )

    async def _tool_list_dir(self, path: str = ".") -> ToolResult:
        try:
            entries = repo_files.list_directory(self.root, self._relative(path))
        except repo_files.RepositoryFileRefused as refused:
            raise ToolError(str(refused)) from None
        if entries is None:
            raise ToolError(f"no directory {path!r}")
        shown = [_listed(e) for e in entries if e.name != ".git"]
        return ToolResult("\n".join(shown) or "(empty)")

    async def _tool_search_code(self, query: str, path: str = ".") -> ToolResult:
        if len(query) < 2:
            raise ToolError("the query needs at least 2 characters")
        base = self._relative(path)
        try:
            listed = repo_files.list_directory(self.root, base)
        except repo_files.RepositoryFileRefused as refused:
            raise ToolError(str(refused)) from None
        if listed is None:
            raise ToolError(f"no directory {path!r}")
        needle = query.lower()
        hits: list[str] = []
        files = list(repo_files.walk_files(self.root, base, skip_dirs=_SEARCH_SKIP_DIRS))
        with repo_files.DirectoryChain(self.root) as tree:
            for rel, entry in files:
                if entry.size > MAX_FILE_BYTES:
                    continue
                try:
                    data = tree.read_bytes(rel, max_bytes=MAX_FILE_BYTES)
                    text = data.decode("utf-8") if data is not None else ""
                except (repo_files.RepositoryFileRefused, UnicodeDecodeError, OSError):
                    continue
                for number, line in enumerate(text.splitlines(), 1):
                    if needle in line.lower():
                        hits.append(f"{rel}:{number}: {line.strip()[:200]}")
                        if len(hits) >= MAX_SEARCH_HITS:
                            return ToolResult("\n".join(hits) + "\n... (more matches)")
        return ToolResult("\n".join(hits) or f"no line contains {query!r}")

    async def _tool_find_symbol(self, name: str) -> ToolResult:
        if self.find_symbols is None:
            raise ToolError("no symbol index for this repository: use search_code")
        hits = self.find_symbols(name)
        return ToolResult("\n".join(hits) or f"no definition named {name!r}; try search_code")

    async def _tool_apply_edits(self, edits: str) -> ToolResult:
        try:
            parsed = parse_edits(edits)
        except EditFormatError as exc:
            raise ToolError(f"the edits could not be read: {exc}") from None
        if not parsed:
            raise ToolError("no SEARCH/REPLACE or NEW FILE block found in the edits")
        result = apply_edits(self.root, parsed, self.policy)
        for changed in result.files:
            if changed not in self.edited:
                self.edited.append(changed)
        parts = []
        if result.diff:
            parts.append("Applied:\n" + result.diff)
        if result.refusals:
            parts.append("Refused:\n" + result.feedback())
        return ToolResult(
            "\n\n".join(parts) or "nothing changed",
            is_error=bool(result.refusals) and not result.diff,
        )

    async def _tool_run_tests(self, test_ids: list[str] | None = None) -> ToolResult:
        if self.test_runs >= self.max_test_runs:
            raise ToolError(f"the test budget of {self.max_test_runs} runs is spent")
        self.test_runs += 1
        passed, output = await self.run_tests(test_ids or [])
        return ToolResult(("PASSED\n" if passed else "FAILED\n") + output)

    async def _tool_finish(self, summary: str, tests: list[str]) -> ToolResult:
        if not self.edited:
            raise ToolError("nothing has been changed yet: apply your edits before finishing")
        return ToolResult(
            "finished", finished=True, detail={"summary": summary, "tests": list(tests)}
        )


def _listed(entry: repo_files.Entry) -> str:
    if entry.kind == "dir":
        return f"{entry.name}/"
    if entry.kind == "link":
        return f"{entry.name} (symbolic link: not followed)"
    if entry.kind == "other":
        return f"{entry.name} (not a regular file: not read)"
    return entry.name
