"""What an issue quotes verbatim (options, config keys, messages, imports) finds the file
that declares, raises or defines it, on tiny trees where the words alone point elsewhere."""

from __future__ import annotations

from pathlib import Path

from app.codemap import clues
from app.codemap.graph import CodeGraph, module_names
from app.codemap.index import build_index
from app.codemap.locate import Locator, Weights


def _locator(root: Path, files: dict[str, str]) -> Locator:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return Locator(build_index(root))


def _top(locator: Locator, issue: str, weights: Weights | None = None) -> str:
    return locator.locate(issue, k=1, weights=weights)[0].path


def test_an_option_finds_the_file_that_declares_it(tmp_path: Path) -> None:
    locator = _locator(
        tmp_path,
        {
            "tool/options.py": (
                "def add_options(parser):\n"
                "    parser.add_argument('--import-mode', default='prepend')\n"
                "    parser.add_argument('--verbose', action='store_true')\n"
            ),
            "tool/importer.py": (
                "def import_module(path, import_mode):\n"
                "    '''Import a module in the given import mode: prepend, append.'''\n"
                "    if import_mode == 'append':\n"
                "        return import_module_appended(path, import_mode)\n"
                "    return import_module_prepended(path, import_mode)\n"
            ),
        },
    )
    issue = "The default of `--import-mode` should be append\n\nThe import mode prepends."
    ranked = locator.locate(issue, k=2)
    assert ranked[0].path == "tool/options.py"
    assert "declares option import-mode" in ranked[0].reasons
    assert _top(locator, issue, Weights(option=0)) == "tool/importer.py"


def test_a_quoted_message_finds_the_file_that_raises_it(tmp_path: Path) -> None:
    locator = _locator(
        tmp_path,
        {
            "lib/checks.py": (
                "def check(kind, other):\n"
                "    if kind != other:\n"
                "        raise TypeError(f'cannot mix dtypes of kinds {kind} and {other}')\n"
            ),
            "lib/groups.py": (
                "class Categories:\n"
                "    def combine(self, other):\n"
                "        '''Combine categories; unordered categories combine by name.'''\n"
                "        return combine_categories(self.categories, other.categories)\n"
            ),
        },
    )
    issue = (
        "Combining unordered categories fails\n\n```\nTraceback (most recent call last):\n"
        "TypeError: cannot mix dtypes of kinds 'a' and 'b'\n```\n"
    )
    ranked = locator.locate(issue, k=2)
    assert ranked[0].path == "lib/checks.py"
    assert 'holds the message "cannot mix dtypes of kinds"' in ranked[0].reasons
    assert _top(locator, issue, Weights(message=0)) == "lib/groups.py"


def test_a_public_name_is_followed_from_the_package_to_its_definition(tmp_path: Path) -> None:
    locator = _locator(
        tmp_path,
        {
            "plots/__init__.py": "from .relational.lines import lineplot\n",
            "plots/relational/__init__.py": "",
            "plots/relational/lines.py": (
                "def lineplot(data, hue=None):\n    return draw(data, hue)\n"
            ),
            "plots/legacy/__init__.py": "",
            "plots/legacy/old.py": (
                "def lineplot(data, hue=None, legend=True):\n    return draw(data, hue)\n"
            ),
        },
    )
    issue = (
        "Each hue is drawn twice\n\n```python\nimport plots as pl\n"
        "pl.lineplot(data, hue='kind')\n```\nThe legend shows each hue twice."
    )
    # off by default (it cost top-1 places on both development sets; bench/README.md)
    ranked = locator.locate(issue, k=2, weights=Weights(api=1.0))
    assert ranked[0].path == "plots/relational/lines.py"
    assert any(r.startswith("defines pl.lineplot") for r in ranked[0].reasons)
    assert _top(locator, issue) == "plots/legacy/old.py"


