"""`agentops serve --workers N`: one directory where every intake process writes its
metrics (`PROMETHEUS_MULTIPROC_DIR`), so that `/metrics`, answered by any one of them,
counts the deliveries of all."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from app.metrics import MULTIPROC_ENV


@contextlib.contextmanager
def shared_metrics_dir() -> Iterator[Path]:
    """`PROMETHEUS_MULTIPROC_DIR` as the operator set it (emptied of an earlier run's
    files), else a new directory removed at the end; set in this process's environment,
    which the intake processes inherit."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):  # counters of processes that are gone
            stale.unlink()
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="agentops-metrics-"))
    os.environ[MULTIPROC_ENV] = str(path)
    try:
        yield path
    finally:
        del os.environ[MULTIPROC_ENV]
        shutil.rmtree(path, ignore_errors=True)
