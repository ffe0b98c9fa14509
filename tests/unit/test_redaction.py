"""`redact` on what repositories and logs carry: secret-named assignments (value only),
AWS secret access keys, private key blocks whole or cut off; and ordinary code untouched."""

from __future__ import annotations

import pytest

from app.redaction import REDACTED, is_secret_name, redact

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
KEY_LINE = "MIIEowIBAAKCAQEAx1y2z3Qm9Wv+Lk0/Pz7HbYt2XcVnRa4sDf8gJkLmNoPq"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('password = "hunter22"', f'password = "{REDACTED}"'),
        ("password='hunter22'", f"password='{REDACTED}'"),
        ('DB_PASSWORD="s3cr3t!"', f'DB_PASSWORD="{REDACTED}"'),
        ("export GITHUB_TOKEN='abcd'", f"export GITHUB_TOKEN='{REDACTED}'"),
        ('{"api_key": "abcd1234", "user": "x"}', f'{{"api_key": "{REDACTED}", "user": "x"}}'),
        ("apikey: Zx9Kq2LmZ0pR", f"apikey: {REDACTED}"),
        ("passwd=opensesame7", f"passwd={REDACTED}"),
        ("secret: CorrectHorseBattery", f"secret: {REDACTED}"),
        ("access_token=abcDEF123456&page=2", f"access_token={REDACTED}&page=2"),
        ("client_secret := Zx9Kq2LmZ0pRt", f"client_secret := {REDACTED}"),
        ("'passwd' => 'opensesame'", f"'passwd' => '{REDACTED}'"),
        ('token: str = "abc12345"', f'token: str = "{REDACTED}"'),
        ('SECRET_KEY = "django-insecure-x"', f'SECRET_KEY = "{REDACTED}"'),
        ('{\\"password\\": \\"hunter22\\"}', f'{{\\"password\\": \\"{REDACTED}\\"}}'),
        ("connect(host='db', password='pa55word')", f"connect(host='db', password='{REDACTED}')"),
    ],
)
def test_the_value_of_a_secret_named_assignment_is_redacted_and_its_name_kept(
    text: str, expected: str
) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "code",
    [
        'password = request.form["password"]',
        "token = get_token()",
        "token = os.environ.get('TOKEN')",
        "secret=None",
        "secret = True",
        "password: str",
        "password: Optional[str] = None",
        "token=token",
        "token = self.token",
        "connect(password=settings.db_password)",
        "client = Client(api_key=OPENAI_API_KEY)",
        "f(token=userPassword)",
        "token = tokens[0]",
        'password=""',
        "password = ''",
        "password=",
        'api_key = "abc"',  # a literal shorter than four characters
        "passwd=hunter2",  # unquoted and short
        "token: ${{ secrets.GITHUB_TOKEN }}",
        'password: "${DB_PASSWORD}"',
        "password=$DB_PASSWORD",
        "max_tokens=4096",
        "token_type = 'bearer'",
        'if token == "abcd1234":',
        "if password != 'hunter22':",
        "Password: Required",
        "token:\n    x = compute12345()",
    ],
)
def test_code_that_only_names_a_secret_is_left_alone(code: str) -> None:
    assert redact(code) == code


def test_aws_secret_access_keys_are_redacted_in_every_shape() -> None:
    for text in (
        f"aws_secret_access_key = {AWS_SECRET}",
        f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}",
        f'"SecretAccessKey": "{AWS_SECRET}",',
        f"--aws-secret-access-key {AWS_SECRET}",
        "aws_secret_access_key = " + "abcdefghij/" * 3 + "abcdefh",  # no digit, one case
    ):
        cleaned = redact(text)
        assert cleaned.lower().startswith(text[:12].lower()) and REDACTED in cleaned, text
        assert AWS_SECRET not in cleaned and "abcdefghij/" not in cleaned
    credentials = (
        "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
        f"aws_secret_access_key = {AWS_SECRET}\n"
    )
    assert redact(credentials) == (
        f"[default]\naws_access_key_id = {REDACTED}\naws_secret_access_key = {REDACTED}\n"
    )


@pytest.mark.parametrize("kind", ["", "RSA ", "EC ", "DSA ", "OPENSSH ", "ENCRYPTED "])
def test_private_key_blocks_of_every_kind_are_redacted(kind: str) -> None:
    block = (
        f"-----BEGIN {kind}PRIVATE KEY-----\n{KEY_LINE}\n{KEY_LINE}\n"
        f"-----END {kind}PRIVATE KEY-----"
    )
    assert redact(f"before\n{block}\nafter") == f"before\n{REDACTED}\nafter"


def test_a_pgp_private_key_block_with_armour_headers_is_redacted() -> None:
    block = (
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\n"
        f"{KEY_LINE}\n=AbCd\n-----END PGP PRIVATE KEY BLOCK-----"
    )
    assert redact(f"x\n{block}\ny") == f"x\n{REDACTED}\ny"


def test_a_private_key_cut_off_before_its_end_line_is_redacted() -> None:
    cut = f"-----BEGIN RSA PRIVATE KEY-----\n{KEY_LINE}\n{KEY_LINE[:20]}"
    assert redact(f"file:\n{cut}") == f"file:\n{REDACTED}"
    encrypted = (
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
        f"DEK-Info: AES-128-CBC,3F17F5316E2BAC89\n\n{KEY_LINE}\n{KEY_LINE}\n\n... (truncated)"
    )
    assert redact(encrypted) == f"{REDACTED}\n\n... (truncated)"
    # escaped inside JSON (a service account file), cut off
    escaped = '{"private_key": "-----BEGIN PRIVATE KEY-----\\n' + KEY_LINE + "\\n" + KEY_LINE[:9]
    cleaned = redact(escaped)
    assert "BEGIN" not in cleaned and KEY_LINE[:9] not in cleaned
    assert cleaned.startswith('{"private_key": "')


def test_code_that_looks_for_a_key_header_is_left_alone() -> None:
    code = 'if line.startswith("-----BEGIN RSA PRIVATE KEY-----\\n"):\n    return True'
    assert redact(code) == code


def test_redaction_is_stable_when_applied_twice() -> None:
    text = (
        f'password = "hunter22"\naws_secret_access_key = {AWS_SECRET}\n'
        f'"SecretAccessKey": "{AWS_SECRET}"\ntoken: Zx9Kq2LmZ0pR\n'
        f"-----BEGIN PRIVATE KEY-----\n{KEY_LINE}\n"
    )
    once = redact(text)
    assert redact(once) == once
    assert "hunter22" not in once and AWS_SECRET not in once and KEY_LINE not in once


def test_secret_names() -> None:
    for name in (
        "password",
        "DB_PASSWORD",
        "api-key",
        "apiKey",
        "client_secret",
        "SecretAccessKey",
    ):
        assert is_secret_name(name), name
    for name in ("max_tokens", "token_type", "path", "secrets", "password_hash"):
        assert not is_secret_name(name), name
