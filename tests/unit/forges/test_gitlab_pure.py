"""Pure parts of the GitLab forge: rendering, mapping, error kinds. No I/O."""

from __future__ import annotations

import base64
import time
from email.utils import formatdate

import pytest
from gitlab.exceptions import GitlabHttpError, GitlabParsingError
from pydantic import SecretStr
from unidiff.patch import PatchSet

from app.config import Settings
from app.forges.base import (
    CheckUpdate,
    ForgeAccessError,
    ForgeError,
    ForgeRateLimited,
    ForgeTransientError,
)
from app.forges.gitlab.errors import (
    DEFAULT_RATE_LIMIT_WAIT,
    GitLabAPIError,
    forge_error_from_gitlab,
    retry_after_seconds,
)
from app.forges.gitlab.forge import GitLabForge
from app.forges.gitlab.format import (
    CHECK_MARKER,
    basic_auth_header,
    changed_file,
    clean_url,
    commit_status_state,
    draft_title,
    gitlab_emoji,
    render_check_note,
    render_diff,
    truncate_note,
)
from app.forges.retry import RetryPolicy

TOKEN = "glpat-abcdefghijklmnopqrstuvwxyz"


def test_truncate_note() -> None:
    assert truncate_note("short", 10) == "short"
    cut = truncate_note("x" * 500, 100, note="[cut]")
    assert len(cut) == 100 and cut.endswith("[cut]")


@pytest.mark.parametrize(
    ("github", "gitlab"),
    [
        ("+1", "thumbsup"),
        ("-1", "thumbsdown"),
        ("eyes", "eyes"),
        ("rocket", "rocket"),
        ("hooray", "tada"),
        ("laugh", "laughing"),
        ("confused", "confused"),
    ],
)
def test_emoji_names(github: str, gitlab: str) -> None:
    assert gitlab_emoji(github) == gitlab


@pytest.mark.parametrize(
    ("update", "state"),
    [
        (CheckUpdate("queued", "t", "s"), "pending"),
        (CheckUpdate("in_progress", "t", "s"), "running"),
        (CheckUpdate("completed", "t", "s", conclusion="success"), "success"),
        (CheckUpdate("completed", "t", "s", conclusion="neutral"), "success"),
        (CheckUpdate("completed", "t", "s", conclusion="skipped"), "success"),
        (CheckUpdate("completed", "t", "s", conclusion="failure"), "failed"),
        (CheckUpdate("completed", "t", "s", conclusion="timed_out"), "failed"),
        (CheckUpdate("completed", "t", "s", conclusion="action_required"), "failed"),
        (CheckUpdate("completed", "t", "s", conclusion="cancelled"), "canceled"),
    ],
)
def test_commit_status_state(update: CheckUpdate, state: str) -> None:
    assert commit_status_state(update) == state


def test_render_check_note() -> None:
    body = render_check_note(
        CheckUpdate(
            "completed",
            "Done",
            "All green",
            text="details",
            conclusion="success",
            details_url="https://x.invalid/runs/1",
        )
    )
    assert body.startswith("✅ **AgentOps: Done**")
    assert "All green" in body and "details" in body
    assert "[Details](https://x.invalid/runs/1)" in body and body.endswith(CHECK_MARKER)


def test_draft_title() -> None:
    assert draft_title("Add x", True) == "Draft: Add x"
    assert draft_title("Draft: Add x", True) == "Draft: Add x"
    assert draft_title("Add x", False) == "Add x"


def test_clean_url_and_basic_header() -> None:
    assert clean_url("https://oauth2:secret@gitlab.example.com:8443/g/p.git") == (
        "https://gitlab.example.com:8443/g/p.git"
    )
    header = basic_auth_header(TOKEN)
    name, _, value = header.partition(": ")
    assert name == "Authorization" and value.startswith("Basic ")
    assert base64.b64decode(value.split()[1]).decode() == f"oauth2:{TOKEN}"


