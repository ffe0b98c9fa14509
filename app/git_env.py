"""The environment one `git` run gets: isolated config, and the auth header out of argv.

A `GitRemote` (from a `Forge`) carries a clean URL and an auth header. The header reaches
git only through the environment (`GIT_CONFIG_COUNT` / `GIT_CONFIG_KEY_n` /
`GIT_CONFIG_VALUE_n` setting `http.<url>.extraHeader`), never argv, a URL or a log line.
`header_secrets` lists every form of the header's secret, for redaction.

Git never runs a program that configuration chose. It runs with no system or global
config, no credential helpers, no prompts, no hooks, no fsmonitor, no pager or editor,
no signing, no automatic gc, no attributes file outside the tree, only the http and
https protocols (so no `ext::`, ssh or file transport). Configuration given through the
environment outranks the repository's own `.git/config`; `repository_overrides` turns
the keys a repository's config sets (listed once per git run by app/git.py) into more
such overrides: every filter, diff and merge driver, credential helper and proxy it
defines becomes empty. What cannot be neutralised that way (`include.path`,
`includeIf`, `url.*.insteadOf`, `core.worktree`) is refused (`UnsafeRepositoryConfig`).
Diff commands also get `--no-ext-diff --no-textconv` (app/git.py).

`GitRemote.auth_header` is a whole header line (`Authorization: Basic …`); a bare value
(`Basic …`, `Bearer …`) is taken as the value of `Authorization`.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

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

# Set on every run: harmless values for each key whose value git would execute or that
# would let a repository choose a transport, a hook or background work.
NEUTRAL_CONFIG: tuple[tuple[str, str], ...] = (
    ("credential.helper", ""),  # an empty value also clears the helpers configured so far
    ("core.hooksPath", os.devnull),
    ("core.askPass", "true"),
    ("core.fsmonitor", "false"),
    ("core.sshCommand", "false"),
    ("core.gitProxy", "false"),
    ("core.pager", "cat"),
    ("core.editor", "true"),
    ("sequence.editor", "true"),
    ("core.attributesFile", os.devnull),
    ("core.alternateRefsCommand", ""),
    ("diff.external", ""),
    ("commit.gpgSign", "false"),
    ("tag.gpgSign", "false"),
    ("gpg.program", "false"),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    ("fetch.recurseSubmodules", "false"),
    ("submodule.recurse", "false"),
    ("protocol.allow", "never"),
    ("protocol.http.allow", "always"),
    ("protocol.https.allow", "always"),
    ("http.sslVerify", "true"),
)

# Keys of a repository's config, by pattern, and the value that neutralises each.
_NEUTRALISED = (
    (re.compile(r"^filter\..+\.(clean|smudge|process)$"), ""),
    (re.compile(r"^filter\..+\.required$"), "false"),
    (re.compile(r"^diff\..+\.(command|textconv)$"), ""),
    (re.compile(r"^merge\..+\.driver$"), ""),
    (re.compile(r"^credential\..+\.helper$"), ""),
    (re.compile(r"^gpg\..+\.program$"), "false"),
    (re.compile(r"^(http\.(.+\.)?|remote\..+\.)proxy$"), ""),
    (re.compile(r"^http\..+\.sslverify$"), "true"),
    (re.compile(r"^http\..+\.extraheader$"), ""),
    (re.compile(r"^remote\..+\.(uploadpack|receivepack)$"), "false"),
    (re.compile(r"^pager\..+$"), "false"),
)
_REFUSED = re.compile(
    r"^(include\.path|includeif\..+\.path|url\..+\.(insteadof|pushinsteadof)|core\.worktree)$"
)


class UnsafeRepositoryConfig(ValueError):
    """The repository's config sets a key that could make git run or reach elsewhere."""


def repository_overrides(keys: list[str]) -> list[tuple[str, str]]:
    """Overrides for the keys a repository's own config sets (pure).

    `keys` as `git config --list --name-only` prints them (section and name lower-cased).
    Raises `UnsafeRepositoryConfig` for a key that no override can neutralise.
    """
    overrides: list[tuple[str, str]] = []
    for key in dict.fromkeys(keys):
        lowered = _lower_ends(key)
        if _REFUSED.match(lowered):
            raise UnsafeRepositoryConfig(
                f"the repository's git config sets `{key[:200]}`, which AgentOps never "
                "sets: refusing to run git on it"
            )
        for pattern, value in _NEUTRALISED:
            if pattern.match(lowered):
                overrides.append((key, value))
                break
    return overrides


CONFIG_LISTING = ("config", "--no-includes", "--list", "--name-only", "--show-scope", "-z")


def repository_keys(listing: bytes) -> list[str]:
    """The keys the repository's own config files set, from `CONFIG_LISTING`'s output."""
    fields = listing.decode("utf-8", errors="replace").split("\0")
    pairs = zip(fields[::2], fields[1::2], strict=False)
    return [key for scope, key in pairs if scope in ("local", "worktree")]


def repository_env_sync(root: Path) -> dict[str, str]:
    """`git_env` with the overrides for the repository at `root`, for code that runs git
    synchronously (the code map); `UnsafeRepositoryConfig` as in `repository_overrides`."""
    base = git_env()
    listed = subprocess.run(
        ["git", *CONFIG_LISTING], cwd=root, env=base, capture_output=True, timeout=30, check=False
    )
    if listed.returncode != 0:
        return base
    return git_env(overrides=repository_overrides(repository_keys(listed.stdout)))


def _lower_ends(key: str) -> str:
    """`Section.Sub.Name` with section and name lower-cased, the subsection kept."""
    section, _, rest = key.partition(".")
    middle, _, name = rest.rpartition(".")
    return ".".join(p for p in (section.lower(), middle, name.lower()) if p) if rest else key


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
    remote: GitRemote | None = None,
    base: Mapping[str, str] | None = None,
    overrides: Sequence[tuple[str, str]] = (),
) -> dict[str, str]:
    """The whole environment for one git run: isolated and neutralised config
    (`overrides` from `repository_overrides` included) plus the auth header."""
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
            "GIT_ATTR_NOSYSTEM": "1",
            "GIT_PROTOCOL_FROM_USER": "0",
            "GIT_NO_REPLACE_OBJECTS": "1",
            "GIT_PAGER": "cat",
            "GIT_EDITOR": "true",
        }
    )
    config = [
        *overrides,
        *NEUTRAL_CONFIG,
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