def test_clues_read_from_issue_text() -> None:
    text = (
        "Crash with --load-plugins and `max-line-length`\n\n"
        "I don't know why, it's 'odd' here.\n"
        "```\nimport numpy as np\nfrom sympy import solve, Symbol as S\n"
        'autodoc_typehints = "none"\npytest-cov     2.8.1\n'
        "ValueError: The truth value of an array with more than one element is ambiguous\n"
        "a.py:1:0: C0114: Missing module docstring (missing-module-docstring)\n"
        "index.rst:3: WARNING: undefined label: 'intro'\n```\n"
        "shop.Cart: (models.W042) Auto-created primary key used when not defining a key.\n"
    )
    assert clues.options(text) == [
        "load-plugins",
        "max-line-length",
        "missing-module-docstring",
        "autodoc_typehints",
    ]
    assert clues.messages(text) == [
        "The truth value of an array with more than one element is ambiguous",
        "Auto-created primary key used when not defining a key",
        "Missing module docstring",
    ]
    aliases, names = clues.imported_names(text)
    assert names == ["sympy.solve", "sympy.Symbol"]
    assert aliases["S"] == "sympy.Symbol"
    assert aliases["np"] == "numpy"


def test_a_hyphenated_name_in_prose_finds_the_checker_that_declares_it(tmp_path: Path) -> None:
    locator = _locator(
        tmp_path,
        {
            "lint/checkers/refactoring.py": (
                "MSGS = {'R1721': ('Use %s instead', 'unnecessary-comprehension', 'x')}\n"
                "def visit_comprehension(node):\n    return suggest(node.comprehension)\n"
                "# a copy of nodes and their generators in order, one by one\n"
            ),
            "lint/checkers/copying.py": (
                "def suggest_copy(comprehension, shallow_copy):\n"
                "    '''Suggestion: a shallow copy of a list comprehension.'''\n"
                "    return shallow_copy(comprehension)\n"
            ),
        },
    )
    issue = "Fix unnecessary-comprehension\n\nThe built-in suggestion is a shallow copy."
    ranked = locator.locate(issue, k=2)
    assert ranked[0].path == "lint/checkers/refactoring.py"
    assert "declares name unnecessary-comprehension" in ranked[0].reasons
    assert _top(locator, issue, Weights(prose_name=0)) == "lint/checkers/copying.py"


def test_a_module_path_without_its_top_package_finds_the_module(tmp_path: Path) -> None:
    locator = _locator(
        tmp_path,
        {
            "lint/__init__.py": "",
            "lint/checkers/__init__.py": "",
            "lint/checkers/utils.py": (
                "def is_sys_guard(node):\n    return node.test\n\n"
                + "".join(f"def helper_{i}(node):\n    return node.parent\n\n" for i in range(4))
            ),
            "lint/checkers/conditions.py": (
                "def conditional_import(node, six):\n    return node.test and six.PY2\n"
            ),
            "lint/extensions/utils.py": "def is_guard(node):\n    return node\n",
        },
    )
    issue = "checkers.utils.is_sys_guard misses six.PY2\n\nAn import under six."
    ranked = locator.locate(issue, k=2)
    assert ranked[0].path == "lint/checkers/utils.py"
    assert "module mentioned: checkers.utils.is_sys_guard" in ranked[0].reasons
    assert _top(locator, issue, Weights(module_tail=0)) == "lint/checkers/conditions.py"


def test_module_tails_and_prose_names_are_read_narrowly() -> None:
    graph = build_graph_of(
        ["pkg/a/utils.py", "pkg/b/utils.py", "pkg/a/deep/core.py", "src/tool/x/y.py"]
    )
    tails = graph.modules_by_tail()
    assert tails["a.utils"] == ["pkg/a/utils.py"]
    assert tails["deep.core"] == tails["a.deep.core"] == ["pkg/a/deep/core.py"]
    assert "utils" not in tails  # one part says nothing
    assert "pkg.a.utils" not in tails  # the whole name is `modules`' own
    assert tails["x.y"] == ["src/tool/x/y.py"]
    text = "A false positive for `unused-import` and unnecessary-comprehension, a built-in one."
    assert clues.prose_names(text) == ["unnecessary-comprehension", "built-in"]


def build_graph_of(paths: list[str]) -> CodeGraph:
    graph = CodeGraph()
    for path in paths:
        for name in module_names(path):
            graph.modules.setdefault(name, path)
    return graph
