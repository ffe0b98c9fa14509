"""`agentops llm ask`, `agentops doctor`, `agentops replay` (owned by app/llm).

Only the argument parsers live here; the work is in `llm_commands`, imported when a
command runs, so that `agentops --help` and the other commands start fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROLE_NAMES = ("planner", "coder", "reviewer", "cheap")  # app.llm.types.ROLES


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    llm = sub.add_parser("llm", help="talk to the configured models")
    llm_sub = llm.add_subparsers(dest="llm_command", metavar="SUBCOMMAND", required=True)
    ask = llm_sub.add_parser(
        "ask", help="send one prompt through the router and print the answer and its cost"
    )
    ask.add_argument("prompt", metavar="PROMPT", help="the prompt (user message)")
    ask.add_argument("--role", choices=ROLE_NAMES, default="cheap", help="model role (cheap)")
    ask.add_argument("--system", default="You are a helpful assistant.", help="system prompt")
    ask.add_argument("--max-tokens", type=int, default=1024, help="answer length cap (1024)")
    ask.add_argument("--json", action="store_true", help="print one JSON object")
    ask.set_defaults(handler=cmd_llm_ask)

    doctor = sub.add_parser(
        "doctor", help="check the LLM providers, PostgreSQL, Redis and the forges"
    )
    doctor.set_defaults(handler=cmd_doctor)

    replay = sub.add_parser(
        "replay", help="re-run a finished run's LLM calls against its recorded answers"
    )
    replay.add_argument(
        "run",
        metavar="RUN_ID|FILE",
        help="the run's id, or the file of model calls that `agentops run` printed",
    )
    replay.add_argument("--json", action="store_true", help="print one JSON object")
    replay.add_argument(
        "--checkout",
        type=Path,
        metavar="PATH",
        help="a local clone of the run's repository: re-run the whole implement workflow "
        "offline on it and compare the plan and the diff with the run's",
    )
    replay.set_defaults(handler=cmd_replay)


def cmd_llm_ask(args: argparse.Namespace) -> int:
    from app.cli.llm_commands import cmd_llm_ask as run

    return run(args)


def cmd_doctor(args: argparse.Namespace) -> int:
    from app.cli.llm_commands import cmd_doctor as run

    return run(args)


def cmd_replay(args: argparse.Namespace) -> int:
    from app.cli.llm_commands import cmd_replay as run

    return run(args)
