"""`agentops doctor`'s forge checks against the simulators."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from app.config import Settings
from app.forges.doctor import check_forges
from tests.sim.github import GitHubSim, generate_app_key
from tests.sim.gitlab import GitLabSim
from tests.sim.serve import serve_app


async def test_both_forges_answer(tmp_path: Path) -> None:
    gh = GitHubSim(tmp_path / "gh")
    gl = GitLabSim(tmp_path / "gl")
    gl.add_project("team/app", {"a.py": "x = 1\n"})  # the bot is Maintainer
    gl.add_hook("team/app", "https://agentops.example/webhooks/gitlab", "token")
    gl.add_project("team/other", {"a.py": "x = 1\n"}, bot_access=30)
    gl.add_hook("team/other", "https://agentops.example/webhooks/gitlab", "token")
    with serve_app(gh.app) as gh_url, gl.serve() as gl_url:
        settings = Settings(
            public_url="https://agentops.example",
            github_app_id=gh.app_id,
            github_private_key=SecretStr(gh.private_key_pem),
            github_webhook_secret=SecretStr("s"),
            github_api_url=gh_url,
            gitlab_url=gl_url,
            gitlab_token=SecretStr(gl.bot_token),
            gitlab_webhook_secret=SecretStr("s"),
            gitlab_bot_username="agentops-bot",
        )
        results = await check_forges(settings)
        elsewhere = await check_forges(settings.model_copy(update={"public_url": "https://x"}))
    assert [(name, ok) for name, ok, _ in results] == [("github", True), ("gitlab", True)]
    assert "authenticated as App 'agentops'" in results[0][2]
    assert results[1][2].endswith(
        "authenticated as @agentops-bot; resends the lost deliveries of 1 project hook to "
        "https://agentops.example/webhooks/gitlab"
    )
    assert elsewhere[1][2].endswith(
        "no project hook to https://x/webhooks/gitlab where @agentops-bot is Maintainer: "
        "deliveries lost while AgentOps is down are resent by hand"
    )


async def test_wrong_credentials_are_named(tmp_path: Path) -> None:
    gh = GitHubSim(tmp_path / "gh")
    gl = GitLabSim(tmp_path / "gl")
    other_key, _ = generate_app_key()
    with serve_app(gh.app) as gh_url, gl.serve() as gl_url:
        settings = Settings(
            github_app_id=gh.app_id,
            github_private_key=SecretStr(other_key),
            github_webhook_secret=SecretStr("s"),
            github_api_url=gh_url,
            gitlab_url=gl_url,
            gitlab_token=SecretStr("glpat-wrongwrongwrongwrong"),
            gitlab_webhook_secret=SecretStr("s"),
        )
        results = await check_forges(settings)
    assert [(name, ok) for name, ok, _ in results] == [("github", False), ("gitlab", False)]
    assert "glpat-wrong" not in " ".join(message for _, _, message in results)


async def test_no_forge_configured_is_one_line() -> None:
    results = await check_forges(Settings())
    assert len(results) == 1 and results[0][1] is None  # informational, not a failure
    assert "no forge configured" in results[0][2]
