"""One loopback server per test module; each test plugs its own simulator into it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.sim.serve import SwitchableApp, serve_app


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[SwitchableApp, str]]:
    switch = SwitchableApp()
    with serve_app(switch) as base:
        yield switch, base


@pytest.fixture
def base_url(sim: Any, server: tuple[SwitchableApp, str]) -> str:
    """The module's server now answers as this test's `sim` (a GitHub simulator)."""
    switch, base = server
    switch.current = sim.app
    return base
