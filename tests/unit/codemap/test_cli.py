"""`agentops index` and `agentops locate` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main

FIXTURES = Path(__file__).parents[2] / "fixtures" / "codemap"
SHOP = FIXTURES / "shop"


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AGENTOPS_CODEMAP_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_index_json_reports_files_symbols_languages_and_cache_hits(
    capsys: pytest.CaptureFixture[str], cache_dir: Path
) -> None:
    assert main(["index", str(SHOP), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["files"] == 8
    assert first["languages"] == {"python": 8}
    assert first["symbols"] == 16
    assert (first["cache_hits"], first["parsed"], first["failed"]) == (0, 8, [])
    assert cache_dir.is_dir()
    assert main(["index", str(SHOP), "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["cache_hits"], again["parsed"]) == (8, 0)


def test_index_summary_for_people(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["index", str(SHOP)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("8 files, 16 symbols (python 8)\n")


def test_locate_json_lists_relative_paths_scores_and_reasons(
    capsys: pytest.CaptureFixture[str],
) -> None:
    issue = str(FIXTURES / "checkout_issue.md")
    assert main(["locate", str(SHOP), "--issue-file", issue, "--top", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    files = result["files"]
    assert [f["path"] for f in files] == ["shop/payments/gateway.py", "shop/orders.py"]
    assert files[0]["score"] >= files[1]["score"] > 0
    assert any(r.startswith("traceback frame") for r in files[0]["reasons"])
    assert files[0]["symbols"][0]["name"] == "charge"
    # the tests come apart from the files to change, each with how it exercises them
    assert [t["path"] for t in result["tests"]] == ["tests/test_orders.py"]
    assert "imports orders.py" in result["tests"][0]["reasons"]
    assert result["tests"][0]["score"] > 0


def test_locate_table_for_people(capsys: pytest.CaptureFixture[str]) -> None:
    issue = str(FIXTURES / "checkout_issue.md")
    assert main(["locate", str(SHOP), "--issue-file", issue, "--top", "2"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[:2] == ["Files to change:", lines[1]]
    assert lines[1].startswith(" 1. shop/payments/gateway.py  (")
    assert "function charge (lines 8-11)" in out
    tests = out.split("Tests that exercise them:\n")[1]
    assert tests.startswith(" 1. tests/test_orders.py  (")
    assert "- imports orders.py" in tests


def test_user_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["locate", str(SHOP), "--issue-file", str(tmp_path / "missing.md")]) == 2
    assert capsys.readouterr().err.startswith("agentops locate: cannot read ")
    assert main(["index", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.strip().endswith("is not a directory")
    issue = str(FIXTURES / "checkout_issue.md")
    assert main(["locate", str(SHOP), "--issue-file", issue, "--top", "0"]) == 2
    assert "--top must be at least 1" in capsys.readouterr().err
    blank = tmp_path / "blank.md"
    blank.write_text("  \n\n")
    assert main(["locate", str(SHOP), "--issue-file", str(blank)]) == 2
    assert "the issue text is empty" in capsys.readouterr().err


def test_excluded_prefixes_large_files_and_tests_are_left_out(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["index", str(SHOP), "--json", "--exclude", "shop/payments/"]) == 0
    assert json.loads(capsys.readouterr().out)["files"] == 5
    assert main(["index", str(SHOP), "--json", "--max-file-kb", "1", "--exclude", "./tests"]) == 0
    assert json.loads(capsys.readouterr().out)["files"] == 7
    issue = str(FIXTURES / "checkout_issue.md")
    assert main(["locate", str(SHOP), "--issue-file", issue, "--top", "8", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert "tests/test_orders.py" not in [f["path"] for f in result["files"]]
    assert "tests/test_orders.py" in [t["path"] for t in result["tests"]]
    assert main(["locate", str(SHOP), "--issue-file", issue, "--json", "--no-tests"]) == 0
    assert json.loads(capsys.readouterr().out)["tests"] == []
    assert main(["locate", str(SHOP), "--issue-file", issue, "--no-tests"]) == 0
    assert "Tests that exercise them" not in capsys.readouterr().out
