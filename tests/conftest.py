"""Shared fixtures: a fresh PostgreSQL database and a private Redis queue per test session.

Both services are the real ones on loopback (`.ci/run` starts them when they are down).
Each session gets its own database and queue name so that parallel runs never collide.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from app.store import Database, connect
from app.store.migrations import apply_migrations, ensure_database

PG_BASE = os.environ.get("AGENTOPS_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("AGENTOPS_TEST_REDIS", "redis://127.0.0.1:6379/0")


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(f"{PG_BASE}/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A migrated, empty database for this test session, dropped at the end."""
    name = f"agentops_test_{uuid.uuid4().hex[:10]}"
    url = f"{PG_BASE}/{name}"
    asyncio.run(ensure_database(url))
    asyncio.run(apply_migrations(url))
    yield url
    asyncio.run(drop_database(name))


@pytest.fixture
def own_database_url() -> Iterator[str]:
    """A migrated, empty database for one test that must see no other test's runs."""
    name = f"agentops_own_{uuid.uuid4().hex[:10]}"
    url = f"{PG_BASE}/{name}"
    asyncio.run(ensure_database(url))
    asyncio.run(apply_migrations(url))
    yield url
    asyncio.run(drop_database(name))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = await connect(database_url, min_size=1, max_size=4)
    yield database
    await database.close()


@pytest.fixture(scope="session")
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture
def queue_name() -> str:
    return f"agentops:test:{uuid.uuid4().hex[:10]}"
