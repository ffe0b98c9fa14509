"""The cookies of sign-in (pure): the session cookie and the short-lived sign-in state.

Both are signed (`SessionKeys.sign`), `HttpOnly`, `SameSite=Lax` (the forge's redirect
back is a top-level GET, which Lax lets through; a cross-site POST carries neither) and
`Secure` when the service is reached over https (its public URL, or the scheme a trusted
proxy gave).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import quote, unquote

from app.signin.keys import SessionKeys

SESSION_COOKIE = "agentops_session"
STATE_COOKIE = "agentops_signin"
STATE_PATH = "/signin"  # sent to the sign-in routes only
STATE_TTL_SECONDS = 600


def cookie_header(name: str, value: str, path: str, max_age: int, secure: bool) -> str:
    flags = "; Secure" if secure else ""
    return f"{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{flags}"


def expired_cookie_header(name: str, path: str, secure: bool) -> str:
    return cookie_header(name, "", path, 0, secure)


def session_cookie(keys: SessionKeys, session_id: str, max_age: int, secure: bool) -> str:
    return cookie_header(SESSION_COOKIE, keys.sign("session", session_id), "/", max_age, secure)


def session_id_of(keys: SessionKeys, cookie: str | None) -> str | None:
    return keys.unsign("session", cookie)


@dataclass(frozen=True)
class SignInState:
    """What the browser holds between `/signin/{forge}` and the forge's redirect back."""

    forge: str
    state: str
    verifier: str  # PKCE
    next_path: str
    issued_at: int

    def fresh(self, now: float | None = None) -> bool:
        return 0 <= (now or time.time()) - self.issued_at <= STATE_TTL_SECONDS


def state_cookie(keys: SessionKeys, state: SignInState, secure: bool) -> str:
    value = "|".join(
        (
            state.forge,
            state.state,
            state.verifier,
            quote(state.next_path, safe=""),
            str(state.issued_at),
        )
    )
    return cookie_header(
        STATE_COOKIE, keys.sign("signin", value), STATE_PATH, STATE_TTL_SECONDS, secure
    )


def state_of(keys: SessionKeys, cookie: str | None) -> SignInState | None:
    value = keys.unsign("signin", cookie)
    if value is None:
        return None
    parts = value.split("|")
    if len(parts) != 5 or not parts[4].isdigit():
        return None
    forge, state, verifier, next_path, issued = parts
    return SignInState(forge, state, verifier, unquote(next_path), int(issued))


def local_path(candidate: str | None, default: str = "/runs") -> str:
    """Where to go after sign-in: a path on this service only (no `//host`, no scheme, no
    backslash), else `default`."""
    if (
        not candidate
        or not candidate.startswith("/")
        or candidate.startswith("//")
        or "\\" in candidate
        or any(ord(c) < 0x20 for c in candidate)
        or len(candidate) > 500
    ):
        return default
    return candidate
