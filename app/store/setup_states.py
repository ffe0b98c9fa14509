"""Set-up states of the GitHub App manifest flow: stored as digests, used once."""

from __future__ import annotations

from enum import Enum

import asyncpg

# Pending states older than this are refused and, at the next page served, deleted.
STATE_TTL_SECONDS = 3600
# Pending states kept at most: every visit to the page while no App is configured stores
# one, so a crawler cannot grow the table without bound.
MAX_PENDING_STATES = 1000


class StateUse(Enum):
    ACCEPTED = "accepted"  # pending, this visitor's, fresh: now used
    USED = "used"  # used already (a reload, a second callback)
    UNKNOWN = "unknown"  # never issued, expired, or issued to another visitor


async def remember_setup_state(
    conn: asyncpg.Connection, state_digest: bytes, visitor_digest: bytes
) -> None:
    await conn.execute(
        "DELETE FROM setup_states WHERE created_at < now() - make_interval(secs => $1)",
        STATE_TTL_SECONDS,
    )
    await conn.execute(
        "INSERT INTO setup_states (state_digest, visitor_digest) VALUES ($1, $2)",
        state_digest,
        visitor_digest,
    )
    await conn.execute(
        "DELETE FROM setup_states WHERE state_digest IN ("
        " SELECT state_digest FROM setup_states WHERE used_at IS NULL"
        " ORDER BY created_at DESC OFFSET $1)",
        MAX_PENDING_STATES,
    )


async def use_setup_state(
    conn: asyncpg.Connection, state_digest: bytes, visitor_digest: bytes
) -> StateUse:
    """Mark the state used, atomically: of two callbacks with one state, one is accepted."""
    used = await conn.fetchval(
        "UPDATE setup_states SET used_at = now()"
        " WHERE state_digest = $1 AND visitor_digest = $2 AND used_at IS NULL"
        " AND created_at >= now() - make_interval(secs => $3)"
        " RETURNING true",
        state_digest,
        visitor_digest,
        STATE_TTL_SECONDS,
    )
    if used:
        return StateUse.ACCEPTED
    earlier = await conn.fetchval(
        "SELECT used_at IS NOT NULL FROM setup_states WHERE state_digest = $1", state_digest
    )
    return StateUse.USED if earlier else StateUse.UNKNOWN


async def release_setup_state(
    conn: asyncpg.Connection, state_digest: bytes, visitor_digest: bytes
) -> None:
    """Make the visitor's used state usable again: GitHub did not answer its code."""
    await conn.execute(
        "UPDATE setup_states SET used_at = NULL"
        " WHERE state_digest = $1 AND visitor_digest = $2 AND used_at IS NOT NULL",
        state_digest,
        visitor_digest,
    )
