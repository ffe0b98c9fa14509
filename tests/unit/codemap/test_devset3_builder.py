"""The third localisation dev set's builder (bench/codemap_devset3.py) on a real git
history: which merged changes become tasks, and which SWE-bench Lite would leave out.
The §4 figures of bench/README.md rest on these rules."""

from __future__ import annotations

import json
import subprocess
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.codemap_devset2 import REPOS
from bench.codemap_devset3 import _build, _candidates, _lookups, _not_lite

ISSUE_WORDS = " ".join(["word"] * 45)
SINCE, UNTIL = "2000-01-01", (date.today() + timedelta(days=2)).isoformat()


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def _commit(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


def _merge(repo: Path, branch: str, files: dict[str, str], message: str, title: str) -> str:
    """A pull request merged with a merge commit: its own commit says what it fixes."""
    _git(repo, "checkout", "-q", "-b", branch)
    _commit(repo, files, message)
    _git(repo, "checkout", "-q", "main")
    _git(
        repo,
        "merge",
        "-q",
        "--no-ff",
        branch,
        "-m",
        f"Merge pull request #9 from x/{branch}\n\n{title}",
    )
    return _git(repo, "rev-parse", "HEAD")


def _changed(lines: str, *returns: int) -> str:
    for value in returns:
        lines = lines.replace(f"return {value}\n", f"return {value}{value}\n")
    return lines


@pytest.fixture
def history(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    repo = tmp_path / "work"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "dev@example.com")
    _git(repo, "config", "user.name", "dev")
    lines = "".join(f"def f{i}():\n    return {i}\n\n\n" for i in range(40))
    _commit(
        repo, {"pkg/mod.py": lines, "pkg/other.py": "X = 1\n", "tests/test_mod.py": ""}, "start"
    )
    commits = {
        "one_file": _merge(
            repo, "a", {"pkg/mod.py": lines.replace("return 3\n", "return 33\n"),
                        "tests/test_mod.py": "def test_f3(): pass\n"},
            "Fix f3\n\nFixes #12", "Make f3 right",
        ),
        "two_files": _merge(
            repo, "b", {"pkg/mod.py": lines.replace("return 4\n", "return 44\n"),
                        "pkg/other.py": "X = 2\n"},
            "Fix f4 and X\n\nCloses #13", "f4 and X",
        ),
        "four_hunks": _merge(
            repo, "c", {"pkg/mod.py": _changed(lines, 1, 10, 20, 30),
                        "tests/test_mod.py": "def test_many(): pass\n"},
            "Fix many\n\nFixes #14", "Many returns",
        ),
        "no_tests": _merge(
            repo, "d", {"pkg/mod.py": lines.replace("return 5\n", "return 55\n")},
            "Fix f5\n\nFixes #15", "f5",
        ),
        "nothing_closed": _merge(
            repo, "e", {"pkg/other.py": "X = 3\n"}, "Tidy X", "Tidy",
        ),
    }  # fmt: skip
    bare = tmp_path / "mirrors" / "mirror" / "repo"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(bare)], check=True)
    return bare, commits


def test_a_merged_change_that_closes_one_issue_and_edits_one_source_file_is_a_candidate(
    history: tuple[Path, dict[str, str]],
) -> None:
    bare, commits = history
    found = _candidates("someone/pkg", bare, SINCE, UNTIL)
    assert [(c["number"], c["gold_files"], c["subject"]) for c in found] == [
        (12, ["pkg/mod.py"], "Make f3 right"),
        (14, ["pkg/mod.py"], "Many returns"),
        (15, ["pkg/mod.py"], "f5"),
    ]
    assert found[0]["fix_commit"] == commits["one_file"]
    assert found[0]["base_commit"] == _git(bare, "rev-parse", f"{commits['one_file']}^1")


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (f"See https://example.com/x {ISSUE_WORDS}", "with a link"),
        (f"![shot](a.png) {ISSUE_WORDS}", "with an image"),
        (f"since commit 1a2b3c4d {ISSUE_WORDS}", "naming a commit"),
        (f"like #77 {ISSUE_WORDS}", "naming an issue or pull request"),
        (f"<![CDATA[x]]> index f1b65f7d01..9ce4e32e14 &#39; {ISSUE_WORDS}", None),
    ],
)
def test_the_text_rules_of_swe_bench_lite(
    history: tuple[Path, dict[str, str]], text: str, why: str | None
) -> None:
    bare, _ = history
    first = _candidates("someone/pkg", bare, SINCE, UNTIL)[0]
    assert _not_lite(text, bare, first) == why


def test_a_fix_of_more_than_three_hunks_or_without_tests_is_not_lite(
    history: tuple[Path, dict[str, str]],
) -> None:
    bare, _ = history
    one_hunk, four_hunks, no_tests = _candidates("someone/pkg", bare, SINCE, UNTIL)
    assert _not_lite(ISSUE_WORDS, bare, one_hunk) is None
    assert _not_lite(ISSUE_WORDS, bare, four_hunks) == "of more than 3 hunks"
    assert _not_lite(ISSUE_WORDS, bare, no_tests) == "without tests"


def test_build_reads_every_answer_list_and_drops_short_texts_and_the_corpus_markers(
    history: tuple[Path, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare, _ = history
    candidates = _candidates("someone/pkg", bare, SINCE, UNTIL)
    (tmp_path / "candidates.json").write_text(json.dumps(candidates))
    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / "found-0.json").write_text(json.dumps([
        {"repo": "someone/pkg", "number": 12, "title": "f3 is wrong",
         "body": f"[turn 0 by someone, continued]\n{ISSUE_WORDS}"},
    ]))  # fmt: skip
    (answers / "found-1.json").write_text(json.dumps([
        {"repo": "someone/pkg", "number": 14, "title": "too short", "body": "f1 breaks"},
    ]))  # fmt: skip
    monkeypatch.setitem(REPOS, "someone/pkg", "mirror")
    out = tmp_path / "set.json"
    args: Any = type("Args", (), {
        "candidates": tmp_path / "candidates.json", "issues": str(answers / "found-*.json"),
        "out": out, "trees": None, "mirrors": tmp_path / "mirrors", "lite": True,
    })  # fmt: skip
    _build(args)
    tasks = json.loads(out.read_text())["tasks"]
    assert [(t["instance_id"], t["gold_files"]) for t in tasks] == [
        ("someone__pkg-12", ["pkg/mod.py"])
    ]
    assert tasks[0]["problem_statement"] == f"f3 is wrong\n\n{ISSUE_WORDS}"


def test_lookups_leaves_out_what_is_answered_and_cuts_the_rest_into_parts(
    history: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    bare, _ = history
    candidates = _candidates("someone/pkg", bare, SINCE, UNTIL)
    (tmp_path / "candidates.json").write_text(json.dumps(candidates))
    (tmp_path / "found-0.json").write_text(
        json.dumps([{"repo": "someone/pkg", "number": 12, "title": "t", "body": "b"}])
    )
    _lookups(tmp_path / "candidates.json", 2, tmp_path / "todo", str(tmp_path / "found-*.json"))
    parts = [json.loads((tmp_path / "todo" / f"todo-{i}.json").read_text()) for i in (0, 1)]
    assert parts == [
        [{"repo": "someone/pkg", "number": 14, "fix_subject": "Many returns"}],
        [{"repo": "someone/pkg", "number": 15, "fix_subject": "f5"}],
    ]
