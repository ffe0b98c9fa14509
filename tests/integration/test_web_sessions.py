"""Sessions in the store: found by the digest of their id only while they live, and gone
at sign-out; an expired one is deleted when the next is made."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from app.store import Database
from app.store import web_sessions as session_store


async def test_a_session_lives_for_its_lifetime_and_ends_at_sign_out(db: Database) -> None:
    async with db.admin() as conn:
        await session_store.create_session(
            conn, b"short" * 4, "github", "7", "alice", b"sealed", None, None, 0.3
        )
        await session_store.create_session(
            conn, b"long-" * 4, "gitlab", "8", "dana", b"sealed", b"r", 7200, 3600
        )
        found = await session_store.get_session(conn, b"long-" * 4)
        assert found is not None and (found.forge, found.login) == ("gitlab", "dana")
        assert found.token_expires_at is not None
        assert await session_store.get_session(conn, b"short" * 4) is not None
    await asyncio.sleep(0.5)
    async with db.admin() as conn:
        assert await session_store.get_session(conn, b"short" * 4) is None
        assert await session_store.claim_renewal(conn, b"short" * 4, 30) is None
        await session_store.create_session(
            conn, b"other" * 4, "github", "9", "bob", b"sealed", None, None, 60
        )
        left = await conn.fetchval(
            "SELECT count(*) FROM web_sessions WHERE id_digest = $1", b"short" * 4
        )
        assert left == 0  # expired rows go when a session is made
        assert await session_store.delete_session(conn, b"long-" * 4)
        assert await session_store.get_session(conn, b"long-" * 4) is None
        assert not await session_store.delete_session(conn, b"long-" * 4)


async def test_the_tenant_login_cannot_read_sessions(db: Database) -> None:
    async with db.tenant_pool.acquire() as conn:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetch("SELECT * FROM web_sessions")


async def test_one_renewal_at_a_time_by_lease_with_no_connection_held(db: Database) -> None:
    """A renewal takes the session's lease and commits: the next request (on any
    connection) is told another renews; new tokens or a release end the lease, and a
    lease whose holder died ends by itself."""
    key = b"lease" * 4
    async with db.admin() as conn:
        await session_store.create_session(
            conn, key, "github", "7", "alice", b"old", b"refresh", 10, 3600
        )
        assert await session_store.renewal_state(conn, key) == (b"old", False)
        first = await session_store.claim_renewal(conn, key, 30)
    assert first is not None and first.token_sealed == b"old"
    async with db.admin() as other:
        assert await session_store.renewal_state(other, key) == (b"old", True)  # wait
        assert await session_store.claim_renewal(other, key, 30) is None
        await session_store.replace_tokens(other, key, b"new", b"refresh-2", 3600)
        assert await session_store.renewal_state(other, key) == (b"new", False)  # take it
        again = await session_store.claim_renewal(other, key, 30)
        assert again is not None and again.token_sealed == b"new"
        await session_store.release_renewal(other, key)
        assert await session_store.renewal_state(other, key) == (b"new", False)  # gave up
        assert await session_store.claim_renewal(other, key, 0.2) is not None
        assert await session_store.claim_renewal(other, key, 30) is None
    await asyncio.sleep(0.3)  # that holder's lease ran out (its process died)
    async with db.admin() as conn:
        assert await session_store.claim_renewal(conn, key, 30) is not None
