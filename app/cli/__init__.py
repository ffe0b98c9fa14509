"""The `agentops` command line. Each module in this package registers its subcommands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from app.config import ConfigError

Handler = Callable[[argparse.Namespace], int]


class CommandFailed(Exception):
    """A subcommand's one-line reason for exiting non-zero."""


def build_parser() -> argparse.ArgumentParser:
    from app.cli import codemap, gitlab, llm, mcp, run
    from app.cli import service as service_commands

    parser = argparse.ArgumentParser(
        prog="agentops", description="Self-hosted AI engineering bot for GitHub and GitLab."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (service_commands, codemap, mcp, llm, run, gitlab):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except (ConfigError, CommandFailed) as exc:
        print(f"agentops {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
