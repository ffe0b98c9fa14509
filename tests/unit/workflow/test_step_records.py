"""Each step's record is stored as a JSON object and read back as its type, including the
objects earlier versions stored (before the records had types)."""

from __future__ import annotations

from typing import Any

from app.step_records import (
    KINDS,
    Authorized,
    CancelAsked,
    Changed,
    ChangedFileName,
    Cloned,
    CommitMessage,
    ConfigRead,
    Delivered,
    Head,
    Installed,
    IssueText,
    LimitsCapped,
    Located,
    LocatedFile,
    Nothing,
    Planned,
    PullDiff,
    Replied,
    RetryAsked,
    Reviewed,
    ReviewPosted,
    StepRecord,
    UnknownRecord,
    Verified,
    read_record,
)

CHANGED = Changed(
    diff="--- a/x\n+++ b/x\n",
    summary="s",
    tests=["t::a"],
    verification="red -> green",
    turns=4,
    cost_usd=0.5,
    models=["m"],
    test_command="pytest -q",
)
SAMPLES: dict[str, StepRecord] = {
    "verify": Verified(author="alice"),
    "authorize": Authorized(allowed=False, user="mallory", refusal=2, tell=False),
    "acknowledge": Nothing(),
    "prepare": Head(head_sha="a" * 40, ref="main", base="main", head_repo="acme/calc"),
    "check": Nothing(),
    "clone": Cloned(files=4, base_sha="a" * 40),
    "issue": IssueText(title="t", body="b", author="alice", url="u"),
    "config": ConfigRead(config={"test": "pytest"}, source="base", author_can_write=False),
    "limits": LimitsCapped(capped=["max_turns 80 capped at 40"]),
    "install": Installed(installed="npm", cache="hit", hosts=["registry.test:8080"]),
    "locate": Located(
        files=[LocatedFile(path="calc.py", score=0.9, reasons=["named"])],
        tests=[LocatedFile(path="test_calc.py", score=2.0, reasons=["imports calc.py"])],
    ),
    "plan": Planned(plan="1. do it", cost_usd=0.25, model="m"),
    "implement": CHANGED.model_copy(update={"unproven": "needs the network"}),
    "commit-message": CommitMessage(message="fix: x"),
    "deliver": Delivered(branch="agentops/3-x", commit="c", pr_number=9, pr_url="u"),
    "diff": PullDiff(
        title="t", body="b", diff="d", files=[ChangedFileName(path="x", status="added")]
    ),
    "review": Reviewed(answer={"summary": "ok", "comments": []}, cost_usd=0.1, comments=0),
    "post": ReviewPosted(url="u", inline=2, folded=1),
    "write-tests": CHANGED,
    "change": CHANGED,
    "cancel": CancelAsked(cancelled=[4, 5]),
    "retry": RetryAsked(reason="no failed run here"),
}


def test_every_kind_of_step_reads_back_what_it_stored() -> None:
    assert set(SAMPLES) == set(KINDS)  # a new kind of step gets a sample here
    for name, record in SAMPLES.items():
        assert isinstance(record, KINDS[name].record)
        assert read_record(name, record.stored()) == record, name


def test_a_reply_step_reads_back_as_the_comment_it_posted() -> None:
    assert read_record("reply:delivered", {"comment_id": 12}) == Replied(comment_id=12)


def test_the_json_stored_keeps_the_names_it_always_had() -> None:
    installed = Installed(installed="npm", hosts=["registry.test:8080"], downloaded_bytes=10)
    assert installed.stored()["from"] == ["registry.test:8080"]
    # what is absent stays absent (None is not written), as the dicts were stored
    assert "pr_url" not in Delivered(branch="b", commit="c").stored()


def test_rows_of_earlier_versions_read_back_typed() -> None:
    # the `install` step as app/prepare wrote it, a failure note merged by an earlier try
    old = {
        "installed": "pip (requirements.txt)",
        "source": "detected",
        "cache": "not cached",
        "not_cached": "too large",
        "from": ["pypi.test:443"],
        "refused": [],
        "downloaded_bytes": 2048,
        "seconds": 3.5,
        "failure": "an earlier try failed",
    }
    record = read_record("install", old)
    assert isinstance(record, Installed)
    assert (record.hosts, record.downloaded_bytes, record.not_cached) == (
        ["pypi.test:443"],
        2048,
        "too large",
    )
    # a `deliver` of `/agentops fix` (no pull request) and one of `implement`
    assert read_record("deliver", {"commit": "c", "branch": "b"}) == Delivered(
        commit="c", branch="b"
    )
    # an `implement` step recorded before `unproven` existed
    implement = read_record("implement", {"diff": "d", "summary": "s", "cost_usd": 0.1})
    assert isinstance(implement, Changed) and implement.unproven is None
    # a `locate` step recorded before the tests came apart from the files
    located = read_record("locate", {"files": [{"path": "calc.py"}], "indexed": 3})
    assert isinstance(located, Located) and located.tests == []
    assert [f.path for f in located.files] == ["calc.py"]


def test_what_does_not_fit_is_kept_as_it_was() -> None:
    unfit: list[tuple[str, dict[str, Any]]] = [
        ("clone", {"no_files": True}),
        ("telemetry", {"a": [1]}),
    ]
    for name, stored in unfit:
        record = read_record(name, stored)
        assert isinstance(record, UnknownRecord)
        assert record.stored() == stored
