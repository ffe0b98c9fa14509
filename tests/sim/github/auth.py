"""Credentials as GitHub checks them: the App's JWT, installation tokens, suspensions."""

from __future__ import annotations

import base64
import secrets
import time
from typing import Any

import jwt
from starlette.requests import Request

from tests.sim.github.state import GitHubState, Installation, iso
from tests.sim.skeleton import SimError


def new_token() -> str:
    """A `ghs_` token in GitHub's newer long form: ~520 characters with dots."""
    head = "ghs_" + secrets.token_hex(18)
    tail = base64.urlsafe_b64encode(secrets.token_bytes(360)).decode().rstrip("=")
    return f"{head}.{tail[:240]}.{tail[240:]}"


def auth_kind(header: str) -> str | None:
    """What the request log says of a credential: "basic", "jwt", "token" or None."""
    scheme, _, credential = header.partition(" ")
    if not credential:
        return None
    if scheme.lower() == "basic":
        return "basic"
    return "jwt" if credential.strip().startswith("eyJ") else "token"


def authenticate(sim: GitHubState, request: Request, auth: str) -> Installation | None:
    """The installation a request acts for (None for the App's JWT and `auth="none"`)."""
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    credential = credential.strip()
    if auth == "none":
        return None
    if auth == "jwt":
        if scheme.lower() != "bearer" or not credential:
            raise SimError(401, "A JSON web token could not be decoded")
        verify_jwt(sim, credential)
        return None
    if scheme.lower() not in {"token", "bearer"} or not credential:
        raise SimError(401, "Requires authentication")
    installation = token_installation(sim, credential)
    if installation is None:
        raise SimError(401, "Bad credentials")
    if installation.suspended:
        raise SimError(403, "This installation has been suspended")
    return installation


def verify_jwt(sim: GitHubState, token: str) -> None:
    try:
        claims = jwt.decode(
            token,
            sim.public_key_pem,
            algorithms=["RS256"],
            options={"require": ["iat", "exp", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise SimError(
            401,
            "'Expiration time' claim ('exp') must be a numeric value "
            "representing the future time at which the assertion "
            "expires",
        ) from None
    except jwt.PyJWTError:
        raise SimError(401, "A JSON web token could not be decoded") from None
    if str(claims["iss"]) != str(sim.app_id):
        raise SimError(401, "'Issuer' claim ('iss') must be an Integer")
    if int(claims["exp"]) - int(claims["iat"]) > 600:
        raise SimError(401, "'Expiration time' claim ('exp') is too far in the future")
    if int(claims["iat"]) > time.time() + 60:
        raise SimError(
            401,
            "'Issued at' claim ('iat') must be an Integer representing "
            "the time that the assertion was issued",
        )


def token_installation(sim: GitHubState, token: str) -> Installation | None:
    found = sim._tokens.get(token)
    if found is None or found[1] < time.time():
        return None
    return sim._installations.get(found[0])


def issue_token(sim: GitHubState, installation_id: int) -> dict[str, Any]:
    token = new_token()
    expires = time.time() + sim.token_ttl
    sim._tokens[token] = (installation_id, expires)
    sim.tokens_issued.append(token)
    return {
        "token": token,
        "expires_at": iso(expires),
        "permissions": {
            "contents": "write",
            "issues": "write",
            "pull_requests": "write",
            "checks": "write",
        },
        "repository_selection": "all",
    }


class AuthSetup(GitHubState):
    """Set-up of installations and their credentials."""

    def add_installation(self, installation_id: int | None = None, account: str = "acme") -> int:
        with self._lock:
            number = installation_id or (max(self._installations, default=0) + 1)
            self._installations[number] = Installation(number, account)
            return number

    def reinstall(self, installation_id: int) -> int:
        """The App uninstalled and installed again: the repositories of `installation_id`
        move to a new installation of the same account, and the old one is gone."""
        with self._lock:
            old = self._installations.pop(installation_id)
            number = max([*self._installations, installation_id]) + 1
            self._installations[number] = Installation(number, old.account)
            for repo in self._repos.values():
                if repo.installation_id == installation_id:
                    repo.installation_id = number
            return number

    def suspend(self, installation_id: int, suspended: bool = True) -> None:
        with self._lock:
            self._installations[installation_id].suspended = suspended

    def revoke_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def _issue_token(self, installation_id: int) -> dict[str, Any]:
        """A fresh installation token, as `POST .../access_tokens` makes it."""
        with self._lock:
            return issue_token(self, installation_id)
