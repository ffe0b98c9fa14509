"""GitHubForge.create_review against the GitHub simulator: line comments land on the lines
of the diff, and a line GitHub cannot place sends every comment into the review's body."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.forges.base import ForgeError, ReviewComment, Target
from app.forges.github.auth import GitHubApp
from app.forges.github.forge import GitHubForge
from tests.integration.forges.test_github_forge import FAST, REPO, make_sim
from tests.sim.github import GitHubSim
from tests.sim.serve import SwitchableApp

BEFORE = "".join(f"line {n}\n" for n in range(1, 31))
AFTER = BEFORE.replace("line 10\n", "line 10\nnew line\n")  # line 11 is new


@pytest.fixture
def sim(tmp_path: Path, server: tuple[SwitchableApp, str]) -> GitHubSim:
    sim = make_sim(tmp_path)
    sim.push_branch(REPO, "main", {"notes.txt": BEFORE}, message="notes")
    sim.push_branch(REPO, "feature", {"notes.txt": AFTER, "extra.py": "x = 1\n"})
    switch, base = server
    switch.current = sim.app
    sim.base_url = base
    return sim


@pytest.fixture
async def forge(sim: GitHubSim, server: tuple[SwitchableApp, str]) -> AsyncIterator[GitHubForge]:
    app = GitHubApp(sim.app_id, sim.private_key_pem, api_url=server[1], retry=FAST)
    yield app.forge(sim.installation_id(REPO))
    await app.aclose()


def pull(sim: GitHubSim) -> tuple[Target, str]:
    number = sim.add_pull(REPO, "feature", title="Add a line")
    return Target(REPO, "pull_request", number), sim.branch_sha(REPO, "feature") or ""


async def test_a_review_puts_each_comment_on_its_line(sim: GitHubSim, forge: GitHubForge) -> None:
    target, head = pull(sim)
    url = await forge.create_review(
        target,
        head,
        "Looks fine overall.",
        [
            ReviewComment("notes.txt", 11, "Why this line?"),
            ReviewComment("notes.txt", 8, "Context lines may carry comments too."),
            ReviewComment("extra.py", 1, "A new file."),
        ],
    )
    [review] = sim.reviews(REPO, target.number)
    assert url.endswith(f"/pull/{target.number}#pullrequestreview-{review['id']}")
    assert review["state"] == "COMMENTED" and review["commit_id"] == head
    assert review["body"] == "Looks fine overall."
    assert [(c["path"], c["line"], c["side"], c["body"]) for c in review["comments"]] == [
        ("notes.txt", 11, "RIGHT", "Why this line?"),
        ("notes.txt", 8, "RIGHT", "Context lines may carry comments too."),
        ("extra.py", 1, "RIGHT", "A new file."),
    ]


async def test_a_review_without_comments_is_its_summary(sim: GitHubSim, forge: GitHubForge) -> None:
    target, head = pull(sim)
    await forge.create_review(target, head, "Nothing to add.", [])
    [review] = sim.reviews(REPO, target.number)
    assert review["body"] == "Nothing to add." and review["comments"] == []


async def test_a_line_github_cannot_place_folds_the_comments_into_the_body(
    sim: GitHubSim, forge: GitHubForge
) -> None:
    target, head = pull(sim)
    await forge.create_review(
        target,
        head,
        "Summary.",
        [
            ReviewComment("notes.txt", 11, "On the diff."),
            ReviewComment("notes.txt", 25, "Far from any hunk."),
        ],
    )
    [review] = sim.reviews(REPO, target.number)  # the refused first try stored nothing
    assert review["comments"] == []
    assert review["body"].startswith("Summary.\n\n")
    assert "- notes.txt:11: On the diff." in review["body"]
    assert "- notes.txt:25: Far from any hunk." in review["body"]
    posts = [r.status for r in sim.requests if r.method == "POST" and r.path.endswith("/reviews")]
    assert posts == [422, 200]


async def test_the_review_of_a_missing_pull_request_is_an_error(
    sim: GitHubSim, forge: GitHubForge
) -> None:
    with pytest.raises(ForgeError, match="404"):
        await forge.create_review(Target(REPO, "pull_request", 99), "0" * 40, "x", [])


def test_the_simulator_answers_422_for_a_line_outside_the_hunks(
    sim: GitHubSim, server: tuple[SwitchableApp, str]
) -> None:
    target, head = pull(sim)
    token = sim._issue_token(sim.installation_id(REPO))["token"]
    url = f"{server[1]}/repos/{REPO}/pulls/{target.number}/reviews"
    headers = {"Authorization": f"token {token}"}

    def post(**comment: object) -> httpx.Response:
        return httpx.post(
            url,
            headers=headers,
            json={
                "event": "COMMENT",
                "commit_id": head,
                "body": "b",
                "comments": [{"body": "c", **comment}],
            },
        )

    refused = post(path="notes.txt", line=25, side="RIGHT")
    assert refused.status_code == 422
    assert refused.json()["errors"] == ["Line could not be resolved"]
    assert post(path="nope.txt", line=1).json()["errors"] == ["Path could not be resolved"]
    assert post(path="notes.txt", line=10, side="LEFT").status_code == 200
    listed = httpx.get(url.replace("/reviews", "/comments"), headers=headers).json()
    assert [(c["path"], c["line"], c["side"]) for c in listed] == [("notes.txt", 10, "LEFT")]
    assert len(sim.reviews(REPO, target.number)) == 1


async def test_posting_the_same_review_again_returns_the_first(
    sim: GitHubSim, forge: GitHubForge
) -> None:
    target, head = pull(sim)
    comments = [ReviewComment("notes.txt", 11, "Why this line?")]
    first = await forge.create_review(target, head, "Summary of run 7.", comments)
    again = await forge.create_review(target, head, "Summary of run 7.", comments)
    assert again == first
    assert len(sim.reviews(REPO, target.number)) == 1
    await forge.create_review(target, head, "Summary of run 8.", comments)
    assert len(sim.reviews(REPO, target.number)) == 2


async def test_a_review_applied_before_a_5xx_is_not_posted_again(
    sim: GitHubSim, forge: GitHubForge
) -> None:
    target, head = pull(sim)
    sim.fail_next(r"^POST /repos/acme/app/pulls/\d+/reviews$", "502", applied=True)
    url = await forge.create_review(
        target, head, "Looks fine.", [ReviewComment("notes.txt", 11, "Why?")]
    )
    [review] = sim.reviews(REPO, target.number)
    assert url.endswith(f"#pullrequestreview-{review['id']}")
    assert len([r for r in sim.requests if r.method == "POST" and r.path.endswith("/reviews")]) == 1
