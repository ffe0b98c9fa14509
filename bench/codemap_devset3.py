"""A third localisation dev set: real issue text, from repositories outside the first set.

    # 1. the pull requests that close an issue and change one existing non-test Python file
    .venv/bin/python bench/codemap_devset3.py candidates --mirrors /work/.mirror \
        --out /tmp/devset3-candidates.json [--since 2023-10-01] [--until 2026-06-30]
    # 2. the issues' text, looked up by hand or by helpers (see bench/README.md): the
    #    candidates cut into look-up lists of {"repo", "number", "fix_subject"} (the fix's
    #    title is the best query), each answered by a JSON list of
    #    {"repo", "number", "title", "body"}
    .venv/bin/python bench/codemap_devset3.py lookups --candidates /tmp/devset3-candidates.json \
        --parts 8 --out /tmp/lookup [--found '/tmp/lookup/found-*.json']
    # 3. the tasks and their trees, from every answer list
    .venv/bin/python bench/codemap_devset3.py build --candidates /tmp/devset3-candidates.json \
        --issues '/tmp/lookup/found-*.json' --out /tmp/devset3.json --trees /tmp/devset3/trees

Dev set 2's queries are commit messages, written by the person who made the fix; the
service reads issues, written by the person who met the bug. This set takes what
SWE-bench takes: a change on the main line (a squashed or merged pull request) whose
message says it fixes an issue, the issue's title and description as the query, and the
one non-test Python file the change edits as the gold (SWE-bench Lite's kind: one file).
Only changes since --since (SWE-bench was published in October 2023), so no task is one of
SWE-bench's. The issue text is not kept in the repository (the rules keep fetched text
out); the candidates and the build are made again from the mirrors.
"""

from __future__ import annotations

import argparse
import glob
import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from app.test_paths import is_test_path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `bench.` imports when run as a script

from bench.codemap_devset2 import _CHANGELOG, REPOS, _extract, _git, write_tasks  # noqa: E402

