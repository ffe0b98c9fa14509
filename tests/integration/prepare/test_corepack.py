"""pnpm and yarn lockfiles: corepack fetches the pinned package manager and it installs,
both through the egress proxy to the npm registry, in the sandbox; the tests then run
with what was installed. (This machine's registry mirror serves package metadata without
signatures, so corepack's signature check is turned off here by the operator's setting.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.config import Settings
from app.repo_config import RepoConfig
from app.sandbox import run_tests
from app.workflow.dependencies import install_for
from app.workflow.sandbox_policy import policy_for_tests

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "repos"


@pytest.mark.parametrize(
    ("fixture", "tool", "host"),
    [
        ("js-pnpm", "pnpm", "registry.npmjs.org:443"),
        ("js-yarn", "yarn", "registry.yarnpkg.com:443"),
    ],
)
async def test_a_lockfile_of_pnpm_or_yarn_installs_through_the_proxy(
    tmp_path: Path, fixture: str, tool: str, host: str
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(FIXTURES / fixture, repo)
    settings = Settings(
        workdir=tmp_path / "work",
        prepare_cache_dir=tmp_path / "cache",
        prepare_corepack_integrity_keys="0",
    )
    policy = await policy_for_tests(settings, RepoConfig(), tmp_path / "scratch")
    prepared = await install_for(
        settings, repo, RepoConfig(), policy, folder=tmp_path / "run", tenant="t", label="t"
    )
    try:
        assert prepared.failure is None, prepared.failure
        detail = prepared.detail()
        assert f"corepack {tool} install --frozen-lockfile" in str(prepared.plan.steps[0].commands)
        hosts = detail["from"]
        assert isinstance(hosts, list) and host in hosts, detail
        assert detail["refused"] == []
        done = await run_tests(repo, ("npm", "test"), policy=prepared.apply(policy))
        assert done.passed, done.tests.output.text
        assert "ok: is-number from the lockfile" in done.tests.output.text
    finally:
        prepared.release()
