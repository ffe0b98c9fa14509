"""The keys of sign-in, derived from `AGENTOPS_SESSION_SECRET` (pure, no I/O).

One secret, three keys (HKDF-SHA256, one label each): cookie signatures, CSRF tokens, and
the encryption of the people's forge tokens at rest (Fernet: AES-128-CBC + HMAC-SHA256,
with a timestamp). A token sealed here is opened only by a service holding the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def _derive(secret: str, label: str) -> bytes:
    kdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"agentops:{label}".encode())
    return kdf.derive(secret.encode())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def new_secret_token() -> str:
    """A random token (session id, OAuth state, PKCE verifier): 256 bits, URL-safe."""
    return secrets.token_urlsafe(32)


def digest(token: str) -> bytes:
    """What the database keeps of a session id."""
    return hashlib.sha256(token.encode()).digest()


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: base64url(sha256(verifier)) without padding."""
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


class SessionKeys:
    def __init__(self, secret: str) -> None:
        self._sign = _derive(secret, "cookie-signature")
        self._csrf = _derive(secret, "csrf")
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(secret, "token-encryption")))

    # --- signed values (cookies) ------------------------------------------------------
    def sign(self, purpose: str, value: str) -> str:
        """`value.signature`, the signature bound to `purpose` (one cookie's value cannot
        stand for another's)."""
        mac = hmac.new(self._sign, f"{purpose}\0{value}".encode(), "sha256").digest()
        return f"{value}.{_b64(mac)}"

    def unsign(self, purpose: str, signed: str | None) -> str | None:
        """The value of a well-signed `signed`, else None."""
        if not signed or "." not in signed:
            return None
        value, _, _ = signed.rpartition(".")
        if hmac.compare_digest(self.sign(purpose, value).encode(), signed.encode()):
            return value
        return None

    # --- CSRF -------------------------------------------------------------------------
    def csrf_token(self, session_digest: bytes) -> str:
        """The session's CSRF token: bound to it, the same for its whole life."""
        return _b64(hmac.new(self._csrf, session_digest, "sha256").digest())

    def csrf_matches(self, session_digest: bytes, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(
            self.csrf_token(session_digest).encode(), str(given).encode()
        )

    # --- tokens at rest ---------------------------------------------------------------
    def seal(self, token: str) -> bytes:
        return self._fernet.encrypt_at_time(token.encode(), int(time.time()))

    def unseal(self, sealed: bytes) -> str | None:
        """The token, or None when it was sealed with another secret (rotated)."""
        try:
            return self._fernet.decrypt(bytes(sealed)).decode()
        except InvalidToken:
            return None
