"""`agentops mcp --repo PATH` (owned by app/mcp)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from app.cli import CommandFailed
from app.cli.codemap import CACHE_ENV
from app.codemap import DEFAULT_CACHE_DIR
from app.config import ConfigError, load_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mcp = sub.add_parser(
        "mcp",
        help="serve the code map of a checkout to an MCP client over stdio",
        description="An MCP server on stdin/stdout with the tools locate, find_symbol, "
        "outline, context and index_status on one repository, its index kept in memory "
        "per commit. The web process serves the run tools, and these tools on the "
        "repositories it has worked on, at /mcp (streamable HTTP).",
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
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise CommandFailed(str(exc)) from None
    from app.codemap.resident import shared_indexes
    from app.mcp.stdio import serve_stdio  # the SDK only for this command

    cache = Path(args.cache or os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR).expanduser()
    resident = shared_indexes(
        cache,
        max_indexes=settings.codemap_resident_indexes,
        max_bytes=settings.codemap_cache_mb * 1_000_000,
    )
    serve_stdio(root, cache, resident)
    return 0
