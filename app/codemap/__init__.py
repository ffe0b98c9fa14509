"""The code-intelligence map: a tree-sitter index of a repository, its file and symbol
graph, file localisation from an issue's text, and context rendering for prompts.

    index = build_index(root, BlobCache(cache_dir))
    files, tests = locate_split(Locator(index), issue_text, k=10)  # source files; their tests
    context = context_for(index, files, budget_tokens=8000)
"""

from app.codemap.cache import DEFAULT_CACHE_DIR, BlobCache
from app.codemap.discover import SkipRules
from app.codemap.graph import CodeGraph, build_graph
from app.codemap.index import IndexStats, RepoIndex, build_index
from app.codemap.locate import Locator, RankedFile, RankedSymbol, Weights, locate
from app.codemap.render import RenderedContext, context_for, render_context
from app.codemap.tests_for import RelatedTest, TestWeights, locate_split, tests_for
from app.test_paths import is_test_path

__all__ = [
    "DEFAULT_CACHE_DIR",
    "BlobCache",
    "CodeGraph",
    "IndexStats",
    "Locator",
    "RankedFile",
    "RankedSymbol",
    "RelatedTest",
    "RenderedContext",
    "RepoIndex",
    "SkipRules",
    "TestWeights",
    "Weights",
    "build_graph",
    "build_index",
    "context_for",
    "is_test_path",
    "locate",
    "locate_split",
    "render_context",
    "tests_for",
]
