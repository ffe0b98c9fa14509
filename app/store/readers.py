"""What a signed-in person reads across their workspaces, in a reader transaction
(`Database.readers(tenant_ids)`): row-level security admits the rows of those tenants
only, whatever the filters below say."""

from __future__ import annotations

from collections.abc import Collection

import asyncpg

from app.store.db import ReaderConnection
from app.store.runs import _COLUMNS, Run, _run


async def list_readable_runs(
    rc: ReaderConnection,
    limit: int,
    *,
    before: int | None = None,
    status: str | None = None,
    repo: str | None = None,
    repos: Collection[tuple[int, str]] | None = None,
) -> list[Run]:
    """Newest first. `repos`, when given, narrows further to those (tenant id, repository)
    pairs (the repositories the person can read inside an installation)."""
    return await _list(rc.conn, limit, before, status, repo, repos)


async def list_runs_filtered_all_tenants(
    conn: asyncpg.Connection,
    limit: int,
    *,
    before: int | None = None,
    status: str | None = None,
    repo: str | None = None,
) -> list[Run]:
    """The same list across every tenant, for an operator (an `admin()` connection)."""
    return await _list(conn, limit, before, status, repo, None)


async def _list(
    conn: asyncpg.Connection,
    limit: int,
    before: int | None,
    status: str | None,
    repo: str | None,
    repos: Collection[tuple[int, str]] | None,
) -> list[Run]:
    tenants = [t for t, _ in repos] if repos is not None else None
    names = [r for _, r in repos] if repos is not None else None
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM runs WHERE ($2::bigint IS NULL OR id < $2)"
        " AND ($3::text IS NULL OR status = $3) AND ($4::text IS NULL OR repo = $4)"
        " AND ($5::bigint[] IS NULL OR (tenant_id, repo) IN"
        "      (SELECT * FROM unnest($5::bigint[], $6::text[])))"
        " ORDER BY id DESC LIMIT $1",
        limit,
        before,
        status,
        repo,
        tenants,
        names,
    )
    return [r for r in map(_run, rows) if r is not None]


async def get_readable_run(rc: ReaderConnection, run_id: int) -> Run | None:
    return _run(await rc.conn.fetchrow(f"SELECT {_COLUMNS} FROM runs WHERE id = $1", run_id))
