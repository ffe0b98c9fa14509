"""The refusal when the sandbox cannot start says what to do where the worker runs: on a
host, install bubblewrap; in the image, run the container with the shipped profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.sandbox.probe import probe_sandbox


def _probe_without_bwrap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on it
    status = probe_sandbox.__wrapped__()
    assert not status.available
    return status.detail


def test_in_the_image_it_names_the_container_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AGENTOPS_IN_CONTAINER", "1")
    detail = _probe_without_bwrap(monkeypatch, tmp_path)
    assert "--security-opt seccomp=seccomp-bwrap.json" in detail
    assert "--security-opt systempaths=unconfined" in detail
    assert "procMount: Unmasked" in detail
    assert "system-deps" not in detail and "apt-get" not in detail


def test_on_a_host_it_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AGENTOPS_IN_CONTAINER", raising=False)
    detail = _probe_without_bwrap(monkeypatch, tmp_path)
    assert "apt-get install bubblewrap" in detail and ".ci/system-deps" in detail
    assert "seccomp-bwrap.json" not in detail
