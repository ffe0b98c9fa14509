"""Plain SQL migrations, applied in file-name order and recorded in `schema_migrations`."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x_A6E_0F5  # advisory lock: two `migrate` at once apply each file once


def migration_files() -> list[Path]:
    return sorted(MIGRATIONS_DIR.glob("*.sql"))


async def ensure_database(dsn: str) -> bool:
    """Create the database named in `dsn` if it is missing. True when it was created."""
    parts = urlsplit(dsn)
    name = parts.path.lstrip("/")
    if not name:
        return False
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    conn = await asyncpg.connect(maintenance, timeout=5)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists:
            return False
        quoted = '"' + name.replace('"', '""') + '"'
        try:
            await conn.execute(f"CREATE DATABASE {quoted}")
        except asyncpg.DuplicateDatabaseError:
            return False
        return True
    finally:
        await conn.close()


async def apply_migrations(dsn: str) -> list[str]:
    """Apply every pending migration; returns the names applied now."""
    conn = await asyncpg.connect(dsn, timeout=5)
    applied_now: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        for path in migration_files():
            if path.name in done:
                continue
            async with conn.transaction():
                await conn.execute(path.read_text())
                await conn.execute("INSERT INTO schema_migrations (name) VALUES ($1)", path.name)
            applied_now.append(path.name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
        await conn.close()
    return applied_now


async def pending_migrations(dsn: str, connect_seconds: float = 5.0) -> list[str]:
    """The migration files not yet applied to the database at `dsn`."""
    conn = await asyncpg.connect(dsn, timeout=connect_seconds)
    try:
        exists = await conn.fetchval("SELECT to_regclass('schema_migrations')")
        done = (
            set()
            if exists is None
            else {r["name"] for r in await conn.fetch("SELECT name FROM schema_migrations")}
        )
    finally:
        await conn.close()
    return [path.name for path in migration_files() if path.name not in done]
