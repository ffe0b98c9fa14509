"""Sandbox tests run real `bwrap` (installed by .ci/system-deps). When the sandbox cannot
start on this machine they fail with the probe's reason: a security test that skips is a
boundary nobody checked."""

from __future__ import annotations

import pytest

from app.sandbox import probe_sandbox


@pytest.fixture(autouse=True, scope="session")
def _needs_sandbox() -> None:
    status = probe_sandbox()
    if not status.available:
        pytest.fail(
            f"the test sandbox cannot start here: {status.detail}"
            " (`.ci/system-deps` installs bubblewrap)"
        )