_CLOSES = re.compile(
    r"\b(?:fix(?:es|ed)?|close[sd]?|resolve[sd]?)\b:?\s+"
    r"(?:#|https://github\.com/([\w.-]+/[\w.-]+)/issues/)(\d+)",
    re.I,
)
_ISSUE_ROLE = re.compile(r":(?:issue|ghissue):`(\d+)`|^\+[*-] #(\d+):", re.M)
_NOT_CODE = re.compile(
    r"^(docs?|\.github|ci|requirements|examples?|benchmarks?|asv_bench|release)/|^[^/]+$"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    listing = verbs.add_parser("candidates")
    listing.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    listing.add_argument("--out", type=Path, required=True)
    listing.add_argument("--since", default="2023-10-01")
    listing.add_argument("--until", default="2026-06-30")
    lookups = verbs.add_parser("lookups")
    lookups.add_argument("--candidates", type=Path, required=True)
    lookups.add_argument("--parts", type=int, default=8)
    lookups.add_argument("--out", type=Path, required=True)
    lookups.add_argument("--found", default="", help="a glob of answer lists: left out")
    build = verbs.add_parser("build")
    build.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    build.add_argument("--candidates", type=Path, required=True)
    build.add_argument("--issues", required=True, help="a glob of answer lists")
    build.add_argument("--out", type=Path, required=True)
    build.add_argument("--trees", type=Path, default=None)
    build.add_argument("--lite", action="store_true", help="SWE-bench Lite's selection too")
    args = parser.parse_args()
    if args.verb == "candidates":
        found: list[dict[str, object]] = []
        for repo, mirror in REPOS.items():
            git_dir = args.mirrors / mirror / "repo"
            if not git_dir.exists():
                print(f"skipped {repo}: no mirror at {git_dir}")
                continue
            mine = _candidates(repo, git_dir, args.since, args.until)
            print(f"{repo}: {len(mine)} changes close an issue and edit one source file")
            found.extend(mine)
        args.out.write_text(json.dumps(found, indent=1))
        print(f"{len(found)} candidates → {args.out}")
    elif args.verb == "lookups":
        _lookups(args.candidates, args.parts, args.out, args.found)
    else:
        _build(args)


def _lookups(candidates_file: Path, parts: int, out: Path, found_glob: str) -> None:
    """The candidates not answered yet, cut into `parts` look-up lists (one per helper:
    the issue corpus answers one query at a time, and a list of about 50 takes a helper
    half an hour)."""
    found = {(i["repo"], int(i["number"])) for i in _read_all(found_glob)} if found_glob else set()
    todo = [
        {"repo": c["repo"], "number": c["number"], "fix_subject": c["subject"]}
        for c in json.loads(candidates_file.read_text())
        if (c["repo"], int(c["number"])) not in found
    ]
    out.mkdir(parents=True, exist_ok=True)
    for part in range(parts):
        mine = todo[part::parts]
        (out / f"todo-{part}.json").write_text(json.dumps(mine, indent=1))
        print(f"{out / f'todo-{part}.json'}: {len(mine)} look-ups")


def _read_all(pattern: str) -> list[dict[str, Any]]:
    """Every answer list the glob names (an absolute glob: `/tmp/lookup/found-*.json`)."""
    answers: list[dict[str, Any]] = []
    for path in sorted(glob.glob(pattern)):
        answers.extend(json.loads(Path(path).read_text()))
    return answers


def _candidates(repo: str, git_dir: Path, since: str, until: str) -> list[dict[str, object]]:
    """Main-line changes (squashed or merged pull requests) that say they fix an issue of
    the repository and edit exactly one existing non-test Python file, and no other code."""
    log = _git(
        git_dir, "log", "--first-parent", f"--since={since}", f"--until={until}",
        "--format=%x00%H %P%x01%cs%x01%B",
    )  # fmt: skip
    found: list[dict[str, object]] = []
    for record in log.split("\0")[1:]:
        header, date, message = record.split("\x01", 2)
        commit, *parents = header.split()
        if not parents:
            continue
        names = _git(git_dir, "diff", "--name-status", "--no-renames", parents[0], commit)
        changes = [line.split("\t") for line in names.splitlines() if "\t" in line]
        gold = _gold(changes)
        if gold is None:
            continue
        issues = _issues(repo, git_dir, commit, parents, message, changes)
        if len(issues) != 1:
            continue
        found.append({
            "repo": repo, "number": min(issues), "fix_commit": commit, "base_commit": parents[0],
            "date": date, "subject": _title(message), "gold_files": [gold],
        })  # fmt: skip
    found.reverse()  # oldest first
    return found


def _title(message: str) -> str:
    """The pull request's title: a merge commit's first body line ("Merge pull request #N
    from …" says nothing of the change), else the subject. The issue look-up's query."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("Merge pull request #"):
        return lines[1]
    return lines[0] if lines else ""


def _issues(
    repo: str,
    git_dir: Path,
    commit: str,
    parents: list[str],
    message: str,
    changes: list[list[str]],
) -> set[int]:
    """The issues the change says it closes: in its message, in the merged branch's
    messages (a merge commit says only which pull request it merges), or as issue roles
    in the changelog lines it adds (`:issue:`123``, `* #123:`)."""
    text = message
    if len(parents) > 1:
        text += _git(git_dir, "log", "--format=%B", f"{parents[0]}..{parents[1]}")
    found = {int(m[2]) for m in _CLOSES.finditer(text) if m[1] in (None, repo)}
    notes = [paths[-1] for _, *paths in changes if _CHANGELOG.search(paths[-1])]
    if notes and not found:
        diff = _git(git_dir, "diff", "--unified=0", parents[0], commit, "--", *notes)
        added = "\n".join(line for line in diff.splitlines() if line.startswith("+"))
        found = {int(a or b) for a, b in _ISSUE_ROLE.findall(added)}
    return found


def _gold(changes: list[list[str]]) -> str | None:
    gold: list[str] = []
    for status, *paths in changes:
        path = paths[-1]
        if is_test_path(path) or _NOT_CODE.search(path) or path.endswith((".rst", ".md")):
            continue
        if not path.endswith(".py") or status != "M":
            return None  # other code changed, or a file added or removed
        gold.append(path)
    return gold[0] if len(gold) == 1 else None


def _build(args: argparse.Namespace) -> None:
    candidates = json.loads(args.candidates.read_text())
    issues = {(i["repo"], int(i["number"])): i for i in _read_all(args.issues)}
    print(f"{len(issues)} issue texts")
    tasks: list[dict[str, object]] = []
    dropped: Counter[str] = Counter()
    for candidate in candidates:
        issue = issues.get((candidate["repo"], int(candidate["number"])))
        if issue is None:
            continue
        body = _MARKER.sub("", issue["body"]).strip()  # the corpus's own marker, not the issue's
        text = f"{issue['title'].strip()}\n\n{body}"
        if len(text.split()) < 40:
            continue  # SWE-bench's floor for a problem statement
        repo = str(candidate["repo"])
        git_dir = args.mirrors / REPOS[repo] / "repo"
        if args.lite and (why := _not_lite(text, git_dir, candidate)):
            dropped[why] += 1
            continue
        task = {
            "instance_id": f"{repo.replace('/', '__')}-{candidate['number']}",
            "repo": repo,
            "base_commit": candidate["base_commit"],
            "fix_commit": candidate["fix_commit"],
            "problem_statement": text,
            "gold_files": candidate["gold_files"],
        }
        if any(t["instance_id"] == task["instance_id"] for t in tasks):
            continue
        tasks.append(task)
        if args.trees is not None:
            _extract(git_dir, str(task["base_commit"]), args.trees / str(task["instance_id"]))
    about = (
        "Localisation dev set 3: issues closed since October 2023 by a change to one "
        "non-test Python file, of repositories outside the SWE-bench dev set; query = the "
        "issue's title and description; gold = the file; base_commit = the change's "
        "parent. Built by bench/codemap_devset3.py."
    )
    if args.lite:
        about += " Selected as SWE-bench Lite selects (see _not_lite)."
        print(
            "left out as SWE-bench Lite leaves out: "
            + ", ".join(f"{n} {why}" for why, n in dropped.most_common())
        )
    write_tasks(args.out, about, tasks)


# SWE-bench Lite's selection (swebench.com/lite): no images, external links, commit ids or
# references to other issues and pull requests in the text; a fix that edits one file in
# at most three hunks (the candidates add and remove no source file), and comes with tests.
_IMAGE = re.compile(r"(?<!<)!\[|<img\b|\.(?:png|jpe?g|gif|svg)\b", re.I)
_LINK = re.compile(r"https?://", re.I)
# a whole commit id, or a short one called a commit (Lite keeps hex in diffs and names)
_COMMIT_ID = re.compile(r"\b[0-9a-f]{40}\b|\bcommit [0-9a-f]{7,40}\b", re.I)
_REFERENCE = re.compile(r"(?<![\w&])#\d+\b|/(?:issues|pull)/\d+")
LITE_HUNKS = 3
_MARKER = re.compile(r"^\[turn \d+ by [^\]\n]*\]\n?", re.M)


def _not_lite(text: str, git_dir: Path, candidate: dict[str, Any]) -> str | None:
    """Why SWE-bench Lite would leave this task out, or None."""
    for why, pattern in (
        ("with an image", _IMAGE),
        ("with a link", _LINK),
        ("naming a commit", _COMMIT_ID),
        ("naming an issue or pull request", _REFERENCE),
    ):
        if pattern.search(text):
            return why
    base, fix = candidate["base_commit"], candidate["fix_commit"]
    changes = _git(git_dir, "diff", "--name-status", "--no-renames", base, fix).splitlines()
    if not any(is_test_path(line.split("\t")[-1]) for line in changes if "\t" in line):
        return "without tests"
    diff = _git(git_dir, "diff", base, fix, "--", *candidate["gold_files"])
    if sum(line.startswith("@@") for line in diff.splitlines()) > LITE_HUNKS:
        return f"of more than {LITE_HUNKS} hunks"
    return None


if __name__ == "__main__":
    main()
