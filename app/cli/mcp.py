"""`agentops mcp --repo PATH` (owned by app/mcp)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from app.cli import CommandFailed
from app.cli.codemap import CACHE_ENV
from app.codemap import DEFAULT_CACHE_DIR


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mcp = sub.add_parser(
        "mcp",
        help="serve the code map of a checkout to an MCP client over stdio",
        description="An MCP server on stdin/stdout with the tools locate, find_symbol, "
        "outline, context and index_status on one repository. The web process serves "
        "the run tools at /mcp (streamable HTTP).",
    )
    mcp.add_argument("--repo", type=Path, required=True, help="a checkout or source tree")
    mcp.add_argument(
        "--cache",
        type=Path,
        default=None,
        help=f"cache directory (${CACHE_ENV}, else {DEFAULT_CACHE_DIR})",
    )
    mcp.set_defaults(handler=cmd_mcp)


def cmd_mcp(args: argparse.Namespace) -> int:
    root: Path = args.repo
    if not root.is_dir():
        raise CommandFailed(f"{root} is not a directory")
    from app.mcp.stdio import serve_stdio  # the SDK only for this command

    cache = args.cache or Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR)
    serve_stdio(root, cache.expanduser())
    return 0
