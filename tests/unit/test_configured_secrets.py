"""Every secret the operator configures is known to redaction from start-up."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from app.config import Settings
from app.redaction import REDACTED, redact

PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEAv3Jd8Qk2mZ7pLw4sT8nB1cD6fG3hJ5kZ0aYuEiO2rW4tQ8yP\n"
    "1sA7dF3gH6jK9lM2nB5vC8xZ1qW4eR7tY0uI3oP6aS9dF2gH5jK8lQAbCdEfGhIj\n"
    "-----END RSA PRIVATE KEY-----\n"
)


def test_every_configured_secret_is_listed(tmp_path: Path) -> None:
    key_file = tmp_path / "app.pem"
    key_file.write_text(PEM)
    settings = Settings(
        database_url="postgresql://svc:db-Pa55word-for-the-owner@db:5432/agentops",
        tenant_database_url="postgresql://agentops_tenant:tenant%2Fpa55-w0rd-xyz@db/agentops",
        redis_url="redis://:redis-secret-Pa55w0rd@cache:6379/0",
        admin_token=SecretStr("admin-token-4f8a9c2e7b1d6a3f"),
        github_app_id=1,
        github_webhook_secret=SecretStr("gh-webhook-secret-9d2c7e4a1b"),
        github_private_key_path=key_file,
        gitlab_url="https://gitlab.example",
        gitlab_token=SecretStr("glpat-Zx8Cv7Bn6Mm5Ll4Kk3Jj"),
        gitlab_webhook_secret=SecretStr("gl-webhook-secret-3e8f1a6c9d"),
        anthropic_api_key=SecretStr("sk-ant-api03-Vh3kQ9zLm2Xr7PwT5nB8cY1dF6gJ4sA0"),
        openai_api_key=SecretStr("sk-proj-N4mB7vC1xZ8qW5eR2tY9uI6oP3aS0dF7"),
    )
    listed = set(settings.secret_values())
    assert {
        "db-Pa55word-for-the-owner",
        "tenant/pa55-w0rd-xyz",
        "redis-secret-Pa55w0rd",
        "admin-token-4f8a9c2e7b1d6a3f",
        "gh-webhook-secret-9d2c7e4a1b",
        PEM,
        "glpat-Zx8Cv7Bn6Mm5Ll4Kk3Jj",
        "gl-webhook-secret-3e8f1a6c9d",
        "sk-ant-api03-Vh3kQ9zLm2Xr7PwT5nB8cY1dF6gJ4sA0",
        "sk-proj-N4mB7vC1xZ8qW5eR2tY9uI6oP3aS0dF7",
    } <= listed
    short = Settings(database_url="postgresql://postgres:postgres@db/agentops")
    assert "postgres" not in short.secret_values()  # it would redact "postgresql://"
    # a line of the private key, quoted alone, is a piece of a configured secret
    line = PEM.splitlines()[1][10:50]
    assert redact(f"bad key material: {line}", listed) == f"bad key material: {REDACTED}"
