"""What running an issue's own code adds to localisation (issue #16 §4, an experiment).

    .venv/bin/python bench/codemap_exec_trace.py --tasks /tmp/outside.json \
        --trees /tmp/outside/trees --only sympy --package sympy --python /tmp/venv/bin/python \
        [--weight 2.0]

For each task whose id contains --only: the code of its issue text (fenced blocks and
`>>>` sessions, cut to what compiles) runs against the task's tree with --package imported
first and its names in scope (an issue is often written in an interactive session),
under `bwrap` (read-only host, no network, its own /tmp and process namespace, 90 s),
with a profiler that counts the calls of functions defined in the tree. The files it
called become one more signal of the code map: a multiplier (1 + weight) like every other,
for those files. Prints Acc@1/3/5/10 of the code map's defaults and with the signal, on all
tasks and on those whose code ran; what ran is kept in --traces (JSON) for a second run.

--python is an interpreter with the package's dependencies but not the package (sympy:
`mpmath`); the tree is put first on its path. Python 3.11 cannot import old releases of
some packages (sympy before 1.6 imports `collections.Mapping`): those tasks count as not
run. The issue's code is third-party text: it runs only inside the jail, and only its
JSON answer (file paths and counts, checked against the index) is read back.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
_FENCE = re.compile(r"```[^\n]*\n(.*?)```", re.S)
_PROMPTS = (">>> ", "... ")
SECONDS_PER_BLOCK, SECONDS_PER_TASK = 10, 90
KS = (1, 3, 5, 10)


def code_blocks(text: str) -> list[str]:
    """An issue's code: each fenced block (its `>>>` lines alone when it is a session), and
    the `>>>` lines outside fences; each whole when it compiles, else its lines that do."""
    blocks = []
    for body in _FENCE.findall(text):
        session = _session(body)
        blocks += _compiling(session if session.strip() else body)
    rest = _session(_FENCE.sub("", text))
    if rest.strip():
        blocks += _compiling(rest)
    return [b for b in blocks if b.strip()]


def _session(text: str) -> str:
    lines = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(_PROMPTS) or stripped in (">>>", "..."):
            lines.append(stripped[4:])
        elif stripped.startswith("In [") and "]:" in stripped:
            lines.append(stripped.split("]:", 1)[1].strip())
    return "\n".join(lines)


def _compiling(code: str) -> list[str]:
    try:
        ast.parse(code)
        return [code]
    except SyntaxError:
        pass
    kept = []
    for line in code.splitlines():
        try:
            ast.parse(line)
        except SyntaxError:
            continue
        kept.append(line)
    return ["\n".join(kept)] if any(line.strip() for line in kept) else []


def child(tree: str, package: str, blocks_file: str) -> None:
    """Inside the jail: run the blocks, print {"calls": {path in tree: calls}}."""
    sys.path.insert(0, tree)
    os.chdir("/tmp")
    try:
        __import__(package)
    except Exception as exc:
        print(json.dumps({"error": f"import: {type(exc).__name__}: {exc}"[:300]}))
        return
    calls: dict[str, int] = {}

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event == "call":
            name = frame.f_code.co_filename
            calls[name] = calls.get(name, 0) + 1

    def too_long(*_: object) -> None:
        raise TimeoutError

    signal.signal(signal.SIGALRM, too_long)
    scope: dict[str, Any] = {"__name__": "__main__"}
    with contextlib.suppress(Exception):
        exec(f"from {package} import *", scope)
    errors = []
    for block in json.loads(Path(blocks_file).read_text()):
        signal.alarm(SECONDS_PER_BLOCK)
        sys.setprofile(profile)
        threading.setprofile(profile)
        try:
            exec(compile(block, "<issue>", "exec"), scope)
        except BaseException as exc:  # the code fails often: that is its bug
            errors.append(type(exc).__name__)
        finally:
            sys.setprofile(None)
            threading.setprofile(None)
            signal.alarm(0)
    root = os.path.realpath(tree) + "/"
    inside: dict[str, int] = {}
    for name, count in calls.items():
        real = os.path.realpath(name)
        if real.startswith(root):
            inside[real[len(root) :]] = inside.get(real[len(root) :], 0) + count
    print(json.dumps({"calls": inside, "errors": errors}))


def trace(task: dict[str, Any], trees: Path, package: str, python: str, work: Path) -> Any:
    blocks = code_blocks(task["problem_statement"])
    if not blocks:
        return {"no_code": True}
    blocks_file = work / f"{task['instance_id']}.json"
    blocks_file.write_text(json.dumps(blocks))
    tree = str((trees / task["instance_id"]).resolve())
    me = str(Path(__file__).resolve())
    env = str(Path(python).absolute().parent.parent)  # its virtualenv, when under /tmp
    jail = ["bwrap", "--ro-bind", "/", "/", "--tmpfs", "/tmp", "--ro-bind", str(work), str(work),
            "--ro-bind", tree, tree, "--ro-bind", me, me, "--ro-bind", env, env,
            "--unshare-net", "--unshare-pid",
            "--die-with-parent", "--proc", "/proc", "--dev", "/dev"]  # fmt: skip
    command = [*jail, python, me, "--child", tree, package, str(blocks_file)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=SECONDS_PER_TASK)
    except subprocess.TimeoutExpired:
        return {"error": "timeout"}
    last = done.stdout.strip().splitlines()[-1:] or [""]
    try:
        return json.loads(last[0])
    except ValueError:
        return {"error": done.stderr[-300:]}


@dataclass(frozen=True)
class _Row:
    ranks: list[int | None]
    traced: bool


def measure(
    tasks: list[dict[str, Any]], trees: Path, traces: dict[str, Any], weight: float
) -> None:
    sys.path.insert(0, str(ROOT))
    from app.codemap.cache import BlobCache
    from app.codemap.discover import SkipRules
    from app.codemap.index import build_index
    from app.codemap.locate import Locator, Weights

    @dataclass(frozen=True)
    class WithTrace(Weights):
        ran: float = 0.0

    settings = {
        "defaults": WithTrace(),
        f"ran by the issue's code, {weight}": WithTrace(ran=weight),
    }
    rows: dict[str, list[_Row]] = {name: [] for name in settings}
    cache = BlobCache(Path("/tmp/codemap-bench-cache"))
    for task in tasks:
        index = build_index(trees / task["instance_id"], cache, SkipRules(skip_tests=True))
        locator = Locator(index)
        evidence = locator.gather(task["problem_statement"])
        called = traces.get(task["instance_id"], {}).get("calls", {})
        ran = {
            path: (1.0, ["ran by the issue's code"]) for path in called if path in evidence.allowed
        }
        evidence.signals["ran"] = ran
        for name, weights in settings.items():
            order = [r.path for r in locator.rank(evidence, 50, weights, with_symbols=False)]
            ranks = [order.index(g) + 1 if g in order else None for g in task["gold_files"]]
            rows[name].append(_Row(ranks, bool(ran)))
    traced = sum(row.traced for row in rows["defaults"])
    print(f"{len(tasks)} tasks, {traced} with files their code ran\n")
    print("| setting | all: Acc@1 / 3 / 5 / 10 | those whose code ran |\n|---|---|---|")
    for name, found in rows.items():
        print(f"| {name} | {_accuracy(found)} | {_accuracy([r for r in found if r.traced])} |")


def _accuracy(rows: list[_Row]) -> str:
    def hit(row: _Row, k: int) -> bool:
        return all(r is not None and r <= k for r in row.ranks)

    return " / ".join(f"{100 * sum(hit(r, k) for r in rows) / max(1, len(rows)):.1f}" for k in KS)


def _tasks(path: Path, only: str) -> Iterator[dict[str, Any]]:
    for task in json.loads(path.read_text())["tasks"]:
        if only in task["instance_id"]:
            yield task


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:5])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=Path, required=True)
    parser.add_argument("--trees", type=Path, required=True)
    parser.add_argument("--only", default="sympy")
    parser.add_argument("--package", default="sympy")
    parser.add_argument("--python", required=True, help="an interpreter with its dependencies")
    parser.add_argument("--weight", type=float, default=2.0)
    parser.add_argument("--traces", type=Path, default=Path("/tmp/codemap-exec-traces.json"))
    args = parser.parse_args()
    tasks = list(_tasks(args.tasks, args.only))
    traces = json.loads(args.traces.read_text()) if args.traces.exists() else {}
    work = Path("/tmp/codemap-exec-blocks")
    work.mkdir(exist_ok=True)
    todo = [t for t in tasks if t["instance_id"] not in traces]
    with ThreadPoolExecutor(2) as pool:
        found = pool.map(lambda t: trace(t, args.trees, args.package, args.python, work), todo)
        for task, result in zip(todo, found, strict=True):
            traces[task["instance_id"]] = result
            args.traces.write_text(json.dumps(traces))
    outcome = [
        "no code" if r.get("no_code") else "not run" if "calls" not in r else "ran"
        for r in (traces[t["instance_id"]] for t in tasks)
    ]
    print({kind: outcome.count(kind) for kind in ("ran", "not run", "no code")})
    measure(tasks, args.trees, traces, args.weight)


if __name__ == "__main__":
    main()
