"""`SignIn`: what the sign-in routes and the access checks share in a web process (keys,
the forges' sign-in clients, the access cache), and the `Viewer` of a request."""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from starlette.requests import Request

from app.config import Settings
from app.forges.registry import FORGES, ForgeRegistry
from app.operators import SETTING, is_operator, not_the_operator
from app.signin import cookies
from app.signin.cache import AccessCache
from app.signin.forge_client import ForgeSignIn, ForgeUnreachable, SignInRefused
from app.signin.keys import SessionKeys, digest
from app.store import DATABASE_ERRORS, Database, operator_pins
from app.store import web_sessions as session_store

log = logging.getLogger(__name__)
REFRESH_MARGIN_SECONDS = 60.0
# A renewal's lease outlasts the forge's timeout by this much (a renewal whose process
# died is taken over after it); the others of the same session look every poll.
LEASE_MARGIN_SECONDS = 5.0
RENEWAL_POLL_SECONDS = 0.2


@dataclass
class Viewer:
    """Who is looking: a signed-in person, or the operator's admin token (`forge` None)."""

    forge: str | None
    person_id: str
    login: str
    operator: bool
    session_digest: bytes | None = field(default=None, repr=False)
    csrf_token: str | None = field(default=None, repr=False)
    _stored: session_store.StoredSession | None = field(default=None, repr=False)

    @property
    def person(self) -> tuple[str, str]:
        """The access cache's key of this person."""
        return (self.forge or "admin", self.person_id)


