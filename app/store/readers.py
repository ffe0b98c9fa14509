"""What a signed-in person reads across their workspaces, in a reader transaction
(`Database.readers(tenant_ids)`): row-level security admits the rows of those tenants
only, whatever the filters below say."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

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
    repo_ids: Mapping[tuple[int, str], int] | None = None,
) -> list[Run]:
    """Newest first. `repos`, when given, narrows further to those (tenant id, repository)
    pairs (the repositories the person can read inside an installation). Where
    `repo_ids` gives such a repository's id and a run kept the id of its own
    (`context.repo_id`), the ids must match, not the names: a renamed repository's runs
    follow it, and a repository that took a free name does not get the old one's."""
    return await _list(rc.conn, limit, before, status, repo, repos, repo_ids or {})


async def list_runs_filtered_all_tenants(
    conn: asyncpg.Connection,
    limit: int,
    *,
    before: int | None = None,
    status: str | None = None,
    repo: str | None = None,
) -> list[Run]:
    """The same list across every tenant, for an operator (an `admin()` connection)."""
    return await _list(conn, limit, before, status, repo, None, {})


async def _list(
    conn: asyncpg.Connection,
    limit: int,
    before: int | None,
    status: str | None,
    repo: str | None,
    repos: Collection[tuple[int, str]] | None,
    repo_ids: Mapping[tuple[int, str], int],
) -> list[Run]:
    listed = list(repos) if repos is not None else None
    tenants = [t for t, _ in listed] if listed is not None else None
    names = [r for _, r in listed] if listed is not None else None
    ids = [repo_ids.get(pair) for pair in listed] if listed is not None else None
    by_name = [pair for pair in listed if pair not in repo_ids] if listed is not None else []
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM runs WHERE ($2::bigint IS NULL OR id < $2)"
        " AND ($3::text IS NULL OR status = $3) AND ($4::text IS NULL OR repo = $4)"
        # by id where the run and the repository both have one (migration 0022), else by name
        " AND ($5::bigint[] IS NULL"
        "   OR (tenant_id, repo_id) IN (SELECT * FROM unnest($5::bigint[], $7::bigint[]))"
        "   OR repo_id IS NULL"
        "      AND (tenant_id, repo) IN (SELECT * FROM unnest($5::bigint[], $6::text[]))"
        "   OR $8::bigint[] IS NOT NULL"
        "      AND (tenant_id, repo) IN (SELECT * FROM unnest($8::bigint[], $9::text[])))"
        " ORDER BY id DESC LIMIT $1",
        limit,
        before,
        status,
        repo,
        tenants,
        names,
        ids,
        [t for t, _ in by_name] or None,
        [r for _, r in by_name] or None,
    )
    return [r for r in map(_run, rows) if r is not None]


async def get_readable_run(rc: ReaderConnection, run_id: int) -> Run | None:
    return _run(await rc.conn.fetchrow(f"SELECT {_COLUMNS} FROM runs WHERE id = $1", run_id))


@dataclass(frozen=True)
class RepositoryCheckout:
    run: Run  # the newest run on the repository: its tenant, and the context to reach it
    commit: str | None  # the newest commit a run of that tenant checked out there


async def latest_run_all_tenants(
    conn: asyncpg.Connection, forge: str | None, repo: str
) -> Run | None:
    """The newest run on `repo` (any case; on `forge`, when given) across every tenant;
    None when AgentOps has had no run there."""
    return _run(
        await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM runs WHERE ($1::text IS NULL OR forge = $1)"
            " AND lower(repo) = lower($2) ORDER BY id DESC LIMIT 1",
            forge,
            repo,
        )
    )


async def latest_checkout_all_tenants(
    conn: asyncpg.Connection, forge: str | None, repo: str
) -> RepositoryCheckout | None:
    """The newest run on `repo` (`latest_run_all_tenants`), and the commit the newest
    clone step of its tenant on that repository checked out (an issue's base; a pull
    request's head, unless it came from a fork); None when AgentOps has had no run there."""
    run = await latest_run_all_tenants(conn, forge, repo)
    if run is None:
        return None
    commit = await conn.fetchval(
        f"{_CHECKOUTS} AND c.sha IS NOT NULL ORDER BY r.id DESC LIMIT 1",
        run.tenant_id,
        run.forge,
        run.repo,
    )
    return RepositoryCheckout(run, str(commit) if commit is not None else None)


async def checked_out_all_tenants(
    conn: asyncpg.Connection, tenant_id: int, forge: str, repo: str, sha: str
) -> bool:
    """Whether a clone step of a run of this tenant on `repo` checked out `sha` (as
    `latest_checkout_all_tenants` reads them)."""
    found = await conn.fetchval(
        f"SELECT EXISTS ({_CHECKOUTS} AND c.sha = $4)", tenant_id, forge, repo, sha
    )
    return bool(found)


# The commits the succeeded clone steps of a tenant's runs on a repository checked out:
# an issue's base, a pull request's head unless it came from a fork.
_CHECKOUTS = (
    "SELECT c.sha FROM run_steps s JOIN runs r ON r.id = s.run_id,"
    " LATERAL (SELECT coalesce(s.detail->>'base_sha', CASE WHEN"
    "   s.detail->>'from_fork' IS DISTINCT FROM 'true' THEN s.detail->>'head_sha' END)"
    "   AS sha) c"
    " WHERE r.tenant_id = $1 AND r.forge = $2 AND r.repo = $3 AND s.name = 'clone'"
    " AND s.status = 'succeeded'"
)
