"""`agentops doctor` on a PostgreSQL that has no database of the configured name yet:
it says so and points at `agentops migrate`, which creates it."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from app.cli import main
from app.config import Settings
from app.llm.doctor import check_database
from tests.conftest import PG_BASE, drop_database


async def test_a_missing_database_is_named_with_the_command_that_creates_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"agentops_doctor_missing_{uuid.uuid4().hex[:10]}"
    url = f"{PG_BASE}/{name}"
    settings = Settings(database_url=url)
    try:
        missing = await check_database(settings)
        assert missing.ok is False
        assert f'the database "{name}" does not exist' in missing.message
        assert "run `agentops migrate`" in missing.message

        monkeypatch.setenv("AGENTOPS_DATABASE_URL", url)
        assert await _run_migrate() == 0
        assert "created the database" in capsys.readouterr().out

        migrated = await check_database(settings)
        assert migrated.ok is True, migrated.message
    finally:
        await drop_database(name)
    conn = await asyncpg.connect(f"{PG_BASE}/postgres")
    try:
        assert await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name) is None
    finally:
        await conn.close()


async def _run_migrate() -> int:
    """`agentops migrate` runs its own event loop: run it off this test's loop."""
    return await asyncio.to_thread(main, ["migrate"])
