"""Which keys of a repository's own git config are overridden, and which are refused."""

from __future__ import annotations

import pytest

from app.git import GitError
from app.git_env import NEUTRAL_CONFIG, UnsafeRepositoryConfig, git_env, repository_overrides
from app.git_export import TreeEntry, iter_ls_tree_long, safe_parts


def test_program_running_keys_get_harmless_values() -> None:
    keys = [
        "core.repositoryformatversion",
        "remote.origin.url",
        "filter.evil.clean",
        "filter.Evil.smudge",
        "filter.evil.process",
        "filter.evil.required",
        "diff.evil.textconv",
        "diff.evil.command",
        "merge.evil.driver",
        "credential.https://x.invalid.helper",
        "gpg.ssh.program",
        "http.proxy",
        "http.https://x.invalid/.proxy",
        "remote.origin.proxy",
        "http.https://x.invalid/.extraheader",
        "remote.origin.uploadpack",
    ]
    overrides = dict(repository_overrides(keys))
    assert overrides == {
        "filter.evil.clean": "",
        "filter.Evil.smudge": "",
        "filter.evil.process": "",
        "filter.evil.required": "false",
        "diff.evil.textconv": "",
        "diff.evil.command": "",
        "merge.evil.driver": "",
        "credential.https://x.invalid.helper": "",
        "gpg.ssh.program": "false",
        "http.proxy": "",
        "http.https://x.invalid/.proxy": "",
        "remote.origin.proxy": "",
        "http.https://x.invalid/.extraheader": "",
        "remote.origin.uploadpack": "false",
    }


@pytest.mark.parametrize(
    "key",
    [
        "include.path",
        "includeif.gitdir:/x/.path",
        "url.http://attacker.invalid/.insteadof",
        "url.http://attacker.invalid/.pushinsteadof",
        "core.worktree",
    ],
)
def test_keys_that_cannot_be_neutralised_are_refused(key: str) -> None:
    with pytest.raises(UnsafeRepositoryConfig, match="refusing to run git on it"):
        repository_overrides(["core.bare", key])


def test_every_run_neutralises_programs_and_transports() -> None:
    env = git_env(base={}, overrides=[("filter.x.clean", "")])
    config = [
        (env[f"GIT_CONFIG_KEY_{i}"], env[f"GIT_CONFIG_VALUE_{i}"])
        for i in range(int(env["GIT_CONFIG_COUNT"]))
    ]
    assert config[0] == ("filter.x.clean", "")
    for pair in [
        ("core.fsmonitor", "false"),
        ("core.hooksPath", "/dev/null"),
        ("core.attributesFile", "/dev/null"),
        ("protocol.allow", "never"),
        ("protocol.https.allow", "always"),
        ("commit.gpgSign", "false"),
    ]:
        assert pair in config
    assert ("protocol.file.allow", "user") not in config
    assert set(NEUTRAL_CONFIG) <= set(config)
    assert env["GIT_ATTR_NOSYSTEM"] == "1"


def test_exported_trees_never_leave_the_directory() -> None:
    listing = b"100644 blob aaa 3\ta.py\x00120000 blob bbb 1\tlink\x00160000 commit ccc -\tsub\x00"
    assert list(iter_ls_tree_long([listing[:20], listing[20:]])) == [
        TreeEntry("100644", "blob", "aaa", 3, "a.py"),
        TreeEntry("120000", "blob", "bbb", 1, "link"),
        TreeEntry("160000", "commit", "ccc", None, "sub"),
    ]
    assert safe_parts("src/a.py") == ["src", "a.py"]
    for bad in ("../x", "/etc/passwd", "a/.git/config", "a//b", "./a"):
        with pytest.raises(GitError):
            safe_parts(bad)
