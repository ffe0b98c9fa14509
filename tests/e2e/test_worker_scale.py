"""The scale-out benchmark's core (bench/scale_workers.py) with 2 workers and a few runs:
every run is done once, by one worker, with one plan on its issue."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.worker_scale import measure
from tests.sim.github import GitHubSim
from tests.sim.llm_sim import LLMSimulator

pytestmark = pytest.mark.e2e


def test_two_workers_finish_every_run_once(
    workdir: Path, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gh, gh_url = github
    outcome = measure(2, 6, workdir / "scale", gh, gh_url, llm[1], timeout=20)
    assert len(outcome.runs) == 6
    assert [r.status for r in outcome.runs] == ["succeeded"] * 6
    assert outcome.lost == 0
    assert outcome.duplicates == 0
    assert sorted(outcome.replies.values()) == [1] * 6
    assert all(wait >= 0 for wait in outcome.queue_waits)
