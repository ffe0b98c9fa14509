"""Sessions of people signed in to the web pages (migration 0014). Owner-level, not tenant
data: a person's session spans the tenants they can reach. The caller hands in what is
stored already sealed (encrypted) and digested: no token or session id in clear here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True)
class StoredSession:
    forge: str
    person_id: str
    login: str
    token_sealed: bytes
    refresh_sealed: bytes | None
    token_expires_at: datetime | None
    created_at: datetime
    expires_at: datetime
    pinned_id: str | None = None  # the account its login is pinned to, if an operator's


# The session with the account its login is pinned to (migration 0018), in the same read:
# whether it is an operator's is decided at every request without another round trip.
_SELECT = (
    "SELECT s.forge, s.person_id, s.login, s.token_sealed, s.refresh_sealed,"
    " s.token_expires_at, s.created_at, s.expires_at, p.person_id AS pinned_id"
    " FROM web_sessions s LEFT JOIN operator_pins p"
    " ON p.forge = s.forge AND p.login = lower(s.login)"
    " WHERE s.id_digest = $1 AND s.expires_at > now()"
)


async def create_session(
    conn: asyncpg.Connection,
    id_digest: bytes,
    forge: str,
    person_id: str,
    login: str,
    token_sealed: bytes,
    refresh_sealed: bytes | None,
    token_expires_in: float | None,
    lifetime_seconds: float,
) -> None:
    """Store a new session; expired sessions of anyone are deleted on the way."""
    await conn.execute("DELETE FROM web_sessions WHERE expires_at < now()")
    await conn.execute(
        "INSERT INTO web_sessions (id_digest, forge, person_id, login, token_sealed,"
        " refresh_sealed, token_expires_at, expires_at)"
        " VALUES ($1, $2, $3, $4, $5, $6,"
        " now() + make_interval(secs => $7), now() + make_interval(secs => $8))",
        id_digest,
        forge,
        person_id,
        login,
        token_sealed,
        refresh_sealed,
        token_expires_in,
        lifetime_seconds,
    )


async def get_session(conn: asyncpg.Connection, id_digest: bytes) -> StoredSession | None:
    """The live session of this digest (None when unknown or expired)."""
    row = await conn.fetchrow(_SELECT, id_digest)
    return StoredSession(**dict(row)) if row else None


async def claim_renewal(
    conn: asyncpg.Connection, id_digest: bytes, lease_seconds: float
) -> StoredSession | None:
    """The live session, when no other renewal of its token is under way (or the last one's
    lease ran out): the lease is taken, until `lease_seconds` from now, in the same
    statement. None when another request renews it, or the session is gone."""
    claimed = await conn.fetchval(
        "UPDATE web_sessions SET renewing_until = now() + make_interval(secs => $2)"
        " WHERE id_digest = $1 AND expires_at > now()"
        " AND (renewing_until IS NULL OR renewing_until <= now())"
        " RETURNING id_digest",
        id_digest,
        lease_seconds,
    )
    return await get_session(conn, id_digest) if claimed is not None else None


async def renewal_state(conn: asyncpg.Connection, id_digest: bytes) -> tuple[bytes, bool] | None:
    """The live session's sealed token, and whether a renewal's lease on it is still on."""
    row = await conn.fetchrow(
        "SELECT token_sealed, coalesce(renewing_until > now(), false) AS renewing"
        " FROM web_sessions WHERE id_digest = $1 AND expires_at > now()",
        id_digest,
    )
    return (row["token_sealed"], row["renewing"]) if row else None


async def release_renewal(conn: asyncpg.Connection, id_digest: bytes) -> None:
    """The renewal ended without new tokens (the forge did not answer): another may try."""
    await conn.execute(
        "UPDATE web_sessions SET renewing_until = NULL WHERE id_digest = $1", id_digest
    )


async def replace_tokens(
    conn: asyncpg.Connection,
    id_digest: bytes,
    token_sealed: bytes,
    refresh_sealed: bytes | None,
    token_expires_in: float | None,
) -> None:
    """The forge's refreshed tokens for a live session; its renewal's lease ends."""
    await conn.execute(
        "UPDATE web_sessions SET token_sealed = $2, refresh_sealed = $3,"
        " token_expires_at = now() + make_interval(secs => $4), renewing_until = NULL"
        " WHERE id_digest = $1",
        id_digest,
        token_sealed,
        refresh_sealed,
        token_expires_in,
    )


async def delete_session(conn: asyncpg.Connection, id_digest: bytes) -> bool:
    """Sign-out: the row is gone, the cookie opens nothing any more."""
    done = await conn.execute("DELETE FROM web_sessions WHERE id_digest = $1", id_digest)
    return str(done).endswith(" 1")