class SignIn:
    def __init__(self, settings: Settings, database: Callable[[], Database | None]) -> None:
        self.settings = settings
        self._database = database
        secret = settings.session_secret
        self.keys = SessionKeys(secret.get_secret_value()) if secret is not None else None
        self.cache = AccessCache(settings.access_cache_seconds)
        self._http = httpx.AsyncClient(
            timeout=settings.forge_timeout_seconds, follow_redirects=True
        )
        self.forges: dict[str, ForgeSignIn] = {}
        if self.keys is not None:
            for spec in FORGES:
                made = spec.parts().sign_in(settings, self._http)
                if made is not None:
                    self.forges[spec.kind] = made
        if self.keys is None and (settings.github_client_id or settings.gitlab_oauth_client_id):
            log.warning(
                "sign-in is off: a forge's OAuth client is set but AGENTOPS_SESSION_SECRET is not"
            )
        self.registry = ForgeRegistry(settings)  # the bot's own access: write checks

    @property
    def db(self) -> Database:
        database = self._database()
        if database is None:
            raise DatabaseNotReady
        return database

    async def aclose(self) -> None:
        await self._http.aclose()
        await self.registry.aclose()

    # --- who is looking ---------------------------------------------------------------
    def admin_viewer(self, request: Request) -> Viewer | None:
        token = self.settings.admin_token
        expected = token.get_secret_value() if token is not None else ""
        given = request.headers.get("authorization", "")
        if expected and hmac.compare_digest(given.encode(), f"Bearer {expected}".encode()):
            return Viewer(None, "admin", "admin", operator=True)
        return None

    async def viewer_of(self, request: Request) -> Viewer | None:
        """The admin token's bearer, or the person whose live session the cookie names;
        None for anyone else (and when sign-in is off)."""
        if (admin := self.admin_viewer(request)) is not None:
            return admin
        if self.keys is None:
            return None
        session_id = cookies.session_id_of(self.keys, request.cookies, self.secure_cookies(request))
        if session_id is None:
            return None
        key = digest(session_id)
        entries = self.settings.operator_entries  # read at every request: the setting rules
        async with self.db.admin() as conn:
            stored = await session_store.get_session(conn, key)
            if stored is not None and _first_use(entries, stored):
                # a session older than its login's pin (made before the login was listed,
                # or before pins existed): its account is the first seen with that login
                pinned, made = await operator_pins.pin_first(
                    conn, stored.forge, stored.login, stored.person_id
                )
                if made:
                    _pinned_log(stored.forge, stored.login, pinned, "its first use")
                stored = dataclasses.replace(stored, pinned_id=pinned)
        if stored is None:
            return None
        operator = is_operator(
            entries, stored.forge, stored.login, stored.person_id, stored.pinned_id
        )
        return Viewer(
            stored.forge,
            stored.person_id,
            stored.login,
            operator,
            key,
            self.keys.csrf_token(key),
            stored,
        )

    async def settle_operator(self, forge: str, login: str, person_id: str) -> bool:
        """At sign-in: whether this account is the operator its login names, pinning the
        login to it when it is the first (or the one the setting names). Another account
        with an operator's login is said once in the log, with what the operator does if it
        is theirs."""
        entries = self.settings.operator_entries
        key = (forge, login.lower())
        if key not in entries:
            return False
        named = entries[key]
        if named is not None:
            if named != person_id:
                log.warning(not_the_operator(forge, login, person_id, named, True))
                return False
            async with self.db.admin() as conn:
                before = await operator_pins.pin(conn, forge, login, person_id)
            if before is not None:
                log.info(
                    "%s:%s pinned to the account id %s instead of %s, as %s says",
                    forge,
                    login.lower(),
                    person_id,
                    before,
                    SETTING,
                )
            return True
        async with self.db.admin() as conn:
            pinned, made = await operator_pins.pin_first(conn, forge, login, person_id)
        if made:
            _pinned_log(forge, login, pinned, "its first sign-in")
        if pinned != person_id:
            log.warning(not_the_operator(forge, login, person_id, pinned, False))
            return False
        return True

    async def token_of(self, viewer: Viewer) -> str | None:
        """The person's forge token, renewed when it is about to expire; None when it
        cannot be had now (the forge does not answer) or any more (then the session is
        over: the person signs in again)."""
        stored, keys = viewer._stored, self.keys
        if stored is None or keys is None or viewer.session_digest is None:
            return None
        token = keys.unseal(stored.token_sealed)
        if token is not None and _fresh(stored):
            return token
        forge = self.forges.get(stored.forge)
        if forge is None:
            return None
        # Refresh tokens work once: one request (of any web process) takes the session's
        # renewal lease and renews; the others wait for what it stores. No connection is
        # held while the forge answers.
        key = viewer.session_digest
        lease = self.settings.forge_timeout_seconds + LEASE_MARGIN_SECONDS
        async with self.db.admin() as conn:
            claimed = await session_store.claim_renewal(conn, key, lease)
            current = claimed or await session_store.get_session(conn, key)
            if current is not None and claimed is not None and _fresh(current):
                await session_store.release_renewal(conn, key)  # renewed just before
        if current is None:
            return None
        viewer._stored = current
        token = keys.unseal(current.token_sealed)
        if token is not None and _fresh(current):
            return token
        if claimed is None:
            return await self._renewed_elsewhere(viewer, current.token_sealed, lease)
        refresh = keys.unseal(current.refresh_sealed) if current.refresh_sealed else None
        if token is None or refresh is None:
            await self._end(viewer, "its token expired and cannot be renewed")
            return None
        try:
            fresh = await forge.refresh(refresh)
        except ForgeUnreachable as exc:
            log.warning("the %s token of %s not renewed: %s", current.forge, viewer.login, exc)
            async with self.db.admin() as conn:
                await session_store.release_renewal(conn, key)
            return None
        except SignInRefused as exc:
            await self._end(viewer, f"the forge refused to renew its token: {exc}")
            return None
        sealed = keys.seal(fresh.access)
        sealed_refresh = keys.seal(fresh.refresh) if fresh.refresh else current.refresh_sealed
        async with self.db.admin() as conn:
            await session_store.replace_tokens(conn, key, sealed, sealed_refresh, fresh.expires_in)
        expires = (
            datetime.fromtimestamp(time.time() + fresh.expires_in, UTC)
            if fresh.expires_in
            else None
        )
        viewer._stored = dataclasses.replace(
            current, token_sealed=sealed, refresh_sealed=sealed_refresh, token_expires_at=expires
        )
        return fresh.access

    async def _renewed_elsewhere(self, viewer: Viewer, seen: bytes, lease: float) -> str | None:
        """The token another request is renewing, once it is stored in place of the `seen`
        one; None when the session ends meanwhile, or that renewal gives up or outlasts its
        lease (the forge did not answer)."""
        assert viewer.session_digest is not None and self.keys is not None
        deadline = time.monotonic() + lease
        while time.monotonic() < deadline:
            await asyncio.sleep(RENEWAL_POLL_SECONDS)
            async with self.db.admin() as conn:
                state = await session_store.renewal_state(conn, viewer.session_digest)
                if state is not None and state[0] != seen:
                    current = await session_store.get_session(conn, viewer.session_digest)
                    if current is not None:
                        viewer._stored = current
                        return self.keys.unseal(current.token_sealed)
            if state is None or not state[1]:
                return None
        return None

    async def _end(self, viewer: Viewer, why: str) -> None:
        assert viewer.session_digest is not None
        async with self.db.admin() as conn:
            await session_store.delete_session(conn, viewer.session_digest)
        self._ended(viewer, why)

    def _ended(self, viewer: Viewer, why: str) -> None:
        """The session's row is deleted: the person signs in again."""
        log.info("the session of %s (%s) ended: %s", viewer.login, viewer.forge, why)
        self.cache.forget(viewer.person)

    def secure_cookies(self, request: Request) -> bool:
        """`Secure` when the service is reached over https: its public URL says so, or the
        request came so (the scheme a trusted proxy gave, app/forwarded.py)."""
        return (
            self.settings.public_url.lower().startswith("https://") or request.url.scheme == "https"
        )


def _first_use(
    entries: dict[tuple[str, str], str | None], stored: session_store.StoredSession
) -> bool:
    """A listed login without `#ID` and not pinned yet."""
    key = (stored.forge, stored.login.lower())
    return key in entries and entries[key] is None and stored.pinned_id is None


def _pinned_log(forge: str, login: str, person_id: str, when: str) -> None:
    log.info(
        "operator %s:%s pinned to the account id %s at %s", forge, login.lower(), person_id, when
    )


def _fresh(stored: session_store.StoredSession) -> bool:
    expires = stored.token_expires_at
    return expires is None or expires.timestamp() - REFRESH_MARGIN_SECONDS > time.time()


class DatabaseNotReady(Exception):
    """The web process has no pool yet (start-up)."""


DATABASE_FAULTS: tuple[type[BaseException], ...] = (*DATABASE_ERRORS, DatabaseNotReady)
