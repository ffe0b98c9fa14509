"""Who a bearer token of `/mcp` is: the admin token (nobody: reads everything, acts on
nothing) or an operator's own token from `AGENTOPS_MCP_TOKENS`."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.config import Settings

MIN_TOKEN_CHARS = 32


@dataclass(frozen=True)
class Principal:
    forge: str | None  # None: the admin token, which belongs to no one
    login: str | None

    @property
    def person(self) -> str:
        return f"{self.forge}:{self.login}" if self.login else "the admin token"


ADMIN = Principal(None, None)


def operator_tokens(settings: Settings) -> dict[str, Principal]:
    """Token → operator, from `MCP_TOKENS`; a ValueError naming the bad entry (never the
    token) for one that is not `FORGE:LOGIN=TOKEN` of an operator with a long token."""
    raw = settings.mcp_tokens.get_secret_value() if settings.mcp_tokens else ""
    operators = settings.operators
    found: dict[str, Principal] = {}
    for entry in filter(None, (e.strip() for e in raw.split(","))):
        who, _, token = entry.partition("=")
        forge, _, login = who.strip().partition(":")
        if (forge, login.lower()) not in operators:
            raise ValueError(
                f"AGENTOPS_MCP_TOKENS: {who.strip()!r} is not FORGE:LOGIN of one of "
                "AGENTOPS_OPERATOR_LOGINS"
            )
        if len(token.strip()) < MIN_TOKEN_CHARS:
            raise ValueError(
                f"AGENTOPS_MCP_TOKENS: the token of {who.strip()} is shorter than "
                f"{MIN_TOKEN_CHARS} characters (e.g. `openssl rand -hex 32`)"
            )
        found[token.strip()] = Principal(forge, login)
    return found


def principal_of(authorization: str, settings: Settings) -> Principal | None:
    """The holder of `Authorization: Bearer <token>`, or None. Every known token is
    compared in constant time, whichever matches."""
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return None
    presented = given.strip().encode()
    candidates = list(operator_tokens(settings).items())
    if settings.admin_token is not None and settings.admin_token.get_secret_value():
        candidates.append((settings.admin_token.get_secret_value(), ADMIN))
    holder: Principal | None = None
    for token, principal in candidates:
        if hmac.compare_digest(presented, token.encode()):
            holder = principal
    return holder


def endpoint_on(settings: Settings) -> bool:
    """Whether any token opens `/mcp`: without one the endpoint refuses everyone."""
    admin = settings.admin_token is not None and bool(settings.admin_token.get_secret_value())
    return admin or bool(operator_tokens(settings))
