"""The repository's file and symbol graph: where each name is defined, which file imports
which, and which files use the names another file defines."""

from __future__ import annotations

import posixpath
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from app.codemap.index import RepoIndex
from app.codemap.phpnames import file_namespace, php_class_files, resolve_php_name
from app.codemap.symbols import Definition

_JS_LIKE = frozenset({"javascript", "typescript", "tsx"})
_JS_SUFFIXES = ("", ".ts", ".tsx", ".js", ".jsx", ".mjs", "/index.ts", "/index.tsx", "/index.js")
_SOURCE_ROOTS = frozenset({"src", "lib", "python", "source"})


@dataclass
class CodeGraph:
    # name → the files and definitions that define it
    definers: dict[str, list[tuple[str, Definition]]] = field(default_factory=dict)
    # dotted module name → file, for Python-style imports and dotted mentions
    modules: dict[str, str] = field(default_factory=dict)
    imports: dict[str, set[str]] = field(default_factory=dict)  # file → files it imports
    imported_by: dict[str, set[str]] = field(default_factory=dict)

    _lower: dict[str, list[str]] | None = None
    _tails: dict[str, list[str]] | None = None

    def definers_by_lower_name(self) -> dict[str, list[str]]:
        """lower-cased name → the defined names that fold to it."""
        if self._lower is None:
            lower: defaultdict[str, list[str]] = defaultdict(list)
            for name in self.definers:
                lower[name.lower()].append(name)
            self._lower = dict(lower)
        return self._lower

    def modules_by_tail(self) -> dict[str, list[str]]:
        """The trailing parts (two or more, not the whole) of each dotted module name → the
        files with a module name ending so: `checkers.utils` → [pylint/checkers/utils.py]."""
        if self._tails is None:
            tails: defaultdict[str, set[str]] = defaultdict(set)
            for name, path in self.modules.items():
                parts = name.split(".")
                for start in range(1, len(parts) - 1):
                    tails[".".join(parts[start:])].add(path)
            self._tails = {tail: sorted(paths) for tail, paths in tails.items()}
        return self._tails

    def neighbours(self, path: str) -> set[str]:
        return self.imports.get(path, set()) | self.imported_by.get(path, set())


def module_names(path: str) -> list[str]:
    """Dotted names a Python file can be imported as: `src/pkg/a.py` → pkg.a (and src.pkg.a)."""
    if not path.endswith((".py", ".pyi")):
        return []
    parts = path.rsplit(".", 1)[0].split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if not parts or not all(p.isidentifier() for p in parts):
        return []
    names = [".".join(parts)]
    if len(parts) > 1 and parts[0] in _SOURCE_ROOTS:
        names.append(".".join(parts[1:]))
    return names


def default_export_name(path: str) -> str:
    """The name an anonymous default export is found by: its file's stem, or its folder's
    for an index file (`src/Button/index.jsx` → Button). Extraction reads bytes only, as
    its results are cached by content, so this naming happens here, with the path."""
    parts = path.rsplit(".", 1)[0].split("/")
    if parts[-1] == "index" and len(parts) > 1:
        return parts[-2]
    return parts[-1]


def build_graph(index: RepoIndex) -> CodeGraph:
    graph = CodeGraph()
    definers: defaultdict[str, list[tuple[str, Definition]]] = defaultdict(list)
    for path, indexed in index.files.items():
        js_like = indexed.symbols.language in _JS_LIKE
        for definition in indexed.symbols.definitions:
            name = definition.name
            if js_like and definition.qualname == "default":
                name = default_export_name(path)
            definers[name].append((path, definition))
        for name in module_names(path):
            graph.modules.setdefault(name, path)
    graph.definers = dict(definers)
    paths = set(index.files)
    classes = php_class_files(
        (p, f.symbols.definitions) for p, f in index.files.items() if f.symbols.language == "php"
    )
    imported_by: defaultdict[str, set[str]] = defaultdict(set)
    for path, indexed in index.files.items():
        symbols = indexed.symbols
        if symbols.language == "php":
            namespace = file_namespace(symbols.definitions)
            targets = {
                target
                for raw in symbols.imports
                if (target := _resolve_php(path, raw, namespace, classes, paths)) is not None
            }
        else:
            targets = set(
                _resolve_imports(path, symbols.language, symbols.imports, graph.modules, paths)
            )
        targets.discard(path)
        if targets:
            graph.imports[path] = targets
            for target in targets:
                imported_by[target].add(path)
    graph.imported_by = dict(imported_by)
    return graph


_MODULE_DEPTH = 32  # deeper than any package's modules


def resolve_dotted(name: str, modules: dict[str, str]) -> tuple[str, str] | None:
    """The file for the longest module prefix of a dotted name, and the rest of the name:
    `django.db.models.query.QuerySet` → (django/db/models/query.py, "QuerySet")."""
    parts = name.split(".", _MODULE_DEPTH)[:_MODULE_DEPTH]  # a hostile `a.a.a…` is no module
    for end in range(len(parts), 0, -1):
        path = modules.get(".".join(parts[:end]))
        if path is not None:
            return path, ".".join(parts[end:])
    return None


def _resolve_imports(
    path: str, language: str, imports: Iterable[str], modules: dict[str, str], paths: set[str]
) -> Iterable[str]:
    for raw in imports:
        if language == "python":
            target = _resolve_python(path, raw, modules)
        elif language in _JS_LIKE and raw.startswith("."):
            target = _resolve_relative(path, raw, paths, _JS_SUFFIXES)
        elif language == "ruby" and ("/" in raw or raw.endswith(".rb")):
            target = _resolve_relative(path, raw, paths, ("", ".rb"))
        else:
            target = None
        if target is not None:
            yield target


def _resolve_php(
    path: str, raw: str, namespace: str, classes: dict[str, str], paths: set[str]
) -> str | None:
    """A `require`d path, or a `use`d class, trait or interface."""
    if "/" in raw or raw.endswith(".php"):
        return _resolve_relative(path, raw, paths, ("", ".php"))
    return resolve_php_name(raw, namespace, classes)


def _resolve_python(path: str, raw: str, modules: dict[str, str]) -> str | None:
    name = raw.split(" ")[0]
    if name.startswith("."):
        dots = len(name) - len(name.lstrip("."))
        package = path.rsplit("/", 1)[0].split("/") if "/" in path else []
        base = package[: len(package) - (dots - 1)] if dots > 1 else package
        rest = name[dots:]
        name = ".".join([*base, rest] if rest else base)
        found = resolve_dotted(name, modules)
        if found is None and base and base[0] in _SOURCE_ROOTS:
            found = resolve_dotted(".".join(name.split(".")[1:]), modules)
    else:
        found = resolve_dotted(name, modules)
    return found[0] if found else None


def _resolve_relative(
    path: str, raw: str, paths: set[str], suffixes: tuple[str, ...]
) -> str | None:
    base = posixpath.normpath(posixpath.join(posixpath.dirname(path), raw))
    for suffix in suffixes:
        if base + suffix in paths:
            return base + suffix
    return None
