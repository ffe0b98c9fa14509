"""The cookies of sign-in (pure): the session cookie and the short-lived sign-in state.

Both are signed (`SessionKeys.sign`), `HttpOnly`, `SameSite=Lax` (the forge's redirect
back is a top-level GET, which Lax lets through; a cross-site POST carries neither) and
`Secure` when the service is reached over https (its public URL, or the scheme a trusted
proxy gave). Over https their names carry the browser's prefixes (`__Host-` for the
session: Secure, path `/`, no domain; `__Secure-` for the state), so that a cookie set by a
neighbouring subdomain or over plain http (a session of the attacker's own, planted to
sign the victim in as them) is never read as ours.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

from app.signin.keys import SessionKeys

SESSION_COOKIE = "agentops_session"
STATE_COOKIE = "agentops_signin"
SESSION_COOKIES = (f"__Host-{SESSION_COOKIE}", SESSION_COOKIE)  # either name, by scheme
STATE_PATH = "/signin"  # sent to the sign-in routes only
STATE_TTL_SECONDS = 600


def session_cookie_name(secure: bool) -> str:
    return f"__Host-{SESSION_COOKIE}" if secure else SESSION_COOKIE


def state_cookie_name(secure: bool) -> str:
    return f"__Secure-{STATE_COOKIE}" if secure else STATE_COOKIE


def cookie_header(name: str, value: str, path: str, max_age: int, secure: bool) -> str:
    flags = "; Secure" if secure else ""
    return f"{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{flags}"


def expired_session_cookie(secure: bool) -> str:
    return cookie_header(session_cookie_name(secure), "", "/", 0, secure)


def expired_state_cookie(secure: bool) -> str:
    return cookie_header(state_cookie_name(secure), "", STATE_PATH, 0, secure)


def session_cookie(keys: SessionKeys, session_id: str, max_age: int, secure: bool) -> str:
    name = session_cookie_name(secure)
    return cookie_header(name, keys.sign("session", session_id), "/", max_age, secure)


def session_id_of(keys: SessionKeys, cookies: Mapping[str, str], secure: bool) -> str | None:
    """The session id of the request's cookie of the name its scheme allows (over https
    only the `__Host-` one)."""
    return keys.unsign("session", cookies.get(session_cookie_name(secure)))


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
    name = state_cookie_name(secure)
    return cookie_header(name, keys.sign("signin", value), STATE_PATH, STATE_TTL_SECONDS, secure)


def state_of(keys: SessionKeys, cookies: Mapping[str, str], secure: bool) -> SignInState | None:
    value = keys.unsign("signin", cookies.get(state_cookie_name(secure)))
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
