"""The blob cache: a re-index parses only changed blobs; shared blobs are shared work."""

from __future__ import annotations

import gc
import marshal
import os
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

from app.codemap.cache import BlobCache
from app.codemap.discover import SkipRules, git_blob_sha
from app.codemap.extract import extract_symbols
from app.codemap.index import _read, build_index
from app.codemap.symbols import FileWords
from app.repo_files import DirectoryChain
from app.test_paths import is_test_path


def write(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)


FILES = {
    "pkg/__init__.py": "",
    "pkg/models.py": "class Model:\n    def save(self):\n        pass\n",
    "pkg/views.py": "from .models import Model\n\ndef index(request):\n    return Model()\n",
    "web/app.ts": "export function start(): void {}\n",
    "README.md": "# not code\n",
}


def test_blob_sha_is_gits() -> None:
    assert git_blob_sha(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
    assert git_blob_sha(b"hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_reindex_parses_only_changed_blobs(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(root, FILES)
    cache = BlobCache(tmp_path / "cache")
    first = build_index(root, cache)
    assert first.stats.files == 4
    assert first.stats.languages == {"python": 3, "typescript": 1}
    assert first.stats.parsed == 4 and first.stats.cache_hits == 0

    again = build_index(root, cache)
    assert again.stats.parsed == 0 and again.stats.cache_hits == 4
    assert again.files["pkg/models.py"].symbols == first.files["pkg/models.py"].symbols
    # words are read when ranking first asks, then come from the cache
    assert again.words("pkg/views.py").identifiers["Model"] == 2
    cache.flush()  # entries are written in the background
    views_sha = git_blob_sha(FILES["pkg/views.py"].encode())
    assert (views_sha, "words") in stored_keys(cache)
    assert build_index(root, cache).words("pkg/views.py").identifiers["Model"] == 2

    (root / "pkg/models.py").write_text("class Model:\n    def delete(self):\n        pass\n")
    changed = build_index(root, cache)
    assert changed.stats.parsed == 1 and changed.stats.cache_hits == 3
    assert [d.qualname for d in changed.files["pkg/models.py"].symbols.definitions] == [
        "Model",
        "Model.delete",
    ]


def test_two_checkouts_share_cached_blobs(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path / "cache")
    write(tmp_path / "a", FILES)
    write(tmp_path / "b", {**FILES, "pkg/extra.py": "def extra():\n    pass\n"})
    build_index(tmp_path / "a", cache)
    second = build_index(tmp_path / "b", cache)
    assert second.stats.parsed == 1 and second.stats.cache_hits == 4


def test_extractor_version_and_damaged_entries_are_misses(tmp_path: Path) -> None:
    symbols = extract_symbols("python", b"def f():\n    pass\n")
    writer = BlobCache(tmp_path, version="1")
    writer.put_symbols("ab" * 20, "python", symbols)
    writer.flush()
    assert BlobCache(tmp_path, version="1").get_symbols("ab" * 20, "python") is not None
    assert BlobCache(tmp_path, version="2").get_symbols("ab" * 20, "python") is None
    assert BlobCache(tmp_path, version="1").get_symbols("ab" * 20, "typescript") is None
    with closing(sqlite3.connect(writer.database)) as db, db:
        db.execute("UPDATE entry SET data = ?", (marshal.dumps(("python", ((1,),)))[:-3],))
    assert BlobCache(tmp_path, version="1").get_symbols("ab" * 20, "python") is None
    with closing(sqlite3.connect(writer.database)) as db, db:
        db.execute("UPDATE entry SET data = ?", (marshal.dumps(("python", "not a row")),))
    assert BlobCache(tmp_path, version="1").get_symbols("ab" * 20, "python") is None
    again = BlobCache(tmp_path, version="1")  # a damaged entry is written again
    again.put_symbols("ab" * 20, "python", symbols)
    again.flush()
    assert BlobCache(tmp_path, version="1").get_symbols("ab" * 20, "python") == symbols


def test_damaged_database_reads_as_misses_and_is_set_aside(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(root, FILES)
    cache = BlobCache(tmp_path / "cache")
    build_index(root, cache)
    cache.close()
    Path(cache.database).write_bytes(b"not a database, " * 1000)
    damaged = BlobCache(tmp_path / "cache")
    other = tmp_path / "other"  # no snapshot of this tree: every file is looked up
    write(other, FILES)
    index = build_index(other, damaged)
    assert index.stats.parsed == 4 and index.stats.failed == []
    damaged.flush()  # the damaged file was moved aside and the entries written anew
    assert Path(cache.database + ".damaged").exists()
    third = tmp_path / "third"
    write(third, FILES)
    assert build_index(third, BlobCache(tmp_path / "cache")).stats.parsed == 0


def test_caches_of_two_processes_share_one_database(tmp_path: Path) -> None:
    one, two = BlobCache(tmp_path), BlobCache(tmp_path)  # e.g. two workers' caches
    symbols = extract_symbols("python", b"class A:\n    pass\n")
    one.put_symbols("ab" * 20, "python", symbols)
    two.put_words("cd" * 20, FileWords({"A": 1}))
    one.flush()
    two.flush()
    assert two.get_symbols("ab" * 20, "python") == symbols
    assert one.get_words("cd" * 20) == FileWords({"A": 1})
    assert stored_keys(one) == {("ab" * 20, "python"), ("cd" * 20, "words")}


def stored_keys(cache: BlobCache) -> set[tuple[str, str]]:
    with closing(sqlite3.connect(cache.database)) as db:
        return set(db.execute("SELECT blob, kind FROM entry"))


def test_git_checkout_uses_index_shas_and_sees_work_tree_changes(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(root, FILES)
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    cache = BlobCache(tmp_path / "cache")
    first = build_index(root, cache)
    expected = git_blob_sha(FILES["pkg/models.py"].encode())
    assert first.files["pkg/models.py"].blob_sha == expected
    assert first.stats.bytes_read == sum(
        len(v) for k, v in FILES.items() if k.endswith((".py", ".ts"))
    )

    (root / "pkg/views.py").write_text("def index(request):\n    return None\n")
    write(root, {"pkg/new.py": "class New:\n    pass\n"})
    second = build_index(root, cache)
    assert second.stats.parsed == 2  # the modified file and the untracked one
    assert second.stats.bytes_read == len("def index(request):\n    return None\n") + len(
        "class New:\n    pass\n"
    )
    assert "New" in {d.name for d in second.files["pkg/new.py"].symbols.definitions}


def test_vendored_large_minified_and_broken_files(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "node_modules/lib/index.js": "function x() {}\n",
            "static/vendor/jquery.js": "function y() {}\n",
            "static/app.min.js": "function z() {}\n",
            "static/bundle.js": "var a=1;" * 2000,
            "big.py": "x = 1\n" * 6000,
            "broken.py": "def broken(:\n",
            "ok.py": "def ok():\n    pass\n",
            "tests/test_ok.py": "def test_ok():\n    pass\n",
        },
    )
    index = build_index(tmp_path, None, SkipRules(max_bytes=30_000))
    assert sorted(index.files) == ["broken.py", "ok.py", "tests/test_ok.py"]
    assert index.stats.skipped_by_content == {"minified": 1}
    no_tests = build_index(tmp_path, None, SkipRules(skip_tests=True))
    assert "tests/test_ok.py" not in no_tests.files


def test_test_paths() -> None:
    for path in (
        "tests/test_views.py",
        "testing/python/raises.py",
        "src/app.test.ts",
        "pkg/conftest.py",
        "foo_test.go",
        "test/unit/parser.js",
        "spec/models/user_spec.rb",
    ):
        assert is_test_path(path), path
    for path in (
        "src/_pytest/pytester.py",
        "django/test/utils.py",
        "app/contest.py",
        "lib/testimony.rb",
    ):
        assert not is_test_path(path), path


def test_reindex_of_the_same_tree_reads_only_files_whose_stat_changed(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(root, FILES)
    an_hour_ago = time.time_ns() - 3_600_000_000_000
    for path in root.rglob("*.*"):
        os.utime(path, ns=(an_hour_ago, an_hour_ago))
    cache = BlobCache(tmp_path / "cache")
    build_index(root, cache)
    again = build_index(root, cache)
    assert (again.stats.bytes_read, again.stats.parsed, again.stats.cache_hits) == (0, 0, 4)

    (root / "pkg/models.py").write_text("class Model:\n    def delete(self):\n        pass\n")
    os.utime(root / "pkg/models.py", ns=(an_hour_ago + 1, an_hour_ago + 1))
    changed = build_index(root, cache)
    assert changed.stats.parsed == 1
    assert changed.stats.bytes_read == len("class Model:\n    def delete(self):\n        pass\n")
    assert "Model.delete" in {
        d.qualname for d in changed.files["pkg/models.py"].symbols.definitions
    }


def test_a_file_changed_right_after_indexing_is_not_trusted_by_its_stat(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(root, FILES)
    cache = BlobCache(tmp_path / "cache")
    build_index(root, cache)
    # same size, and on a coarse clock possibly the same mtime: the content must be read
    (root / "pkg/models.py").write_text(FILES["pkg/models.py"].replace("save", "load"))
    again = build_index(root, cache)
    assert "Model.load" in {d.qualname for d in again.files["pkg/models.py"].symbols.definitions}


def _age(root: Path, seconds: int = 60) -> None:
    """Move every file's mtime back, out of the snapshot's racy window."""
    old = time.time() - seconds
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (old, old))


def test_tree_snapshot_skips_unchanged_files_and_reparses_a_changed_one(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(root, FILES)
    _age(root)
    cache = BlobCache(tmp_path / "cache")
    first = build_index(root, cache)
    cache.flush()
    again = build_index(root, BlobCache(tmp_path / "cache"))
    assert again.stats.bytes_read == 0 and again.stats.parsed == 0  # nothing read or hashed
    assert {p: f.symbols for p, f in again.files.items()} == {
        p: f.symbols for p, f in first.files.items()
    }
    changed = "class Model:\n    def delete(self):\n        pass\n"
    (root / "pkg/models.py").write_text(changed)
    old = time.time() - 30  # a new mtime, still out of the racy window
    os.utime(root / "pkg/models.py", (old, old))
    cache = BlobCache(tmp_path / "cache")
    after = build_index(root, cache)
    assert after.stats.parsed == 1 and after.stats.bytes_read == len(changed)
    assert [d.qualname for d in after.files["pkg/models.py"].symbols.definitions] == [
        "Model",
        "Model.delete",
    ]
    assert after.files["pkg/views.py"].symbols == first.files["pkg/views.py"].symbols


def test_damaged_tree_snapshot_reads_as_empty(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    write(root, FILES)
    _age(root)
    cache = BlobCache(tmp_path / "cache")
    build_index(root, cache)
    cache.flush()
    snapshot = next((tmp_path / "cache").rglob("*.tree.marshal"))
    snapshot.write_bytes(snapshot.read_bytes()[:100])
    again = build_index(root, cache := BlobCache(tmp_path / "cache"))
    assert again.stats.files == 4 and again.stats.parsed == 0  # from the blob entries
    assert again.stats.bytes_read > 0
    cache.flush()  # its new snapshot is written
    # a snapshot of the previous layout (symbols as nested tuples) reads as empty too
    old_row = ("pkg/models.py", 1, 1, "ab" * 20, "python", (), (), 3, None, False)
    snapshot.write_bytes(marshal.dumps((1, time.time_ns(), [old_row])))
    assert BlobCache(tmp_path / "cache").load_tree(root).files == {}


def test_deferred_entries_are_readable_at_once_and_written_when_the_block_ends(
    tmp_path: Path,
) -> None:
    symbols = extract_symbols("python", b"def f():\n    pass\n")
    cache = BlobCache(tmp_path)
    with cache.deferred_writes():
        cache.put_symbols("cd" * 20, "python", symbols)
        assert cache.get_symbols("cd" * 20, "python") == symbols
        assert not Path(cache.database).exists()
    cache.flush()
    assert BlobCache(tmp_path).get_symbols("cd" * 20, "python") == symbols


def test_few_changes_are_saved_beside_the_snapshot_and_read_back_with_it(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    many = {f"pkg/m{i}.py": f"def f{i}():\n    pass\n" for i in range(20)}
    write(root, many)
    _age(root)
    build_index(root, cache := BlobCache(tmp_path / "cache"))
    cache.flush()
    (root / "pkg/m1.py").write_text("def changed():\n    pass\n")
    (root / "pkg/m2.py").unlink()
    old = time.time() - 30
    os.utime(root / "pkg/m1.py", (old, old))
    build_index(root, cache := BlobCache(tmp_path / "cache"))
    cache.flush()
    assert len(list((tmp_path / "cache").rglob("*.tree-delta.marshal"))) == 1
    again = build_index(root, BlobCache(tmp_path / "cache"))
    assert again.stats.parsed == 0 and again.stats.bytes_read == 0
    assert "pkg/m2.py" not in again.files and len(again.files) == 19
    assert [d.name for d in again.files["pkg/m1.py"].symbols.definitions] == ["changed"]
    assert [d.name for d in again.files["pkg/m3.py"].symbols.definitions] == ["f3"]


def test_indexing_leaves_the_garbage_collector_as_it_found_it(tmp_path: Path) -> None:
    write(tmp_path, FILES)
    assert gc.isenabled()
    build_index(tmp_path, BlobCache(tmp_path / "cache"))
    assert gc.isenabled()
    gc.disable()
    try:
        build_index(tmp_path, None)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_file_is_read_whole_whatever_size_discovery_saw(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_bytes(b"x = 1\n" * 20_000)
    (tmp_path / "empty.py").write_bytes(b"")
    with DirectoryChain(tmp_path) as tree:
        for size in (-1, 0, 10, 120_000, 500_000):
            assert _read(tree, "a.py", size) == b"x = 1\n" * 20_000
        assert _read(tree, "empty.py", 0) == _read(tree, "empty.py", 5) == b""
