"""A second localisation dev set from fixing commits of repositories outside the first.

    .venv/bin/python bench/codemap_devset2.py --mirrors /work/.mirror --out /tmp/devset2.json \
        --trees /tmp/devset2/trees [--per-repo 30] [--since 2023-10-01] [--until 2025-12-01]

Each task is one non-merge commit that fixes something (its message names an issue it
fixes, `Fixes #N`, or it adds a changelog entry, or a long body says what was wrong) and
that changes 1-3 existing non-test Python files (the gold), and no other code. The query
is what a user-facing description of the change says: the subject, the message body's
first paragraphs (review notes of squashed commits, trailers and issue references dropped)
and the lines the commit adds to the changelog (pylint's and astropy's fragments, sphinx's
CHANGES, xarray's and seaborn's what's-new). The gold files' paths, base names and dotted
module names are cut from the text. Base commit = the fix's parent. Commits since --since
only: the default is about when SWE-bench was published (October 2023; the newest issue
of the SWE-bench dev set is of July 2023), so the set shares no task with a measurement on
SWE-bench. --until (none by default) ends the window: commits are taken evenly spaced
over the window, so a mirror fetched later, with newer history, gives other tasks unless
the window is closed. Trees: TREES/<instance_id>, made with `git archive`.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from pathlib import Path

from app.test_paths import is_test_path

REPOS = {
    "sympy/sympy": "sympy+sympy",
    "pylint-dev/pylint": "pylint-dev+pylint",
    "sphinx-doc/sphinx": "sphinx-doc+sphinx",
    "pydata/xarray": "pydata+xarray",
    "astropy/astropy": "astropy+astropy",
    "mwaskom/seaborn": "mwaskom+seaborn",
}
_FIXES = r"(fix(es|ed)?|close[sd]?|resolve[sd]?):? #[0-9]+"
_REFERENCE = re.compile(rf"^\s*{_FIXES}\.?\s*$|^\s*(see|ref|refs|xref)\.? #\d+\s*$", re.I | re.M)
_TRAILER = re.compile(r"^(co-authored-by|signed-off-by|reviewed-by):.*$", re.I | re.M)
_CHANGELOG = re.compile(
    r"^doc/whatsnew/fragments/|^docs/changes/|^CHANGES(\.rst)?$|whats-new\.rst$"
    r"|^doc/whatsnew/v[\d.]+\.rst$"
)
_NOT_CODE = re.compile(
    r"^(docs?|\.github|ci|requirements|examples?|benchmarks?|asv_bench)/|^[^/]+$"
)
_SKIP_SUBJECT = re.compile(
    r"^(bump|\[pre-commit|\[automated|chore|ci\b|build\(|typo|revert|initial)"
    r"|\b(maint|refactor\w*|clean ?up|typing|type hints|mypy|lint\w*|docstrings?|typos?)\b",
    re.I,
)
_BUGGY = re.compile(r"\b(fix\w*|bugs?|error|wrong|incorrect\w*|fail\w*|crash\w*)\b", re.I)
_ROLE_REFS = re.compile(r":(pr|pull|issue|user|ghpull|ghissue|gh):`[^`]*`|\bby `[^`]*`_", re.I)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mirrors", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--trees", type=Path, default=None)
    parser.add_argument("--per-repo", type=int, default=30)
    parser.add_argument("--since", default="2023-10-01")
    parser.add_argument("--until", default="", help="the window's last day (default: none)")
    args = parser.parse_args()
    tasks: list[dict[str, object]] = []
    for repo, mirror in REPOS.items():
        git_dir = args.mirrors / mirror / "repo"
        if not git_dir.exists():
            print(f"skipped {repo}: no mirror at {git_dir}")
            continue
        found = list(_tasks(repo, git_dir, args.since, args.until))
        step = max(1, len(found) // args.per_repo)
        chosen = found[::step][: args.per_repo]
        print(f"{repo}: {len(found)} fixing commits qualify, {len(chosen)} taken")
        for task in chosen:
            if args.trees is not None:
                _extract(git_dir, str(task["base_commit"]), args.trees / str(task["instance_id"]))
        tasks.extend(chosen)
    about = (
        "Localisation dev set 2: fixing commits (message names an issue) of repositories "
        "outside the SWE-bench dev set; query = commit subject, body and added changelog "
        "lines with the gold files' names cut; gold = the changed non-test Python files; "
        "base_commit = the fix's parent. Built by bench/codemap_devset2.py."
    )
    write_tasks(args.out, about, tasks)


def write_tasks(out: Path, about: str, tasks: list[dict[str, object]]) -> None:
    """The task file `bench/codemap_locate.py` reads (the SWE-bench dev set's shape)."""
    sources = {repo: repo for repo in REPOS}
    out.write_text(json.dumps({"about": about, "sources": sources, "tasks": tasks}, indent=1))
    print(f"{len(tasks)} tasks → {out}")


def _git(git_dir: Path, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True, text=True
    ).stdout


def _tasks(repo: str, git_dir: Path, since: str, until: str = "") -> list[dict[str, object]]:
    window = [f"--since={since}"] + ([f"--until={until}"] if until else [])
    log = _git(
        git_dir, "log", "--no-merges", *window, "--name-status",
        "--format=%x00%H %P%x01%B%x02",
    )  # fmt: skip
    tasks: list[dict[str, object]] = []
    for record in log.split("\0")[1:]:
        header, _, rest = record.partition("\x01")
        message, _, names = rest.partition("\x02")
        commit, *parents = header.split()
        if len(parents) != 1 or _SKIP_SUBJECT.search(message.partition("\n")[0]):
            continue
        changes = [line.split("\t") for line in names.strip().splitlines() if "\t" in line]
        task = _task(repo, git_dir, commit, parents[0], message, changes)
        if task is not None:
            tasks.append(task)
    tasks.reverse()  # oldest first
    return tasks


def _task(
    repo: str, git_dir: Path, commit: str, parent: str, message: str, changes: list[list[str]]
) -> dict[str, object] | None:
    """A task when the commit fixes something and its code change is localisable: it names
    an issue it fixes, or adds a changelog entry, or says in a long body what was wrong."""
    gold: list[str] = []
    changelog: list[str] = []
    for status, *paths in changes:
        path = paths[-1]
        if _CHANGELOG.search(path):
            changelog.append(path)
        elif is_test_path(path) or _NOT_CODE.search(path):
            continue
        elif not path.endswith(".py") or status != "M":
            return None  # other code changed, or a file added or removed: not localisable
        else:
            gold.append(path)
    if not 1 <= len(gold) <= 3:
        return None
    body = message.strip().partition("\n")[2]
    fixes = re.search(_FIXES, message, re.I) or (len(body) > 200 and _BUGGY.search(message))
    if not (fixes or changelog):
        return None
    added = ""
    if changelog:
        diff = _git(git_dir, "show", "--format=", "--unified=0", commit, "--", *changelog)
        lines = diff.splitlines()
        added = "\n".join(line[1:] for line in lines if line[:1] == "+" and line[:3] != "+++")
    text = _cut_gold(_query(message, added), gold)
    if len(text) < 80:
        return None
    return {
        "instance_id": f"{repo.replace('/', '__')}-{commit[:10]}",
        "repo": repo,
        "base_commit": parent,
        "fix_commit": commit,
        "problem_statement": text,
        "gold_files": gold,
    }


def _query(message: str, changelog: str) -> str:
    """Subject, the body up to squashed review notes, then the changelog lines."""
    subject, _, body = message.strip().partition("\n")
    subject = re.sub(r"\s*\(#\d+\)\s*$", "", subject).lstrip("* ").strip()
    paragraphs: list[str] = []
    for paragraph in re.split(r"\n\s*\n", body.strip()):
        if paragraph.startswith("* ") and paragraphs:
            break  # the next squashed commit: review rounds, renames, lint fixes
        paragraph = paragraph.removeprefix("* ")
        if paragraph.strip() == subject:
            continue
        paragraph = _TRAILER.sub("", _REFERENCE.sub("", paragraph))
        paragraph = re.sub(r"<!--.*?-->", "", paragraph, flags=re.S).strip()
        if "pre-commit" in paragraph:
            continue
        if paragraph and paragraph.lower() not in ("whatsnew", "changelog", "changes"):
            paragraphs.append(paragraph)
        if len(paragraphs) == 3:
            break
    notes = _REFERENCE.sub("", _ROLE_REFS.sub("", changelog)).strip()
    return "\n\n".join([subject, *paragraphs, *([notes] if notes else [])])[:4000]


def _cut_gold(text: str, gold: list[str]) -> str:
    for path in gold:
        module = path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        name = path.rsplit("/", 1)[-1]
        for leak in (path, module, name):
            if name == "__init__.py" and leak == name:
                continue
            text = re.sub(rf"(?<![\w.]){re.escape(leak)}(?![\w])", "…", text)
    return text


def _extract(git_dir: Path, commit: str, dest: Path) -> None:
    """The tree at commit, without the blobs the mirror lacks (files of 4 MiB and more)."""
    if dest.exists():
        return
    listing = _git(git_dir, "ls-tree", "-r", "-l", commit).splitlines()
    large = [
        line.split("\t", 1)[1]
        for line in listing
        if not line.split()[3].isdigit() or int(line.split()[3]) >= 4 * 1024 * 1024
    ]
    dest.mkdir(parents=True)
    command = ["git", f"--git-dir={git_dir}", "archive", commit, "--", "."]
    archive = subprocess.Popen(
        command + [f":(exclude){path}" for path in large], stdout=subprocess.PIPE
    )
    subprocess.run(["tar", "-x", "-C", str(dest)], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        raise RuntimeError(f"git archive {commit} failed in {git_dir}")


if __name__ == "__main__":
    main()
