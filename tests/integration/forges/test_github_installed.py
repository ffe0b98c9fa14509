"""`installed_repository` (the App's installation on a repository no webhook has named
yet) against the GitHub simulator: GitHub's spelling and ids, a 404 told apart from a
suspension and from GitHub failing, and no call at all for a name that is not
`owner/name`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.forges.base import ForgeAccessError, ForgeTransientError
from app.forges.github.auth import GitHubApp
from app.forges.github.installed import (
    AppNotInstalled,
    github_full_name,
    installed_repository,
)
from tests.integration.forges.test_github_forge import FAST, make_sim
from tests.sim.github import GitHubSim

REPO = "Globex/Widgets"


@pytest.fixture
def sim(tmp_path: Path) -> GitHubSim:
    sim = make_sim(tmp_path)
    sim.add_repo(
        REPO, {"README.md": "hi\n"}, installation_id=sim.add_installation(account="Globex")
    )
    return sim


@pytest.fixture
async def gh(sim: GitHubSim, base_url: str) -> AsyncIterator[GitHubApp]:
    app = GitHubApp(sim.app_id, sim.private_key_pem, api_url=base_url, retry=FAST)
    yield app
    await app.aclose()


async def test_the_installation_and_the_repository_as_github_names_them(
    gh: GitHubApp, sim: GitHubSim
) -> None:
    found = await installed_repository(gh, "globex/widgets")
    assert found.installation_id == sim.installation_id(REPO) != sim.installation_id("acme/app")
    assert (found.repo, found.account, found.repo_id) == (REPO, "Globex", sim._repo(REPO).id)


async def test_not_installed_suspended_or_unreachable(gh: GitHubApp, sim: GitHubSim) -> None:
    with pytest.raises(AppNotInstalled, match="not installed on globex/nowhere"):
        await installed_repository(gh, "globex/nowhere")
    sim.suspend(sim.installation_id(REPO))
    with pytest.raises(ForgeAccessError, match="suspended") as suspended:
        await installed_repository(gh, REPO)
    assert not isinstance(suspended.value, AppNotInstalled)
    sim.suspend(sim.installation_id(REPO), False)
    sim.fail_next(r"GET /repos/Globex/Widgets/installation", "503", count=3)
    with pytest.raises(ForgeTransientError, match="HTTP 503"):
        await installed_repository(gh, REPO)
    assert (await installed_repository(gh, REPO)).repo == REPO  # once GitHub answers again


@pytest.mark.parametrize(
    "name",
    ["globex", "a/b/c", "globex/..", "globex/.", "../x", "globex/%2e%2e", "globex/a?b",
     "globex/a#b", "-globex/a", "glo.bex/a", "globex/" + "w" * 101, "globex/a\n", "ｇlobex/a"],
)  # fmt: skip
async def test_a_name_that_is_not_owner_slash_name_is_never_sent(
    gh: GitHubApp, sim: GitHubSim, name: str
) -> None:
    assert github_full_name(name) is None
    with pytest.raises(ValueError, match="not a GitHub full name"):
        await installed_repository(gh, name)
    assert sim.requests == []
