"""Resident indexes: a known commit is not read again, a new commit reads only its changed
files and ranks as a cold build does, and tenants never share an entry."""

from __future__ import annotations

import gc
import random
import subprocess
import weakref
from pathlib import Path

import pytest

from app.codemap import index as index_module
from app.codemap.cache import BlobCache
from app.codemap.index import build_index
from app.codemap.lexical import LexicalIndex
from app.codemap.locate import Locator
from app.codemap.resident import RepositoryIdentity, ResidentIndexes, TreeSource

SHOP = RepositoryIdentity(tenant_id=1, forge="github", repository="acme/shop")
ISSUES = (
    "Checkout total is wrong with a discount\n\napply_discount in cart pricing rounds twice",
    "Invoice email has no VAT line\n\nrender_invoice never calls vat_for",
    "Stock count goes negative\n\nreserve_stock does not check the warehouse level",
    # quotes a message and an option: the signals that read the files' own text
    "Refund fails\n\nValueError: the warehouse level went below zero\n\nwith --warehouse-level",
)


def _module(name: str, words: list[str]) -> str:
    functions = "\n".join(f"def {w}_{name}(x):\n    return {w}(x)\n" for w in words)
    return f'"""{name}"""\nimport shop.base\n\n{functions}'


FILES = {
    "shop/__init__.py": "",
    "shop/base.py": "def apply(x):\n    return x\n",
    "shop/cart.py": _module("cart", ["apply_discount", "pricing", "total"]),
    "shop/invoice.py": _module("invoice", ["render_invoice", "email"]),
    "shop/vat.py": _module("vat", ["vat_for", "rate"]),
    "shop/stock.py": _module("stock", ["reserve_stock", "warehouse", "level"]),
    "shop/search.py": _module("search", ["query", "index"]),
    "shop/users.py": _module("users", ["login", "email"]),
}


