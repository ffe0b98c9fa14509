"""The visitor cookie and the `state` of the GitHub App manifest flow (pure).

The page with the form sets a random cookie on the visitor and sends GitHub a random
`state`; the server keeps only the digests of both, paired. The callback is accepted
only with a state that was issued to the cookie it comes with, once.
"""

from __future__ import annotations

import hashlib
import re
import secrets

VISITOR_COOKIE = "agentops_setup"
COOKIE_PATH = "/setup"  # sent with the callback only
_TOKEN = re.compile(r"[A-Za-z0-9_\-]{32,128}")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def well_formed_token(value: str | None) -> bool:
    return value is not None and _TOKEN.fullmatch(value) is not None


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def visitor_cookie_header(token: str, public_url: str, max_age: int) -> str:
    """`Set-Cookie` value: HttpOnly, SameSite=Lax (GitHub's redirect back is a top-level
    GET, which Lax lets through), Secure when the service is served over https."""
    secure = "; Secure" if public_url.lower().startswith("https://") else ""
    return (
        f"{VISITOR_COOKIE}={token}; Path={COOKIE_PATH}; Max-Age={max_age}; HttpOnly;"
        f" SameSite=Lax{secure}"
    )