CHANGES = [
    {
        "old_path": "a.py",
        "new_path": "a.py",
        "a_mode": "100644",
        "b_mode": "100644",
        "new_file": False,
        "deleted_file": False,
        "renamed_file": False,
        "diff": "@@ -1 +1 @@\n-x = 1\n+x = 2\n",
    },
    {
        "old_path": "new.txt",
        "new_path": "new.txt",
        "a_mode": "0",
        "b_mode": "100644",
        "new_file": True,
        "deleted_file": False,
        "renamed_file": False,
        "diff": "@@ -0,0 +1 @@\n+hello\n",
    },
    {
        "old_path": "gone.txt",
        "new_path": "gone.txt",
        "a_mode": "100644",
        "b_mode": "0",
        "new_file": False,
        "deleted_file": True,
        "renamed_file": False,
        "diff": "@@ -1 +0,0 @@\n-bye\n",
    },
    {
        "old_path": "old/name.py",
        "new_path": "new/name.py",
        "a_mode": "100644",
        "b_mode": "100644",
        "new_file": False,
        "deleted_file": False,
        "renamed_file": True,
        "diff": "",
    },
]


def test_changed_files() -> None:
    files = [changed_file(c) for c in CHANGES]
    assert [(f.path, f.status, f.previous_path) for f in files] == [
        ("a.py", "modified", None),
        ("new.txt", "added", None),
        ("gone.txt", "removed", None),
        ("new/name.py", "renamed", "old/name.py"),
    ]
    assert files[0].patch == CHANGES[0]["diff"] and files[3].patch is None


def test_render_diff_is_a_valid_unified_diff() -> None:
    diff = render_diff(CHANGES)
    patch = PatchSet(diff)
    by_path = {p.path: p for p in patch}
    assert by_path["a.py"].is_modified_file
    assert by_path["new.txt"].is_added_file
    assert by_path["gone.txt"].is_removed_file
    assert "rename from old/name.py\nrename to new/name.py" in diff
    assert render_diff([]) == ""


def test_retry_after_seconds() -> None:
    now = 1_000_000.0
    assert retry_after_seconds({"Retry-After": "30"}, now) == 30
    assert retry_after_seconds({"RateLimit-Reset": str(int(now) + 12)}, now) == 12
    assert retry_after_seconds({"Retry-After": formatdate(now + 10, usegmt=True)}, now) == 10
    assert retry_after_seconds({}, now) == DEFAULT_RATE_LIMIT_WAIT
    assert retry_after_seconds({"Retry-After": "soon"}, time.time()) == DEFAULT_RATE_LIMIT_WAIT


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (500, ForgeTransientError),
        (502, ForgeTransientError),
        (503, ForgeTransientError),
        (401, ForgeAccessError),
        (403, ForgeAccessError),
        (429, ForgeRateLimited),
        (404, GitLabAPIError),
        (400, GitLabAPIError),
        (422, GitLabAPIError),
    ],
)
def test_error_kinds(status: int, kind: type[ForgeError]) -> None:
    exc = GitlabHttpError(f"boom {TOKEN}", response_code=status)
    error = forge_error_from_gitlab(exc, "comment on g/p#1", [TOKEN])
    assert type(error) is kind
    assert TOKEN not in str(error) and "comment on g/p#1" in str(error)
    if isinstance(error, GitLabAPIError):
        assert error.status == status


def test_unparsable_answer_is_transient() -> None:
    error = forge_error_from_gitlab(GitlabParsingError("not json"), "read g/p#1")
    assert isinstance(error, ForgeTransientError)


def test_retry_policy_delays_are_bounded_and_jittered() -> None:
    policy = RetryPolicy(attempts=5, base_delay=1.0, max_delay=3.0)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 3.0), (4, 3.0)]:
        delays = {policy.delay(attempt) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1


def test_forge_needs_url_and_token() -> None:
    with pytest.raises(ForgeError, match="AGENTOPS_GITLAB_URL"):
        GitLabForge(Settings())


def test_forge_repr_and_attributes_hide_the_token() -> None:
    settings = Settings(
        gitlab_url="https://gitlab.example.com/",
        gitlab_token=SecretStr(TOKEN),
        gitlab_webhook_secret=SecretStr("s"),
        gitlab_bot_username="bot",
    )
    forge = GitLabForge(settings)
    assert forge.url == "https://gitlab.example.com"
    assert TOKEN not in repr(forge)
