"""What the code-map tools answer: their output schemas (structured content)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.codemap.symbols import Definition


class Symbol(BaseModel):
    name: str
    qualname: str = Field(description="dotted through enclosing definitions")
    kind: str
    signature: str
    start_line: int = Field(description="1-based, inclusive")
    end_line: int

    @classmethod
    def of(cls, d: Definition) -> Symbol:
        return cls(
            name=d.name,
            qualname=d.qualname,
            kind=d.kind,
            signature=d.signature,
            start_line=d.start_line,
            end_line=d.end_line,
        )


class LocatedFile(BaseModel):
    path: str
    score: float
    reasons: list[str]
    symbols: list[Symbol] = Field(description="the file's definitions the issue points at")


class RelatedTest(BaseModel):
    path: str
    score: float
    reasons: list[str] = Field(
        description="how it is tied to the files to change (named after, imports, uses) "
        "or to the issue's words"
    )


class LocateResult(BaseModel):
    files: list[LocatedFile] = Field(description="the source files to change, best first")
    tests: list[RelatedTest] = Field(
        description="the test files that exercise them, best first (empty with no_tests)"
    )
    commit: str | None = Field(
        description="the commit ranked (a local checkout: its HEAD, with the work tree's "
        "changes); null for a folder outside git"
    )


class SymbolDefinition(Symbol):
    path: str


class SymbolReference(BaseModel):
    path: str
    line: int


class FindSymbolResult(BaseModel):
    name: str
    definitions: list[SymbolDefinition]
    references: list[SymbolReference] = Field(
        description="lines that use the name outside its definitions' headers"
    )
    truncated: bool = Field(description="more were found than the limit")


class OutlineResult(BaseModel):
    path: str
    language: str
    lines: int
    symbols: list[Symbol]
    parse_errors: bool = Field(description="tree-sitter recovered from syntax errors")


class ContextResult(BaseModel):
    files: list[str] = Field(description="the files that made it in, in order")
    tokens: int
    truncated: bool
    text: str = Field(description="the rendered context, fenced as untrusted repository data")


class ResidentStatus(BaseModel):
    indexes: int = Field(description="indexes held in memory, per repository and commit")
    hits: int = Field(description="lookups answered from memory")
    updates: int = Field(description="indexes built from another commit's changed blobs")
    cold: int = Field(description="indexes built with no other commit to start from")
    evicted: int


class IndexStatus(BaseModel):
    root: str = Field(description="the tree indexed: a local path, or forge:repository@commit")
    commit: str | None = Field(description="null for a folder outside git")
    changed: list[str] = Field(
        description="paths the work tree changed since the commit (the first 200)"
    )
    resident: ResidentStatus | None = Field(
        description="the process's resident indexes; null when it keeps none"
    )
    files: int
    symbols: int
    languages: dict[str, int]
    parsed: int
    cache_hits: int
    skipped: int
    failed: list[str]
    seconds: float
    age_seconds: float = Field(description="how long ago the index was built")
