"""A worker starting removes the run folders a stopped worker left, of runs that ended or
that the database does not know, their scratch tmpfs unmounted first; a run that may
resume keeps its folder (app/workflow/leftovers.py)."""

from __future__ import annotations

import os
from pathlib import Path

from app.sandbox.disk import ensure_sized_scratch, release_sized_scratch
from app.store import Database
from app.workflow.leftovers import remove_ended_run_folders
from app.workflow.workspace import run_folder
from tests.integration.test_store import new_tenant, record, request


async def test_folders_of_ended_and_unknown_runs_go_and_the_others_stay(
    db: Database, tmp_path: Path
) -> None:
    tenant = await new_tenant(db)
    ended, running, queued = [(await record(db, tenant, request())).run_id for _ in range(3)]
    async with db.admin() as conn:
        await conn.execute("UPDATE runs SET status = 'succeeded' WHERE id = $1", ended)
        await conn.execute("UPDATE runs SET status = 'running' WHERE id = $1", running)
    unknown = queued + 1_000_000
    workdir = tmp_path / "runs"
    for run_id in (ended, running, queued, unknown):
        (run_folder(workdir, run_id) / "repo").mkdir(parents=True)
        (run_folder(workdir, run_id) / "repo" / "calc.py").write_text("x = 1\n")
    scratch = run_folder(workdir, ended) / "scratch"
    sized = ensure_sized_scratch(scratch, 4 * 1024 * 1024)  # a tmpfs when the test is root
    (scratch / "big.bin").write_bytes(b"\0" * 1024)
    (workdir / "not-a-run").mkdir()
    (workdir / "run-7x").mkdir()
    try:
        assert await remove_ended_run_folders(workdir, db) == 2
        left = sorted(p.name for p in workdir.iterdir())
        assert left == sorted(["not-a-run", "run-7x", f"run-{running}", f"run-{queued}"])
        assert (run_folder(workdir, running) / "repo" / "calc.py").exists()
        assert not os.path.ismount(scratch) and not scratch.exists()
        assert sized == (os.geteuid() == 0)
        assert await remove_ended_run_folders(workdir, db) == 0  # nothing more to do
    finally:
        release_sized_scratch(tmp_path)


async def test_a_missing_workdir_is_nothing_to_do(db: Database, tmp_path: Path) -> None:
    assert await remove_ended_run_folders(tmp_path / "absent", db) == 0