class Repo:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir()
        self._git("init", "-q")

    def _git(self, *args: str) -> str:
        git = ["git", "-C", str(self.path), "-c", "user.name=t", "-c", "user.email=t@e.org"]
        return subprocess.run([*git, *args], check=True, capture_output=True, text=True).stdout

    def commit(self, files: dict[str, str | None]) -> str:
        for path, text in files.items():
            if text is None:
                (self.path / path).unlink()
            else:
                (self.path / path).parent.mkdir(parents=True, exist_ok=True)
                (self.path / path).write_text(text)
        self._git("add", "-A")
        self._git("commit", "-qm", "change")
        return self._git("rev-parse", "HEAD").strip()

    def checkout(self, sha: str, folder: Path) -> Path:
        """A new folder per run, as the worker has."""
        subprocess.run(["git", "clone", "-q", str(self.path), str(folder)], check=True)
        subprocess.run(["git", "-C", str(folder), "checkout", "-q", "--detach", sha], check=True)
        return folder


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the indexer reads from a tree."""
    read: list[str] = []
    original = index_module._read

    def counting(tree: object, path: str, size: int = -1) -> bytes:
        read.append(path)
        return original(tree, path, size)  # type: ignore[arg-type]

    monkeypatch.setattr(index_module, "_read", counting)
    return read


def test_a_known_commit_is_not_indexed_again(tmp_path: Path, reads: list[str]) -> None:
    repo = Repo(tmp_path / "origin")
    sha = repo.commit(dict(FILES))
    indexes = ResidentIndexes(BlobCache(tmp_path / "cache"))
    first = indexes.locator(TreeSource(SHOP, sha), repo.checkout(sha, tmp_path / "run-1"))
    assert reads  # the first index of the commit reads its files
    reads.clear()
    again = indexes.locator(TreeSource(SHOP, sha), repo.checkout(sha, tmp_path / "run-2"))
    assert reads == []
    assert again.index.root == tmp_path / "run-2"  # context is read from this run's folder
    assert [r.path for r in again.locate(ISSUES[0])] == [r.path for r in first.locate(ISSUES[0])]
    assert (indexes.stats.cold, indexes.stats.hits) == (1, 1)
    # a run's folder is indexed once: no snapshot is kept for it (they piled up)
    assert list(Path(indexes.cache.root).glob("*.marshal")) == []


def test_a_new_commit_reads_only_changed_files_and_ranks_as_a_cold_build(
    tmp_path: Path, reads: list[str]
) -> None:
    repo = Repo(tmp_path / "origin")
    old = repo.commit(dict(FILES))
    new = repo.commit(
        {
            "shop/cart.py": _module("cart", ["apply_discount", "rounding", "total"]),
            "shop/returns.py": _module("returns", ["refund", "warehouse", "level"]),
            "shop/search.py": None,
        }
    )
    indexes = ResidentIndexes(BlobCache(tmp_path / "cache"))
    indexes.locator(TreeSource(SHOP, old), repo.checkout(old, tmp_path / "run-1"))
    reads.clear()
    root = repo.checkout(new, tmp_path / "run-2")
    updated = indexes.locator(TreeSource(SHOP, new), root)
    assert sorted(set(reads)) == ["shop/cart.py", "shop/returns.py"]
    assert indexes.stats.updates == 1
    cold = Locator(build_index(root, None))
    assert sorted(updated.index.files) == sorted(cold.index.files)
    for issue in ISSUES:
        assert updated.locate(issue) == cold.locate(issue)


def test_tenants_with_the_same_repository_name_never_share_an_index(tmp_path: Path) -> None:
    ours, theirs = Repo(tmp_path / "ours"), Repo(tmp_path / "theirs")
    sha = ours.commit(dict(FILES))
    their_sha = theirs.commit({"lib/other.py": "def other():\n    pass\n"})
    indexes = ResidentIndexes(BlobCache(tmp_path / "cache"))
    indexes.locator(TreeSource(SHOP, sha), ours.checkout(sha, tmp_path / "run-1"))
    # Another tenant's repository of the same name, even under the same commit id (which
    # cannot happen with git, but a key by name and commit alone would fall for it):
    other = RepositoryIdentity(tenant_id=2, forge="github", repository="acme/shop")
    root = theirs.checkout(their_sha, tmp_path / "run-2")
    found = indexes.locator(TreeSource(other, sha), root)
    assert sorted(found.index.files) == ["lib/other.py"]
    assert (len(indexes), indexes.stats.cold, indexes.stats.hits) == (2, 2, 0)
    gitlab = RepositoryIdentity(tenant_id=1, forge="gitlab", repository="acme/shop")
    assert TreeSource(gitlab, sha) != TreeSource(SHOP, sha)


def test_a_commit_must_be_a_full_sha() -> None:
    for bad in ("HEAD", "abc123", "../../etc", "A" * 40):
        with pytest.raises(ValueError, match="full commit SHA"):
            TreeSource(SHOP, bad)


def test_least_recently_used_indexes_go_first(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "origin")
    shas = [repo.commit({"shop/cart.py": f"def total_{n}():\n    pass\n"}) for n in range(3)]
    indexes = ResidentIndexes(BlobCache(tmp_path / "cache"), max_indexes=2)
    roots = [repo.checkout(sha, tmp_path / f"run-{n}") for n, sha in enumerate(shas)]
    for n in (0, 1, 0, 2):  # 1 is then the least recently used
        indexes.locator(TreeSource(SHOP, shas[n]), roots[n])
    assert (len(indexes), indexes.stats.evicted) == (2, 1)
    indexes.locator(TreeSource(SHOP, shas[0]), roots[0])
    assert indexes.stats.hits == 2  # still known
    indexes.locator(TreeSource(SHOP, shas[1]), roots[1])
    assert indexes.stats.updates == 3  # built again


def test_an_updated_lexical_index_scores_as_a_new_one() -> None:
    rng = random.Random(7)
    words = [f"word{n}" for n in range(60)] + ["getUserName", "user_name", "HTTPServer"]

    def document() -> dict[str, int]:
        return {w: rng.randint(1, 5) for w in rng.sample(words, rng.randint(1, 20))}

    before = {f"pkg/mod{n}.py": document() for n in range(40)}
    after = dict(before)
    changed = {"pkg/mod3.py", "pkg/mod17.py", "pkg/new.py", "pkg/mod30.py"}
    after["pkg/mod3.py"], after["pkg/mod17.py"], after["pkg/new.py"] = document(), {}, document()
    del after["pkg/mod30.py"]
    old = LexicalIndex(before)
    updated = old.updated(after, changed)
    fresh = LexicalIndex(after)
    for query in (["word1"], ["user", "name"], ["mod3", "word7", "word7"], ["new", "http"]):
        assert updated.scores(query) == fresh.scores(query)
        assert old.scores(query) == LexicalIndex(before).scores(query)  # left as it was


class _Cycle:
    """Something held by an index in a reference cycle: only the collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_a_built_index_is_kept_out_of_collections_and_an_evicted_one_is_freed(
    tmp_path: Path,
) -> None:
    repo = Repo(tmp_path / "origin")
    shas = [repo.commit({"shop/cart.py": f"def total_{n}():\n    pass\n"}) for n in range(3)]
    roots = [repo.checkout(sha, tmp_path / f"run-{n}") for n, sha in enumerate(shas)]
    indexes = ResidentIndexes(BlobCache(tmp_path / "cache"), max_indexes=2)
    try:
        first = indexes.locator(TreeSource(SHOP, shas[0]), roots[0])
        # frozen: a full collection no longer walks the index's objects
        young = {id(o) for generation in range(3) for o in gc.get_objects(generation)}
        assert id(first.index.files) not in young and gc.get_freeze_count() > 0
        held = _Cycle()
        first.index.files["held"] = held  # type: ignore[assignment]
        alive = weakref.ref(held)
        del first, held
        indexes.locator(TreeSource(SHOP, shas[1]), roots[1])  # freezes the cycle too
        assert alive() is not None and indexes.stats.evicted == 0
        indexes.locator(TreeSource(SHOP, shas[2]), roots[2])  # evicts the first
        assert indexes.stats.evicted == 1
        assert alive() is None  # thawed and collected, not kept frozen for ever
    finally:
        gc.unfreeze()
