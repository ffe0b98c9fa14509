"""The code-intelligence map: a tree-sitter index of a repository, its file and symbol
graph, file localisation from an issue's text, and context rendering for prompts.

    index = build_index(root, BlobCache(cache_dir))
    ranked = Locator(index).locate(issue_text, k=10, include=lambda p: not is_test_path(p))
    context = context_for(index, ranked, budget_tokens=8000)
"""

from app.codemap.cache import DEFAULT_CACHE_DIR, BlobCache
from app.codemap.discover import SkipRules, is_test_path
from app.codemap.graph import CodeGraph, build_graph
from app.codemap.index import IndexStats, RepoIndex, build_index
from app.codemap.locate import Locator, RankedFile, RankedSymbol, Weights, locate
from app.codemap.render import RenderedContext, context_for, render_context

__all__ = [
    "DEFAULT_CACHE_DIR",
    "BlobCache",
    "CodeGraph",
    "IndexStats",
    "Locator",
    "RankedFile",
    "RankedSymbol",
    "RenderedContext",
    "RepoIndex",
    "SkipRules",
    "Weights",
    "build_graph",
    "build_index",
    "context_for",
    "is_test_path",
    "locate",
    "render_context",
]
