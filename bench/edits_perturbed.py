"""Edit application on SWE-bench Lite gold patches, perturbed the way model output goes wrong.

    .venv/bin/python bench/edits_perturbed.py --tasks /work/shared/bench/swebench-lite-dev.json \
        --mirrors /work/.mirror [--seeds 3] [--only ID] [--show-wrong]

--mirrors holds bare git repositories as OWNER+NAME/repo (or OWNER+NAME, OWNER+NAME.git),
named after the task file's `sources` (see bench/README.md); files are read with
`git show BASE:PATH`, no tree is extracted. Each gold hunk becomes one SEARCH/REPLACE block
(SEARCH = the hunk's old side with its context, REPLACE = the new side, hint = the hunk's
old start line), is perturbed, written as model text, parsed with `parse_edits`, and
applied with `plan_edits` to the original files. The reference is the gold patch applied
with `git apply`. A file is "exact" when it equals the reference byte for byte, "refused"
when a block of it was refused (the model is told), and "silently wrong" when nothing was
refused yet it differs. A task counts as its worst file.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from unidiff.patch import PatchSet

from app.edits import EditPolicy, parse_edits, plan_edits


@dataclass(frozen=True)
class Block:
    path: str
    lines: tuple[tuple[str, str], ...]  # (" " | "-" | "+", text without line ending)
    hint: int | None
    crlf: bool = False  # the model's text uses CRLF
    as_diff: str = ""  # "": blocks; "gold": a unified diff; "sloppy": bare @@, blank lines bare

    @property
    def search(self) -> list[str]:
        return [text for tag, text in self.lines if tag != "+"]

    @property
    def replace(self) -> list[str]:
        return [text for tag, text in self.lines if tag != "-"]


Perturbation = Callable[[Block, random.Random], Block]


def unchanged(block: Block, rng: random.Random) -> Block:
    return block


def stale_hint(block: Block, rng: random.Random) -> Block:
    assert block.hint is not None
    offset = rng.choice([-1, 1]) * rng.randint(1, 40)
    return replace(block, hint=max(1, block.hint + offset))


def no_hint(block: Block, rng: random.Random) -> Block:
    return replace(block, hint=None)


def outdented(block: Block, rng: random.Random) -> Block:
    texts = [text for _tag, text in block.lines if text.strip()]
    common = min((len(text) - len(text.lstrip()) for text in texts), default=0)
    return replace(
        block,
        lines=tuple((tag, text[common:] if text.strip() else text) for tag, text in block.lines),
    )


def trailing_whitespace(block: Block, rng: random.Random) -> Block:
    tails = ["", "", " ", "  ", "\t", "    "]
    return replace(block, lines=tuple((tag, text + rng.choice(tails)) for tag, text in block.lines))


def one_line_of_context(block: Block, rng: random.Random) -> Block:
    lines = list(block.lines)
    lead = next(i for i, (tag, _t) in enumerate(lines) if tag != " ")
    trail = next(i for i, (tag, _t) in enumerate(reversed(lines)) if tag != " ")
    cut_front = max(0, lead - 1)
    kept = lines[cut_front : len(lines) - max(0, trail - 1)]
    hint = block.hint + cut_front if block.hint is not None else None
    return replace(block, lines=tuple(kept), hint=hint)


def blank_lines_dropped(block: Block, rng: random.Random) -> Block:
    kept = [(tag, text) for tag, text in block.lines if tag != " " or text.strip()]
    first_kept = next(i for i, line in enumerate(block.lines) if line == kept[0])
    skipped = sum(1 for tag, _t in block.lines[:first_kept] if tag != "+")
    hint = block.hint + skipped if block.hint is not None else None
    return replace(block, lines=tuple(kept), hint=hint)


def crlf_answer(block: Block, rng: random.Random) -> Block:
    return replace(block, crlf=True)


def line_numbers_copied(block: Block, rng: random.Random) -> Block:
    """The SEARCH copied from the code map's numbered view (`{n:>5} {line}`), no hint;
    the REPLACE keeps the numbers on the lines it copied, new lines have none."""
    assert block.hint is not None
    number = block.hint
    lines = []
    for tag, text in block.lines:
        if tag == "+":
            lines.append((tag, text))
            continue
        lines.append((tag, f"{number:>5} {text}"))
        number += 1
    return replace(block, lines=tuple(lines), hint=None)


def everything_but_blank_lines(block: Block, rng: random.Random) -> Block:
    """Outdented, trailing whitespace, CRLF, stale hint, one line of context at once."""
    block = one_line_of_context(block, rng)
    block = stale_hint(outdented(trailing_whitespace(block, rng), rng), rng)
    return crlf_answer(block, rng)


def diff_answer(block: Block, rng: random.Random) -> Block:
    return replace(block, as_diff="gold")


def sloppy_diff_answer(block: Block, rng: random.Random) -> Block:
    return replace(block, as_diff="sloppy")


def one_line_no_hint(block: Block, rng: random.Random) -> Block:
    return no_hint(one_line_of_context(block, rng), rng)


def one_line_stale_hint(block: Block, rng: random.Random) -> Block:
    return stale_hint(one_line_of_context(block, rng), rng)


PERTURBATIONS: dict[str, Perturbation] = {
    "none": unchanged,
    "stale line hints (±1-40)": stale_hint,
    "no line hints": no_hint,
    "outdented hunks": outdented,
    "trailing whitespace": trailing_whitespace,
    "context trimmed to one line": one_line_of_context,
    "blank context lines dropped": blank_lines_dropped,
    "CRLF answer": crlf_answer,
    "CRLF file": unchanged,  # the files (and the reference) are converted instead
    "line numbers copied, no hint": line_numbers_copied,
    "unified diff answer": diff_answer,
    "unified diff answer: bare @@ headers, blank lines without space": sloppy_diff_answer,
    "combined: one line of context, no hint": one_line_no_hint,
    "combined: one line of context, stale hint": one_line_stale_hint,
    "combined: all of the above but blank lines": everything_but_blank_lines,
}
RANDOMISED = (stale_hint, trailing_whitespace, one_line_stale_hint, everything_but_blank_lines)


def render(blocks: list[Block]) -> str:
    """The blocks as a model would write them, with prose and fences around."""
    if blocks and blocks[0].as_diff:
        return render_diff_answer(blocks)
    parts = ["Here are the changes.\n"]
    for block in blocks:
        hint = f"@@ line {block.hint}\n" if block.hint is not None else ""
        search = "".join(line + "\n" for line in block.search)
        replacement = "".join(line + "\n" for line in block.replace)
        text = (
            f"{block.path}\n```python\n{hint}<<<<<<< SEARCH\n{search}=======\n"
            f"{replacement}>>>>>>> REPLACE\n```\n"
        )
        parts.append(text.replace("\n", "\r\n") if block.crlf else text)
    return "\n".join(parts)


def render_diff_answer(blocks: list[Block]) -> str:
    """The blocks as a unified diff inside a fence; "sloppy" drops the hunk numbers and the
    space of blank context lines, as models do."""
    out = ["Here is the patch:", "```diff"]
    path = None
    for block in blocks:
        if block.path != path:
            path = block.path
            out += [f"--- a/{path}", f"+++ b/{path}"]
        if block.as_diff == "sloppy":
            out.append("@@ @@")
        else:
            old = sum(1 for tag, _t in block.lines if tag != "+")
            new = sum(1 for tag, _t in block.lines if tag != "-")
            out.append(f"@@ -{block.hint},{old} +{block.hint},{new} @@")
        for tag, text in block.lines:
            line = tag + text
            out.append("" if block.as_diff == "sloppy" and line == " " else line)
    out.append("```")
    return "\n".join(out) + "\n"


def git_dir(mirrors: Path, source: str) -> Path:
    name = source.replace("/", "+")
    for candidate in (mirrors / name / "repo", mirrors / name, mirrors / f"{name}.git"):
        if (candidate / "objects").is_dir():
            return candidate
    raise SystemExit(f"no bare repository for {source} under {mirrors}")


def show(repo: Path, commit: str, path: str) -> bytes:
    return subprocess.run(
        ["git", f"--git-dir={repo}", "show", f"{commit}:{path}"], check=True, capture_output=True
    ).stdout


def gold_results(originals: dict[str, bytes], patch: str) -> dict[str, bytes]:
    with tempfile.TemporaryDirectory() as work:
        root = Path(work)
        for path, data in originals.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_bytes(data)
        (root / "gold.patch").write_text(patch)
        subprocess.run(["git", "apply", "gold.patch"], cwd=root, check=True, capture_output=True)
        return {path: (root / path).read_bytes() for path in originals}


def blocks_of(patch: str) -> list[Block]:
    blocks = []
    for patched in PatchSet(patch):
        for hunk in patched:
            lines = tuple(
                (line.line_type, line.value.rstrip("\n").rstrip("\r"))
                for line in hunk
                if line.line_type in (" ", "-", "+")
            )
            blocks.append(Block(patched.path, lines, hunk.source_start))
    return blocks


def judge(
    originals: dict[str, bytes], golds: dict[str, bytes], blocks: list[Block]
) -> tuple[str, int, list[str]]:
    edits = parse_edits(render(blocks))
    assert len(edits) == len(blocks), (len(edits), len(blocks))
    result = plan_edits(edits, EditPolicy(), originals.get)
    after = {change.path: change.after.encode() for change in result.changes}
    refused_paths = {refusal.path for refusal in result.refusals}
    verdicts = []
    for path, original in originals.items():
        if path in refused_paths:
            verdicts.append("refused")
        elif after.get(path, original) == golds[path]:
            verdicts.append("exact")
        else:
            verdicts.append("silently wrong")
    worst = max(verdicts, key=["exact", "refused", "silently wrong"].index)
    return worst, len(result.refusals), [r.message for r in result.refusals]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=Path, required=True)
    parser.add_argument("--mirrors", type=Path, required=True)
    parser.add_argument("--seeds", type=int, default=3, help="runs of the random perturbations")
    parser.add_argument("--only", default="", help="substring of instance ids to run")
    parser.add_argument("--show-wrong", action="store_true", help="print refusals and misses")
    args = parser.parse_args()
    data = json.loads(args.tasks.read_text())
    tasks = [t for t in data["tasks"] if args.only in t["instance_id"]]
    prepared = []
    for task in tasks:
        repo = git_dir(args.mirrors, data["sources"][task["repo"]])
        blocks = blocks_of(task["gold_patch"])
        paths = sorted({block.path for block in blocks})
        originals = {path: show(repo, task["base_commit"], path) for path in paths}
        prepared.append(
            (task["instance_id"], originals, gold_results(originals, task["gold_patch"]), blocks)
        )
    hunks = sum(len(blocks) for *_rest, blocks in prepared)
    print(f"{len(prepared)} tasks, {hunks} hunks, {args.seeds} seed(s) per random perturbation\n")
    print(
        "| perturbation | N | blocks altered | exact | refused | silently wrong | blocks refused |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, perturb in PERTURBATIONS.items():
        randomised = perturb in RANDOMISED
        verdicts: Counter[str] = Counter()
        refused_blocks = altered = total_blocks = 0
        for seed in range(args.seeds if randomised else 1):
            rng = random.Random(seed)
            for instance, originals, golds, blocks in prepared:
                if name == "CRLF file":
                    originals = {p: d.replace(b"\n", b"\r\n") for p, d in originals.items()}
                    golds = {p: d.replace(b"\n", b"\r\n") for p, d in golds.items()}
                changed = [perturb(block, rng) for block in blocks]
                altered += sum(a != b for a, b in zip(changed, blocks, strict=True))
                total_blocks += len(blocks)
                verdict, refusals, messages = judge(originals, golds, changed)
                verdicts[verdict] += 1
                refused_blocks += refusals
                if args.show_wrong and verdict != "exact":
                    print(f"  [{name}] {instance}: {verdict}")
                    for message in messages:
                        print("     ", message.replace("\n", "\n      ")[:1500])
        n = sum(verdicts.values())
        shown = (
            f"| {name} | {n} | {altered}/{total_blocks} | {_rate(verdicts['exact'], n)} | "
            f"{_rate(verdicts['refused'], n)} | {_rate(verdicts['silently wrong'], n)} | "
            f"{refused_blocks}/{total_blocks} |"
        )
        print(shown)


def _rate(count: int, total: int) -> str:
    return f"{count} ({100 * count / total:.1f} %)" if total else "0"


if __name__ == "__main__":
    main()
