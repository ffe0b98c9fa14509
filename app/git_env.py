"""The environment one `git` run gets: isolated config, and the auth header out of argv.

A `GitRemote` (from a `Forge`) carries a clean URL and an auth header. The header reaches
git only through the environment (`GIT_CONFIG_COUNT` / `GIT_CONFIG_KEY_n` /
`GIT_CONFIG_VALUE_n` setting `http.<url>.extraHeader`), never argv, a URL or a log line.
Git runs with no system or global config, no credential helpers, no prompts and no hooks.
`header_secrets` lists every form of the header's secret, for redaction.

`GitRemote.auth_header` is a whole header line (`Authorization: Basic …`); a bare value
(`Basic …`, `Bearer …`) is taken as the value of `Authorization`.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Mapping

from app.forges.base import GitRemote

_PASSED_ENV = (
    "PATH",
    "HOME",
    "TMPDIR",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "GIT_SSL_CAINFO",
)
_HEADER_LINE = re.compile(r"^[A-Za-z0-9-]+:\s")


def header_line(auth_header: str) -> str:
    """`Authorization: Basic …` from either a full header line or a bare value."""
    header = auth_header.strip()
    if "\n" in header or "\r" in header:
        raise ValueError("an auth header must be one line")
    return header if _HEADER_LINE.match(header) else f"Authorization: {header}"


def header_secrets(auth_header: str) -> list[str]:
    """Every form in which the header's secret could show up in output."""
    if not auth_header:
        return []
    value = header_line(auth_header).split(":", 1)[1].strip()
    found = [value]
    scheme, _, credential = value.partition(" ")
    if credential:
        found.append(credential)
        if scheme.lower() == "basic":
            try:
                user_pass = base64.b64decode(credential, validate=True).decode()
            except ValueError:
                user_pass = ""
            if ":" in user_pass:
                found.extend([user_pass, user_pass.split(":", 1)[1]])
    return [s for s in found if len(s) >= 8]


def git_env(
    remote: GitRemote | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The whole environment for one git run: isolated config plus the auth header."""
    source = os.environ if base is None else base
    env = {k: source[k] for k in _PASSED_ENV if k in source}
    env.update(
        {
            "LC_ALL": "C",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "true",  # answer any prompt with nothing rather than hang
            "SSH_ASKPASS": "true",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GCM_INTERACTIVE": "never",
        }
    )
    config = [
        ("credential.helper", ""),
        ("core.hooksPath", os.devnull),
        ("core.askPass", "true"),
        ("protocol.file.allow", "user"),
        ("advice.detachedHead", "false"),
        ("init.defaultBranch", "main"),
    ]
    if remote is not None and remote.auth_header:
        config.append((f"http.{remote.url}.extraHeader", header_line(remote.auth_header)))
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for index, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env
