"""Sandbox tests run real `bwrap` (installed by .ci/system-deps); they skip with the
probe's reason when the sandbox cannot start on this machine."""

from __future__ import annotations

import pytest

from app.sandbox import probe_sandbox


@pytest.fixture(autouse=True, scope="session")
def _needs_sandbox() -> None:
    status = probe_sandbox()
    if not status.available:
        pytest.skip(status.detail)
