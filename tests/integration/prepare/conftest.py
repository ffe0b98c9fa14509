from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.sandbox.disk import release_sized_scratch


@pytest.fixture(autouse=True)
def _unmount_areas(tmp_path: Path) -> Iterator[None]:
    """The prepare areas are sized tmpfs when root: unmounted before tmp_path goes."""
    yield
    release_sized_scratch(tmp_path)
