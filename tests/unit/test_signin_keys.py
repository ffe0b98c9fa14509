"""Sign-in's pure parts: signed cookie values, CSRF tokens, tokens sealed at rest, the
sign-in state cookie, where a person may be sent back to, and the access cache."""

from __future__ import annotations

import time

import pytest

from app.signin import cookies
from app.signin.cache import AccessCache
from app.signin.keys import SessionKeys, digest, pkce_challenge

SECRET = "k" * 40


def test_a_signed_value_opens_only_unchanged_with_its_purpose_and_secret() -> None:
    keys = SessionKeys(SECRET)
    signed = keys.sign("session", "abc")
    assert keys.unsign("session", signed) == "abc"
    assert keys.unsign("signin", signed) is None  # another cookie's signature
    assert SessionKeys("x" * 40).unsign("session", signed) is None
    value, _, mac = signed.rpartition(".")
    assert keys.unsign("session", f"abd.{mac}") is None
    assert keys.unsign("session", value) is None
    assert keys.unsign("session", None) is None and keys.unsign("session", "") is None


def test_the_csrf_token_is_the_sessions_own() -> None:
    keys = SessionKeys(SECRET)
    mine, theirs = digest("session-a"), digest("session-b")
    token = keys.csrf_token(mine)
    assert keys.csrf_matches(mine, token)
    assert not keys.csrf_matches(theirs, token)
    assert not keys.csrf_matches(mine, None) and not keys.csrf_matches(mine, "")


def test_a_sealed_token_is_not_the_token_and_opens_only_with_the_secret() -> None:
    keys = SessionKeys(SECRET)
    sealed = keys.seal("ghu_secret-token")
    assert b"ghu_secret-token" not in sealed
    assert keys.unseal(sealed) == "ghu_secret-token"
    assert SessionKeys("x" * 40).unseal(sealed) is None
    assert keys.seal("same") != keys.seal("same")  # a fresh IV each time


def test_pkce_challenge_is_rfc7636s_example() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_the_sign_in_state_round_trips_and_ages() -> None:
    keys = SessionKeys(SECRET)
    state = cookies.SignInState("github", "s" * 43, "v" * 43, "/runs/7?x=1|2", int(time.time()))
    header = cookies.state_cookie(keys, state, secure=True)
    name, value = header.split(";")[0].split("=", 1)
    assert name == "__Secure-agentops_signin"
    assert cookies.state_of(keys, {name: value}, secure=True) == state
    assert "Path=/signin" in header and "HttpOnly" in header and "Secure" in header
    assert "SameSite=Lax" in header
    assert state.fresh() and not state.fresh(time.time() + cookies.STATE_TTL_SECONDS + 1)
    assert cookies.state_of(keys, {name: value.replace("github", "gitlab")}, True) is None


def test_over_https_only_the_prefixed_cookies_are_read() -> None:
    """A cookie planted without the prefix (over plain http, or by a neighbouring
    subdomain: the attacker's own valid session) is not the browser's session."""
    keys = SessionKeys(SECRET)
    https = cookies.session_cookie(keys, "theirs", 3600, secure=True)
    name, value = https.split(";")[0].split("=", 1)
    assert name == "__Host-agentops_session" and "; Path=/;" in https
    assert "Domain" not in https
    assert cookies.session_id_of(keys, {name: value}, secure=True) == "theirs"
    assert cookies.session_id_of(keys, {"agentops_session": value}, secure=True) is None
    assert cookies.session_id_of(keys, {"agentops_session": value}, secure=False) == "theirs"
    assert cookies.session_id_of(keys, {name: value}, secure=False) is None


def test_the_session_cookie_has_its_flags_and_secure_only_on_https() -> None:
    keys = SessionKeys(SECRET)
    plain = cookies.session_cookie(keys, "id", 3600, secure=False)
    https = cookies.session_cookie(keys, "id", 3600, secure=True)
    assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Max-Age=3600" in plain
    assert "Secure" not in plain and https.endswith("; Secure")


@pytest.mark.parametrize(
    "given",
    [
        None,
        "",
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "javascript:alert(1)",
        "runs/7",
        "/runs\r\nSet-Cookie: x=1",
    ],
)
def test_a_person_is_sent_back_only_to_a_path_of_this_service(given: str | None) -> None:
    assert cookies.local_path(given) == "/runs"


def test_a_local_path_is_kept() -> None:
    assert cookies.local_path("/runs/42?status=failed") == "/runs/42?status=failed"


def test_the_access_cache_forgets_after_its_life_and_on_sign_out() -> None:
    now = [100.0]
    cache = AccessCache(120, max_entries=3, clock=lambda: now[0])
    cache.put("alice", "acme/app", True)
    cache.put("bob", "acme/app", False)
    assert cache.get("alice", "acme/app") == (True, True)
    assert cache.get("bob", "acme/app") == (True, False)  # a "no" is kept too
    now[0] += 119.9
    assert cache.get("alice", "acme/app") == (True, True)
    now[0] += 0.2
    assert cache.get("alice", "acme/app") == (False, None)
    cache.put("alice", "x", True)
    cache.forget("alice")
    assert cache.get("alice", "x") == (False, None)


def test_the_access_cache_is_bounded() -> None:
    cache = AccessCache(120, max_entries=2)
    for repo in ("a", "b", "c"):
        cache.put("alice", repo, True)
    assert cache.get("alice", "a") == (False, None)
    assert cache.get("alice", "c") == (True, True)
