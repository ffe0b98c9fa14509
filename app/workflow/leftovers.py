"""Run folders a stopped worker left behind, removed when the worker starts.

A run's folder (its checkout, its sized scratch areas: tmpfs, memory) is removed when the
run closes (app/workflow/work.py). A worker killed mid-run leaves it; the run is handed
to another worker, which may be on another machine, or is cancelled, and nothing here
would ever remove it: checkouts pile up on disk and each scratch tmpfs keeps what the
tests wrote in memory. At start, a worker removes the folders under its WORKDIR of runs
that have ended, or that the database does not know; a run still queued or running may
resume here and keeps its folder.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

from app.store import Database
from app.workflow.sandbox_policy import release_scratch

_RUN_FOLDER = re.compile(r"run-([0-9]{1,18})")


async def remove_ended_run_folders(workdir: Path, db: Database) -> int:
    """How many folders were removed."""
    folders = await asyncio.to_thread(_run_folders, workdir)
    if not folders:
        return 0
    async with db.admin() as conn:
        rows = await conn.fetch(
            "SELECT id FROM runs WHERE id = ANY($1) AND status IN ('queued', 'running')",
            list(folders),
        )
    alive = {int(row["id"]) for row in rows}
    removed = 0
    for run_id, folder in sorted(folders.items()):
        if run_id in alive:
            continue
        await release_scratch(folder)  # unmounted first: rmtree would empty a live tmpfs
        await asyncio.to_thread(shutil.rmtree, folder, True)
        removed += 1
    return removed


def _run_folders(workdir: Path) -> dict[int, Path]:
    try:
        entries = list(workdir.iterdir())
    except FileNotFoundError:
        return {}
    found = {}
    for entry in entries:
        match = _RUN_FOLDER.fullmatch(entry.name)
        if match and entry.is_dir() and not entry.is_symlink():
            found[int(match[1])] = entry
    return found
