"""What the manifest flow hands the operator: the new App's settings, once.

Either shown on the callback page or, with `AGENTOPS_SETUP_CREDENTIALS_FILE`, written to
that file (mode 0600, never over an existing file) in the `KEY="value"` form a shell
(`set -a; . FILE`) and Docker Compose's `env_file` both read.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SLUG = re.compile(r"[a-z0-9][a-z0-9\-]{0,99}")
_SECRET = re.compile(r"[A-Za-z0-9_.~+/=\-]{1,512}")  # nothing a shell expands in "…"
_PEM = re.compile(
    r"-----BEGIN [A-Z ]+PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END [A-Z ]+PRIVATE KEY-----\n?"
)


class CredentialsError(Exception):
    """GitHub's answer is not a usable App; the message names what is wrong, no value."""


@dataclass(frozen=True)
class AppCredentials:
    app_id: int
    slug: str
    webhook_secret: str
    pem: str
    client_id: str = ""  # the App's OAuth client: sign-in with GitHub (app/signin)
    client_secret: str = ""

    def env_lines(self) -> list[str]:
        """Every setting the service needs, the key (last) with its newlines written as
        `\\n`."""
        pem = self.pem.strip().replace("\n", "\\n")
        client = (
            [
                f"AGENTOPS_GITHUB_CLIENT_ID={self.client_id}",
                f'AGENTOPS_GITHUB_CLIENT_SECRET="{self.client_secret}"',
            ]
            if self.client_id and self.client_secret
            else []
        )
        return [
            f"AGENTOPS_GITHUB_APP_ID={self.app_id}",
            f"AGENTOPS_GITHUB_APP_SLUG={self.slug}",
            f'AGENTOPS_GITHUB_WEBHOOK_SECRET="{self.webhook_secret}"',
            *client,
            f'AGENTOPS_GITHUB_PRIVATE_KEY="{pem}"',
        ]


def credentials_from_conversion(data: Any) -> AppCredentials:
    """The fields of GitHub's `POST /app-manifests/{code}/conversions` answer we keep."""
    if not isinstance(data, dict):
        raise CredentialsError("GitHub's answer is not an object")
    app_id = data.get("id")
    slug = data.get("slug")
    secret = data.get("webhook_secret")
    pem = data.get("pem")
    if not isinstance(app_id, int) or isinstance(app_id, bool) or app_id <= 0:
        raise CredentialsError("GitHub's answer has no App id")
    if not isinstance(slug, str) or not _SLUG.fullmatch(slug):
        raise CredentialsError("GitHub's answer has no usable App slug")
    if not isinstance(secret, str) or not _SECRET.fullmatch(secret):
        raise CredentialsError("GitHub's answer has no usable webhook secret")
    if not isinstance(pem, str) or not _PEM.fullmatch(pem.strip() + "\n"):
        raise CredentialsError("GitHub's answer has no usable private key")
    client_id, client_secret = data.get("client_id"), data.get("client_secret")
    if not (isinstance(client_id, str) and _SECRET.fullmatch(client_id)):
        client_id = ""  # sign-in with GitHub then needs the operator to copy them over
    if not (isinstance(client_secret, str) and _SECRET.fullmatch(client_secret)):
        client_secret = ""
    return AppCredentials(app_id, slug, secret, pem, client_id, client_secret)


def write_credentials_file(path: Path, credentials: AppCredentials) -> None:
    """Create `path` readable by its owner only; an existing file (or a link) is never
    written through: `FileExistsError`."""
    text = (
        "# The GitHub App AgentOps created for itself. Load these into the service's\n"
        "# environment and restart it; then keep this file private or delete it.\n"
        + "\n".join(credentials.env_lines())
        + "\n"
    )
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags, 0o600)
    os.fchmod(fd, 0o600)  # whatever the umask says
    with os.fdopen(fd, "w") as file:
        file.write(text)
