"""The code map reads a tree through the safe reader: links to host files and folders and
special files are never indexed nor rendered into a model's context."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from app.codemap.index import build_index
from app.codemap.locate import Locator
from app.codemap.render import context_for

CANARY = "hostsecret_codemap_7c1e"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    host = tmp_path / "host"
    host.mkdir()
    (host / "secret.py").write_text(f"def {CANARY}():\n    return 'divide'\n")
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "calc.py").write_text("def divide(a, b):\n    return a / b\n")
    (root / "pkg" / "util.py").write_text("def helper():\n    return divide(1, 2)\n")
    (root / "secret.py").symlink_to(host / "secret.py")
    (root / "vendored").symlink_to(host)
    os.mkfifo(root / "pipe.py")  # a reader that opened it would wait forever
    return root


@pytest.mark.parametrize("git", [False, True])
def test_links_and_fifos_are_not_indexed(tree: Path, git: bool) -> None:
    if git:
        (tree / "pipe.py").unlink()  # git cannot add a FIFO
        for args in (["init", "-q"], ["add", "-A"]):
            subprocess.run(["git", *args], cwd=tree, check=True, capture_output=True)
    index = build_index(tree)
    assert sorted(index.files) == ["calc.py", "pkg/util.py"]
    ranked = Locator(index).locate("divide by zero", k=5)
    assert CANARY not in context_for(index, ranked, budget_tokens=4000).text


def test_a_file_swapped_for_a_link_after_indexing_is_left_out(tree: Path) -> None:
    index = build_index(tree)
    ranked = Locator(index).locate("divide by zero", k=5)
    (tree / "calc.py").unlink()
    (tree / "calc.py").symlink_to(tree.parent / "host" / "secret.py")
    context = context_for(index, ranked, budget_tokens=4000).text
    assert CANARY not in context and "pkg/util.py" in context
