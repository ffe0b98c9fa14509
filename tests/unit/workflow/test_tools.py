"""The model's tools on a real checkout (a temporary folder), without a model."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

from app.edits import EditPolicy
from app.workflow.analysis import analyse
from app.workflow.tools import Toolbox

CALC = (
    "class Calc:\n    def add(self, a, b):\n        return a + b\n\n\ndef divide(a, b):\n"
    "    return a / b\n"
)


async def _no_tests(test_ids: Sequence[str]) -> tuple[bool, str]:
    return True, "1 passed"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "calc.py").write_text(CALC)
    (root / "pkg" / "util.py").write_text("def helper():\n    return divide(1, 2)\n")
    return root


def _toolbox(repo: Path, tmp_path: Path) -> Toolbox:
    found = analyse(repo, "divide by zero", tmp_path / "cache")
    return Toolbox(repo, EditPolicy(), _no_tests, find_symbols=found.find_symbols)


async def test_find_symbol_names_where_it_is_defined(repo: Path, tmp_path: Path) -> None:
    tools = _toolbox(repo, tmp_path / "c")
    found = await tools.call("find_symbol", {"name": "divide"})
    assert found.text == "calc.py:6: function def divide(a, b)"
    method = await tools.call("find_symbol", {"name": "Calc.add"})
    assert method.text.startswith("calc.py:2: method def add(self, a, b)")
    missing = await tools.call("find_symbol", {"name": "multiply"})
    assert "no definition named 'multiply'" in missing.text


async def test_read_search_and_list(repo: Path, tmp_path: Path) -> None:
    tools = _toolbox(repo, tmp_path / "c")
    read = await tools.call("read_file", {"path": "calc.py", "start_line": 6, "end_line": 7})
    assert read.text.splitlines()[1:] == ["    6  def divide(a, b):", "    7      return a / b"]
    search = await tools.call("search_code", {"query": "DIVIDE("})
    assert search.text.splitlines() == [
        "calc.py:6: def divide(a, b):",
        "pkg/util.py:2: return divide(1, 2)",
    ]
    listed = await tools.call("list_dir", {})
    assert listed.text.splitlines() == ["calc.py", "pkg/"]


async def test_paths_outside_the_checkout_are_refused(repo: Path, tmp_path: Path) -> None:
    tools = _toolbox(repo, tmp_path / "c")
    for path in ("../secret", "/etc/passwd", ".git/config"):
        result = await tools.call("read_file", {"path": path})
        assert result.is_error, path
    assert (await tools.call("nope", {})).is_error
    bad = await tools.call("read_file", {"file": "calc.py"})
    assert bad.is_error and "bad arguments" in bad.text


async def test_finish_needs_a_change_first(repo: Path, tmp_path: Path) -> None:
    tools = _toolbox(repo, tmp_path / "c")
    early = await tools.call("finish", {"summary": "done", "tests": []})
    assert early.is_error and not early.finished
    edit = (
        "calc.py\n<<<<<<< SEARCH\n    return a / b\n=======\n    return a // b\n>>>>>>> REPLACE\n"
    )
    applied = await tools.call("apply_edits", {"edits": edit})
    assert not applied.is_error and "+    return a // b" in applied.text
    done = await tools.call("finish", {"summary": "done", "tests": ["t"]})
    assert done.finished and done.detail == {"summary": "done", "tests": ["t"]}


async def test_links_out_of_the_checkout_are_never_followed(repo: Path, tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "shadow").write_text("root:CANARY-tools-1:19000\n")
    (host / "id_rsa").write_text("CANARY-tools-2\n")
    (repo / "notes.txt").symlink_to(host / "shadow")
    (repo / "keys").symlink_to(host)
    os.mkfifo(repo / "pipe")  # a reader that opened it would wait forever
    tools = _toolbox(repo, tmp_path / "c")
    answers = [
        await tools.call("search_code", {"query": "tools-"}),
        await tools.call("search_code", {"query": "tools-", "path": "keys"}),
        await tools.call("read_file", {"path": "notes.txt"}),
        await tools.call("read_file", {"path": "keys/id_rsa"}),
        await tools.call("read_file", {"path": "pipe"}),
        await tools.call("list_dir", {"path": "keys"}),
        await tools.call("list_dir", {}),
    ]
    assert not any("CANARY" in answer.text for answer in answers), answers
    assert answers[1].is_error and "symbolic link" in answers[1].text
    assert answers[2].is_error and "symbolic link" in answers[2].text
    assert answers[4].is_error and "not a regular file" in answers[4].text
    assert answers[5].is_error
    assert answers[6].text.splitlines() == [
        "calc.py",
        "keys (symbolic link: not followed)",
        "notes.txt (symbolic link: not followed)",
        "pipe (not a regular file: not read)",
        "pkg/",
    ]
