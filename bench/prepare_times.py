"""Prepare phase cold vs cached, and red → green proof time, per language.

    .venv/bin/python bench/prepare_times.py [--runs N] [--only python-deps,ts-vitest,...]

For each fixture repository of tests/fixtures/repos (Python with requests and pydantic,
TypeScript with Vitest, JavaScript with Jest, PHP with Composer and PHPUnit, a Go module)
and the feature tests/e2e/features.py adds to it:

- cold: the prepare phase with an empty cache (every package downloaded through the
  egress proxy: PyPI and the npm registry for real, Composer and Go modules from the
  loopback registries of tests/sim/registries.py);
- cached: the same repository again, from the per-tenant cache;
- proof: `prove_red_green` of the feature's new test (two copies, two sandboxed runs).

Each of N runs starts from an empty cache. Prints medians (min–max) per language.
Needs the network to PyPI and the npm registry, bubblewrap, and the toolchains.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.config import Settings, load_settings  # noqa: E402
from app.edits import EditPolicy, apply_edits, parse_edits  # noqa: E402
from app.prepare import Prepared  # noqa: E402
from app.repo_config import RepoConfig, parse_repo_config, read_repo_config  # noqa: E402
from app.sandbox import SandboxPolicy, prove_red_green, resolve_test_command  # noqa: E402
from app.sandbox.disk import release_sized_scratch  # noqa: E402
from app.workflow.dependencies import install_for  # noqa: E402
from app.workflow.sandbox_policy import policy_for_tests  # noqa: E402
from tests.e2e.features import FEATURES, Feature  # noqa: E402
from tests.sim.registries import serve_registries  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "repos"
SKIP = shutil.ignore_patterns("node_modules", "vendor")


@dataclass
class Timing:
    cold: float
    cached: float
    proof: float
    verdict: str
    cache: str  # what the second install said: "hit" when it came from the cache
    downloaded: tuple[int, int]  # bytes through the egress proxy: cold, cached


def _trees(feature: Feature, work: Path) -> tuple[Path, Path]:
    base, changed = work / "base", work / "changed"
    shutil.copytree(FIXTURES / feature.fixture, base, ignore=SKIP)
    shutil.copytree(base, changed)
    result = apply_edits(changed, parse_edits(feature.edits), EditPolicy())
    if result.refusals:
        raise SystemExit(f"{feature.fixture}: the feature's edits do not apply")
    return base, changed


async def _install(
    settings: Settings, root: Path, config: RepoConfig, policy: SandboxPolicy, folder: Path
) -> Prepared:
    prepared = await install_for(
        settings, root, config, policy, folder=folder, tenant="bench", label="bench"
    )
    if prepared.failure is not None:
        raise SystemExit(f"{root}: install failed: {prepared.failure}")
    return prepared


async def once(feature: Feature, settings: Settings, work: Path) -> Timing:
    base, changed = _trees(feature, work)
    config = parse_repo_config(read_repo_config(base))
    policy = await policy_for_tests(settings, config, work / "scratch")
    timings: list[float] = []
    prepared: list[Prepared] = []
    for attempt in ("cold", "cached"):
        started = time.perf_counter()
        prepared.append(await _install(settings, base, config, policy, work / attempt))
        timings.append(time.perf_counter() - started)
    command = resolve_test_command(changed, config.test, config.test_select)
    assert command is not None, feature.fixture
    started = time.perf_counter()
    proof = await prove_red_green(
        base, changed, [feature.test_id], command, policy=prepared[1].apply(policy)
    )
    took = time.perf_counter() - started
    details = [done.detail() for done in prepared]
    for done in prepared:
        done.release()
    downloaded = (
        int(str(details[0]["downloaded_bytes"])),
        int(str(details[1]["downloaded_bytes"])),
    )
    verdict = proof.proofs[0].verdict.value
    return Timing(timings[0], timings[1], took, verdict, str(details[1]["cache"]), downloaded)


def _figure(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} s ({min(values):.2f}–{max(values):.2f})"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default="", help="fixture names, comma-separated")
    args = parser.parse_args()
    chosen = [f for f in FEATURES if not args.only or f.fixture in args.only.split(",")]
    print("language      | cold install          | cached install        | red → green proof")
    with serve_registries() as registries:
        for feature in chosen:
            runs: list[Timing] = []
            for _ in range(args.runs):
                work = Path(tempfile.mkdtemp(prefix=f"bench-prepare-{feature.fixture}-"))
                os.environ.update(registries.env())
                os.environ["AGENTOPS_PREPARE_CACHE_DIR"] = str(work / "cache")
                os.environ["AGENTOPS_WORKDIR"] = str(work / "workdir")
                try:
                    runs.append(await once(feature, load_settings(), work))
                finally:
                    release_sized_scratch(work)
                    shutil.rmtree(work, ignore_errors=True)
            verdicts = sorted({r.verdict for r in runs})
            caches = sorted({r.cache for r in runs})
            cold_kb = statistics.median(r.downloaded[0] for r in runs) / 1024
            cached_kb = statistics.median(r.downloaded[1] for r in runs) / 1024
            print(
                f"{feature.fixture:13} | {_figure([r.cold for r in runs])} | "
                f"{_figure([r.cached for r in runs])} | {_figure([r.proof for r in runs])} "
                f"[{'/'.join(verdicts)}; second install: {'/'.join(caches)}; "
                f"downloaded {cold_kb:,.0f} KiB cold, {cached_kb:,.0f} KiB cached]",
                flush=True,
            )
    print(f"medians (min–max) over {args.runs} runs, each from an empty cache")


if __name__ == "__main__":
    asyncio.run(main())
