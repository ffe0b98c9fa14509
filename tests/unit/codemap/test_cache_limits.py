"""The code map's cache stays under its cap, least recently used first, and `agentops
index --prune` removes what no folder needs any more."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from app.cli import main
from app.codemap import cache_limits
from app.codemap.cache import BlobCache
from app.codemap.index import build_index


def tree(folder: Path, number: int, files: int = 12) -> Path:
    """A tree whose files no other tree shares."""
    for n in range(files):
        body = "\n".join(f"    value_{number}_{n}_{k} = {k} * {number}" for k in range(60))
        path = folder / f"pkg{number}" / f"mod{n}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"class Thing{number}_{n}:\n    def run(self):\n{body}\n")
    return folder


def on_disk(directory: Path) -> int:
    return sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())


def test_the_cache_stays_under_its_cap_and_keeps_the_recently_used(tmp_path: Path) -> None:
    cap = 300_000
    cache = BlobCache(tmp_path / "cache", max_bytes=cap)
    largest = 0
    for number in range(40):  # a new folder per run, deleted after it, as the worker did
        root = tree(tmp_path / f"run-{number}", number)
        build_index(root, cache).all_words()
        cache.flush()
        largest = max(largest, on_disk(tmp_path / "cache"))
        if number < 39:
            shutil.rmtree(root)
    assert cache.evicted.entries > 0
    assert largest <= cap * 1.02  # checked after each write: the last one may pass it a little
    cache.close()
    again = BlobCache(tmp_path / "cache", max_bytes=cap)
    assert build_index(tree(tmp_path / "again-39", 39), again).stats.parsed == 0
    assert build_index(tree(tmp_path / "again-0", 0), again).stats.parsed == 12  # evicted
    again.close()


def test_without_a_cap_nothing_is_evicted(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "cache")
    for number in range(3):
        build_index(tree(tmp_path / f"run-{number}", number), cache)
    cache.close()
    with closing(sqlite3.connect(cache.database)) as db:
        assert db.execute("SELECT count(*) FROM entry").fetchone()[0] == 36
    assert cache.evicted.entries == 0


def test_prune_removes_the_snapshots_of_deleted_folders_and_old_versions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "cache"
    monkeypatch.setenv("AGENTOPS_CODEMAP_CACHE", str(directory))
    kept, gone = tree(tmp_path / "kept", 1), tree(tmp_path / "gone", 2)
    assert main(["index", str(kept)]) == 0
    assert main(["index", str(gone)]) == 0
    old_version = directory / "v0-old"
    old_version.mkdir()
    (old_version / "blobs1.sqlite3").write_bytes(b"x" * 1000)
    shutil.rmtree(gone)
    root = BlobCache(directory).root
    before = {p.name for p in Path(root).iterdir() if p.name.endswith(".marshal")}
    assert len(before) == 2
    capsys.readouterr()

    assert main(["index", "--prune"]) == 0
    printed = capsys.readouterr().out
    after = {p.name for p in Path(root).iterdir() if p.name.endswith(".marshal")}
    assert len(after) == 1
    (removed,) = before - after
    assert f"removed {root}/{removed}" in printed
    assert f"removed {old_version}" in printed
    assert not old_version.exists()
    assert "MB freed" in printed
    # the kept folder's snapshot still serves it: nothing is read or parsed again
    cache = BlobCache(directory)
    assert build_index(kept, cache).stats.parsed == 0
    cache.close()


def test_prune_takes_no_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["index", "--prune", "somewhere"]) != 0
    assert "--prune takes no PATH" in capsys.readouterr().err
    assert main(["index"]) != 0


def test_snapshots_without_a_recorded_folder_count_as_gone(tmp_path: Path) -> None:
    (tmp_path / "abc.tree.marshal").write_bytes(b"old")
    (tmp_path / "def.tree.marshal").write_bytes(b"new")
    (tmp_path / "def.root").write_text(str(tmp_path))
    removed = cache_limits.prune_snapshots(str(tmp_path))
    assert [Path(path).name for path, _size in removed.files] == ["abc.tree.marshal"]


def test_prune_follows_no_link_planted_in_the_cache(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    keep = directory / "v9"
    keep.mkdir(parents=True)
    outside = tmp_path / "precious"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "data.txt").write_text("must survive")
    (outside / "blobs-old.sqlite3").write_text("must survive too")
    (directory / "v1-planted").symlink_to(outside, target_is_directory=True)
    old = directory / "v0-old"
    old.mkdir()
    (old / "blobs.sqlite3").write_bytes(b"x" * 100)
    (old / "link-out").symlink_to(outside, target_is_directory=True)  # not followed either
    (keep / "blobs-old.sqlite3").symlink_to(outside / "blobs-old.sqlite3")

    removed = cache_limits.prune_other_versions(directory, str(keep), str(keep / "blobs.db"))

    assert (outside / "deep" / "data.txt").read_text() == "must survive"
    assert (outside / "blobs-old.sqlite3").read_text() == "must survive too"
    assert not (directory / "v1-planted").is_symlink() and not old.exists()
    assert dict(removed.files) == {str(directory / "v0-old"): 100, str(directory / "v1-planted"): 0}
    assert (keep / "blobs-old.sqlite3").is_symlink()  # not a file of the cache: left alone


def test_prune_through_a_linked_version_folder_removes_nothing_in_it(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    directory.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".tmp-x").write_text("not the cache's")
    (directory / "v9").symlink_to(elsewhere, target_is_directory=True)
    cache_limits.prune_other_versions(directory, str(directory / "v9"), "db")
    assert (elsewhere / ".tmp-x").exists()
