"""The account each operator login is pinned to (migration 0018). Owner-level, not tenant
data; read with the session (`web_sessions.get_session`), written at sign-in."""

from __future__ import annotations

import asyncpg


async def pin_first(
    conn: asyncpg.Connection, forge: str, login: str, person_id: str
) -> tuple[str, bool]:
    """Pin `forge:login` to `person_id` unless it is pinned already: the id it is pinned to
    (whichever sign-in came first wins), and whether this call pinned it."""
    made: str | None = await conn.fetchval(
        "INSERT INTO operator_pins (forge, login, person_id) VALUES ($1, lower($2), $3)"
        " ON CONFLICT (forge, login) DO NOTHING RETURNING person_id",
        forge,
        login,
        person_id,
    )
    if made is not None:
        return made, True
    pinned: str = await conn.fetchval(
        "SELECT person_id FROM operator_pins WHERE forge = $1 AND login = lower($2)",
        forge,
        login,
    )
    return pinned, False


async def pin(conn: asyncpg.Connection, forge: str, login: str, person_id: str) -> str | None:
    """Pin `forge:login` to `person_id` (the operator's setting names this id); the id it
    was pinned to before, if another."""
    before: str | None = await conn.fetchval(
        "WITH old AS (SELECT person_id FROM operator_pins WHERE forge = $1 AND login = lower($2))"
        " INSERT INTO operator_pins (forge, login, person_id) VALUES ($1, lower($2), $3)"
        " ON CONFLICT (forge, login) DO UPDATE SET person_id = excluded.person_id,"
        " pinned_at = now() WHERE operator_pins.person_id <> excluded.person_id"
        " RETURNING (SELECT person_id FROM old)",
        forge,
        login,
        person_id,
    )
    return before
