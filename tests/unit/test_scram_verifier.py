"""The verifier `agentops migrate` gives the tenant login: RFC 7677's SCRAM-SHA-256 example."""

from __future__ import annotations

import base64
import hashlib
import hmac

from app.store.migrations import password_in, scram_sha256_verifier

# RFC 7677, section 3: user "user", password "pencil"
SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
AUTH_MESSAGE = (
    b"n=user,r=rOprNGfwEbeRWgbNEkqO,"
    b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
    b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
)
CLIENT_PROOF = base64.b64decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
SERVER_SIGNATURE = base64.b64decode("6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")


def test_the_verifier_checks_the_rfc_7677_exchange() -> None:
    verifier = scram_sha256_verifier("pencil", SALT, 4096)
    method, rest = verifier.split("$", 1)
    params, keys = rest.split("$")
    iterations, salt = params.split(":")
    stored_key, server_key = (base64.b64decode(k) for k in keys.split(":"))
    assert (method, iterations, base64.b64decode(salt)) == ("SCRAM-SHA-256", "4096", SALT)
    # the server proves itself with ServerKey ...
    assert hmac.new(server_key, AUTH_MESSAGE, "sha256").digest() == SERVER_SIGNATURE
    # ... and checks the client's proof with StoredKey
    signature = hmac.new(stored_key, AUTH_MESSAGE, "sha256").digest()
    client_key = bytes(a ^ b for a, b in zip(CLIENT_PROOF, signature, strict=True))
    assert hashlib.sha256(client_key).digest() == stored_key


def test_a_fresh_verifier_has_a_random_salt_and_no_password() -> None:
    one, two = scram_sha256_verifier("pencil"), scram_sha256_verifier("pencil")
    assert one != two and "pencil" not in one


def test_the_password_of_a_database_url() -> None:
    assert password_in("postgresql://agentops_tenant:p%40ss@db:5432/agentops") == "p@ss"
    assert password_in("postgresql://agentops_tenant@db/agentops") is None
    assert password_in("") is None
