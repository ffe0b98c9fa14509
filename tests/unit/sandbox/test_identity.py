"""Leasing a uid of the pool: exclusive while held, free after, busy uids skipped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.sandbox.identity import NoFreeUid, lease_uid

START = 2_100_000_000


def test_leases_are_exclusive_until_released(tmp_path: Path) -> None:
    first = lease_uid(START, 2, tmp_path)
    second = lease_uid(START, 2, tmp_path)
    assert {first.uid, second.uid} == {START, START + 1}
    with pytest.raises(NoFreeUid, match="all 2 sandbox uids"):
        lease_uid(START, 2, tmp_path)
    first.release()
    third = lease_uid(START, 2, tmp_path)
    assert third.uid == first.uid
    second.release()
    third.release()
    third.release()  # twice is harmless


def test_a_uid_with_running_tasks_is_skipped(tmp_path: Path) -> None:
    with pytest.raises(NoFreeUid):
        lease_uid(os.getuid(), 1, tmp_path)  # this test process runs as it
