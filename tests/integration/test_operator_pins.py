"""Operator logins pinned to an account (migration 0018): the first account wins, the
setting's id replaces it, the session read brings the pin along, and the tenant login
cannot read the table."""

from __future__ import annotations

import asyncpg
import pytest

from app.store import Database
from app.store import operator_pins as pins
from app.store import web_sessions as session_store


async def test_the_first_account_wins_and_the_session_read_brings_the_pin(db: Database) -> None:
    async with db.admin() as conn:
        assert await pins.pin_first(conn, "github", "Rita", "5") == ("5", True)
        assert await pins.pin_first(conn, "github", "rita", "6") == ("5", False)
        assert await pins.pin_first(conn, "gitlab", "rita", "6") == ("6", True)
        for digest, person in ((b"old-" * 8, "5"), (b"new-" * 8, "6")):
            await session_store.create_session(
                conn, digest, "github", person, "RITA", b"sealed", None, None, 60
            )
        await session_store.create_session(
            conn, b"bob-" * 8, "github", "7", "bob", b"sealed", None, None, 60
        )
        old = await session_store.get_session(conn, b"old-" * 8)
        new = await session_store.claim_renewal(conn, b"new-" * 8, 30)
        bob = await session_store.get_session(conn, b"bob-" * 8)
        assert old is not None and (old.person_id, old.pinned_id) == ("5", "5")
        assert new is not None and (new.person_id, new.pinned_id) == ("6", "5")
        assert bob is not None and bob.pinned_id is None

        assert await pins.pin(conn, "github", "rita", "6") == "5"  # the setting names 6
        assert await pins.pin(conn, "github", "rita", "6") is None  # already so
        assert await pins.pin(conn, "github", "carl", "8") is None  # a new pin
        moved = await session_store.get_session(conn, b"new-" * 8)
        assert moved is not None and moved.pinned_id == "6"


async def test_the_tenant_login_cannot_read_or_write_pins(db: Database) -> None:
    async with db.tenant_pool.acquire() as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("SELECT * FROM operator_pins")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(
                "INSERT INTO operator_pins (forge, login, person_id) VALUES ('github', 'x', '1')"
            )
