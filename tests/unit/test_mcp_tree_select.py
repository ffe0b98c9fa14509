"""Which files of an untrusted commit the web process writes for the code map (pure)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.git_export import TreeEntry, iter_ls_tree_long
from app.mcp.tree_select import (
    TreeRefused,
    parse_ls_tree_long,
    safe_path,
    select_files,
)

OID = "7d4290a117a4ddcc11daae7ea675841033830c8f"


def entry(path: str, mode: str = "100644", size: int | None = 10, kind: str = "blob") -> TreeEntry:
    return TreeEntry(mode, kind, OID, size, path)


def test_the_long_listing_is_read_with_sizes_and_raw_paths() -> None:
    listing = (
        f"100644 blob {OID}       6\tok.py\0"
        f"120000 blob {OID}      11\tleak.py\0"
        f"160000 commit {OID}       -\tvendor/lib\0"
        f"100644 blob {OID}       6\t../evil.py\0"
    )
    assert parse_ls_tree_long(listing) == [
        entry("ok.py", size=6),
        entry("leak.py", "120000", 11),
        entry("vendor/lib", "160000", None, "commit"),
        entry("../evil.py", size=6),
    ]


def test_the_listing_is_read_in_chunks_split_anywhere() -> None:
    listing = f"100644 blob {OID}       6\tok.py\0160000 commit {OID}       -\tvendor/lib\0"
    data = listing.encode()
    for size in (1, 7, 64, len(data)):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        assert list(iter_ls_tree_long(chunks)) == parse_ls_tree_long(listing)


def test_a_bomb_of_names_is_refused_before_the_rest_is_read() -> None:
    read = 0

    def endless() -> Iterator[TreeEntry]:
        nonlocal read
        while True:
            read += 1
            yield entry(f"f{read}.bin")

    with pytest.raises(TreeRefused, match="more than 10 files"):
        select_files(endless(), max_entries=10)
    assert read == 11


@pytest.mark.parametrize(
    "path",
    [
        "../evil.py",
        "a/../../evil.py",
        ".git/hooks/post.py",
        "a/.GIT/x.py",
        "/etc/x.py",
        "a//b.py",
        "./a.py",
        "a\\..\\b.py",
        "a\nb.py",
        "",
    ],
)
def test_paths_out_of_the_folder_or_into_git_are_refused(path: str) -> None:
    assert not safe_path(path)


def test_only_regular_source_files_within_the_size_limit_are_kept() -> None:
    chosen = select_files(
        [
            entry("app/main.py"),
            entry("bin/tool.py", "100755"),  # executable: a regular file too
            entry("leak.py", "120000"),
            entry("vendor/lib", "160000", None, "commit"),
            entry("big.py", size=1_000_001),
            entry("node_modules/x/index.js"),
            entry("README.md"),
            entry("../evil.py"),
            entry(".git/evil.py"),
        ]
    )
    kept = [path for _mode, _oid, path in chosen.blobs]
    assert kept == ["app/main.py", "bin/tool.py"]
    assert not {"leak.py", "big.py", "node_modules/x/index.js", "README.md"} & set(kept)
    assert (chosen.links, chosen.too_large, chosen.bad_paths) == (1, 1, 2)


def test_a_tree_of_too_many_names_or_bytes_is_refused_whole() -> None:
    many = [entry(f"f{n}.py") for n in range(11)]
    with pytest.raises(TreeRefused, match="more than 10 files"):
        select_files(many, max_entries=10)
    heavy = [entry(f"f{n}.py", size=900_000) for n in range(3)]
    with pytest.raises(TreeRefused, match="more than 2 MB"):
        select_files(heavy, max_bytes=2_000_000)
    assert len(select_files(heavy, max_bytes=3_000_000).blobs) == 3
