"""GitLabForge.create_review against the GitLab simulator: one diff discussion per comment
on its line (context lines carry their old line too), one summary note, and a comment
GitLab cannot place listed in the summary."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.forges.base import ReviewComment, Target
from app.forges.gitlab.forge import GitLabForge
from app.forges.markers import unmarked
from tests.integration.forges.test_gitlab_forge import FILES, REPO, make_forge
from tests.sim.gitlab import GitLabSim
from tests.sim.serve import SwitchableApp

BEFORE = "".join(f"line {n}\n" for n in range(1, 31))
AFTER = BEFORE.replace("line 10\n", "line 10\nnew line\n")  # line 11 is new


@pytest.fixture
def sim(server: tuple[SwitchableApp, str], tmp_path: Path) -> GitLabSim:
    switch, base = server
    sim = GitLabSim(tmp_path)
    sim.base_url = base
    switch.current = sim.app
    sim.add_user("alice")
    sim.add_project(REPO, {**FILES, "notes.txt": BEFORE})
    sim.set_access(REPO, "alice", 30)
    sim.push_files(REPO, "feature", {"notes.txt": AFTER, "extra.py": "x = 1\n"})
    sim.add_merge_request(REPO, "feature", title="Add a line", author="alice")
    return sim


@pytest.fixture
async def forge(sim: GitLabSim) -> AsyncIterator[GitLabForge]:
    forge = make_forge(sim)
    yield forge
    await forge.aclose()


MR = Target(REPO, "pull_request", 1)


async def test_each_comment_is_a_diff_discussion_on_its_line(
    sim: GitLabSim, forge: GitLabForge
) -> None:
    head = sim.head_sha(REPO, "feature") or ""
    url = await forge.create_review(
        MR,
        head,
        "Looks fine overall.",
        [
            ReviewComment("notes.txt", 11, "Why this line?"),
            ReviewComment("notes.txt", 8, "A context line."),
            ReviewComment("extra.py", 1, "A new file."),
        ],
    )
    discussions = sim.discussions(REPO, 1)
    positions = [d["notes"][0]["position"] for d in discussions]
    assert [(p["new_path"], p["new_line"], p["old_line"]) for p in positions] == [
        ("notes.txt", 11, None),
        ("notes.txt", 8, 8),
        ("extra.py", 1, None),
    ]
    mr = sim.merge_requests(REPO)[0]
    assert all(p["head_sha"] == head == mr["diff_refs"]["head_sha"] for p in positions)
    assert all(p["base_sha"] == mr["diff_refs"]["base_sha"] for p in positions)
    assert [d["notes"][0]["body"] for d in discussions] == [
        "Why this line?",
        "A context line.",
        "A new file.",
    ]
    assert all(d["notes"][0]["type"] == "DiffNote" for d in discussions)
    summary = sim.notes(REPO, "merge_request", 1)[-1]
    assert unmarked(summary["body"]) == "Looks fine overall."
    assert url.endswith(f"/-/merge_requests/1#note_{summary['id']}")


async def test_a_comment_gitlab_cannot_place_goes_into_the_summary(
    sim: GitLabSim, forge: GitLabForge
) -> None:
    head = sim.head_sha(REPO, "feature") or ""
    await forge.create_review(
        MR,
        head,
        "Summary.",
        [
            ReviewComment("notes.txt", 11, "On the diff."),
            ReviewComment("notes.txt", 25, "Far from any hunk."),
            ReviewComment("README.md", 1, "Not in the diff at all."),
        ],
    )
    assert [d["notes"][0]["position"]["new_line"] for d in sim.discussions(REPO, 1)] == [11]
    summary = sim.notes(REPO, "merge_request", 1)[-1]["body"]
    assert summary.startswith("Summary.\n\n")
    assert "- notes.txt:25: Far from any hunk." in summary
    assert "- README.md:1: Not in the diff at all." in summary
    assert "On the diff." not in summary


async def test_a_review_without_comments_is_one_note(sim: GitLabSim, forge: GitLabForge) -> None:
    await forge.create_review(MR, "", "Nothing to add.", [])
    assert sim.discussions(REPO, 1) == []
    assert [unmarked(n["body"]) for n in sim.notes(REPO, "merge_request", 1)] == ["Nothing to add."]


def test_the_simulator_wants_both_lines_for_a_context_line(sim: GitLabSim) -> None:
    refs = sim.merge_requests(REPO)[0]["diff_refs"]
    url = f"{sim.base_url}/api/v4/projects/{REPO.replace('/', '%2F')}/merge_requests/1/discussions"

    def post(**where: object) -> httpx.Response:
        position = {
            "position_type": "text",
            **refs,
            "new_path": "notes.txt",
            "old_path": "notes.txt",
            **where,
        }
        return httpx.post(
            url, headers={"PRIVATE-TOKEN": sim.bot_token}, json={"body": "b", "position": position}
        )

    assert post(new_line=8).status_code == 400  # context line without its old line
    assert "line_code" in post(new_line=25).json()["message"]
    assert post(new_line=8, old_line=8).status_code == 201
    assert post(new_line=11).status_code == 201
    assert post(new_line=11, head_sha="0" * 40).status_code == 400
    form = httpx.post(
        url,
        headers={"PRIVATE-TOKEN": sim.bot_token},
        data={
            "body": "b",
            "position[position_type]": "text",
            "position[new_path]": "extra.py",
            "position[new_line]": "1",
            **{f"position[{k}]": v for k, v in refs.items()},
        },
    )
    assert form.status_code == 201, form.text
    listed = httpx.get(url, headers={"PRIVATE-TOKEN": sim.bot_token}).json()
    assert len(listed) == 3


async def test_posting_again_repeats_nothing(sim: GitLabSim, forge: GitLabForge) -> None:
    head = sim.head_sha(REPO, "feature") or ""
    comments = [
        ReviewComment("notes.txt", 11, "Why this line?"),
        ReviewComment("extra.py", 1, "A new file."),
    ]
    first = await forge.create_review(MR, head, "Summary of run 7.", comments)
    assert await forge.create_review(MR, head, "Summary of run 7.", comments) == first
    assert len(sim.discussions(REPO, 1)) == 2
    assert len(sim.notes(REPO, "merge_request", 1)) == 3  # two diff notes and the summary


async def test_a_review_cut_short_is_finished_without_repeating_comments(
    sim: GitLabSim, forge: GitLabForge
) -> None:
    head = sim.head_sha(REPO, "feature") or ""
    refs = sim.merge_requests(REPO)[0]["diff_refs"]
    httpx.post(
        f"{sim.base_url}/api/v4/projects/{REPO.replace('/', '%2F')}/merge_requests/1/discussions",
        headers={"PRIVATE-TOKEN": sim.bot_token},
        json={
            "body": "Why this line?",
            "position": {
                "position_type": "text",
                **refs,
                "new_path": "notes.txt",
                "old_path": "notes.txt",
                "new_line": 11,
            },
        },
    ).raise_for_status()
    await forge.create_review(
        MR,
        head,
        "Summary.",
        [  # as if the worker died after one
            ReviewComment("notes.txt", 11, "Why this line?"),
            ReviewComment("extra.py", 1, "A new file."),
        ],
    )
    bodies = [d["notes"][0]["body"] for d in sim.discussions(REPO, 1)]
    assert bodies == ["Why this line?", "A new file."]
    assert unmarked(sim.notes(REPO, "merge_request", 1)[-1]["body"]) == "Summary."


async def test_a_line_comment_applied_before_a_5xx_is_not_posted_again(
    sim: GitLabSim, forge: GitLabForge
) -> None:
    head = sim.head_sha(REPO, "feature") or ""
    sim.fail("POST", r"/discussions$", status=500, applied=True)
    sim.fail("POST", r"/merge_requests/1/notes$", status=503, applied=True)
    await forge.create_review(MR, head, "Summary.", [ReviewComment("notes.txt", 11, "Why?")])
    assert [
        d["notes"][0]["body"] for d in sim.discussions(REPO, 1) if d["notes"][0].get("position")
    ] == ["Why?"]
    assert [
        unmarked(n["body"]) for n in sim.notes(REPO, "merge_request", 1) if not n.get("position")
    ] == ["Summary."]
