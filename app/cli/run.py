"""`agentops run PATH --task-file F`: implement a task on a local checkout, no forge."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from app.cli import CommandFailed
from app.config import load_settings
from app.repo_config import RepoConfigError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="implement a task on a local git checkout (no forge)")
    run.add_argument("path", type=Path, metavar="PATH", help="a git checkout")
    run.add_argument(
        "--task-file",
        type=Path,
        required=True,
        metavar="F",
        help="the task, as an issue would say it (first line: title)",
    )
    run.set_defaults(handler=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not (args.path / ".git").exists():
        raise CommandFailed(f"{args.path} is not a git checkout")
    try:
        task = args.task_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandFailed(f"cannot read the task file: {exc.strerror}") from None
    if not task.strip():
        raise CommandFailed("the task file is empty")

    # the arguments are checked first: the model SDKs take seconds to import
    from app.cli.llm_commands import unreachable_hint
    from app.git import GitError
    from app.llm.errors import AllModelsFailed, LLMError
    from app.sandbox import SandboxUnavailable
    from app.workflow.context import RunRefused
    from app.workflow.local import run_local

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        result = asyncio.run(run_local(settings, args.path.resolve(), task, say))
    except AllModelsFailed as exc:  # nothing reachable: say what to configure
        raise CommandFailed(unreachable_hint(exc, settings) or str(exc)) from None
    except (RunRefused, LLMError, SandboxUnavailable, GitError, RepoConfigError) as exc:
        raise CommandFailed(str(exc).splitlines()[0]) from None
    print(f"# Plan\n\n{result.plan}\n")
    print(f"# Diff\n\n{result.diff}")
    print(f"# Test evidence\n\n{result.verification}\n")
    print(
        f"Branch {result.branch} holds commit {result.commit[:12]} "
        f"(model cost ${result.cost_usd:.4f}).\n"
        f"Its model calls are in {result.calls_file}: `agentops replay {result.calls_file}`."
    )
    return 0
