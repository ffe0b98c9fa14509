"""Plain SQL migrations, applied in file-name order and recorded in `schema_migrations`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import asyncpg

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x_A6E_0F5  # advisory lock: two `migrate` at once apply each file once


class DatabaseMissing(Exception):
    """The database named in the URL does not exist yet: `agentops migrate` creates it."""

    def __init__(self, name: str) -> None:
        super().__init__(f'database "{name}" does not exist')
        self.name = name


def database_name(dsn: str) -> str:
    """The database a URL names (`postgresql://host/name` → `name`)."""
    return unquote(urlsplit(dsn).path.lstrip("/"))


def migration_files() -> list[Path]:
    return sorted(MIGRATIONS_DIR.glob("*.sql"))


async def ensure_database(dsn: str) -> bool:
    """Create the database named in `dsn` if it is missing. True when it was created."""
    parts = urlsplit(dsn)
    name = database_name(dsn)
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
    """The migration files not yet applied to the database at `dsn`; `DatabaseMissing`
    when the server is reachable but has no database of that name."""
    try:
        conn = await asyncpg.connect(dsn, timeout=connect_seconds)
    except asyncpg.InvalidCatalogNameError as exc:
        raise DatabaseMissing(database_name(dsn) or "?") from exc
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


def scram_sha256_verifier(password: str, salt: bytes | None = None, iterations: int = 4096) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for `password` (RFC 5802 / 7677), so
    that `ALTER ROLE … PASSWORD` never carries the password itself."""
    salt = os.urandom(16) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


async def set_role_password(dsn: str, role: str, password: str) -> None:
    """Give `role` the password `password` (as a verifier), connected as the owner."""
    quoted_role = '"' + role.replace('"', '""') + '"'
    verifier = scram_sha256_verifier(password)
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(f"ALTER ROLE {quoted_role} PASSWORD '{verifier}'")
    finally:
        await conn.close()


def password_in(dsn: str) -> str | None:
    """The password of a database URL, if it has one."""
    password = urlsplit(dsn).password
    return unquote(password) if password else None
