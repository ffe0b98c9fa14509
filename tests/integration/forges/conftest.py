"""One loopback server per test module; each test plugs its own simulator into it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sim.serve import SwitchableApp, serve_app


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[SwitchableApp, str]]:
    switch = SwitchableApp()
    with serve_app(switch) as base:
        yield switch, base
