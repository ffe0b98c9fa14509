"""PHP class names to files, for the graph: `use Illuminate\\Support\\Facades\\Route;` and a
class's `use Loggable;` link to the files that declare them.

PHP resolves names by namespace, not by path (Composer's PSR-4 maps namespaces to folders
per project), so the graph resolves a used name against the classes the index found:
fully qualified first, then relative to the using file's namespace.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.codemap.symbols import Definition

_CLASS_LIKE = frozenset({"class", "interface", "trait", "enum"})


def file_namespace(definitions: Iterable[Definition]) -> str:
    """The file's first namespace, "" for the global one."""
    return next((d.name for d in definitions if d.kind == "namespace"), "")


def php_class_files(files: Iterable[tuple[str, tuple[Definition, ...]]]) -> dict[str, str]:
    """Fully qualified class, interface, trait and enum names → the file declaring them
    (the first one when two files declare the same name)."""
    classes: dict[str, str] = {}
    for path, definitions in files:
        namespace = ""
        for definition in definitions:
            if definition.kind == "namespace":
                namespace = definition.name
            elif definition.kind in _CLASS_LIKE and definition.qualname in (
                definition.name,
                f"{namespace}.{definition.name}",  # inside `namespace X { … }`
            ):
                qualified = f"{namespace}\\{definition.name}" if namespace else definition.name
                classes.setdefault(qualified, path)
    return classes


def resolve_php_name(raw: str, namespace: str, classes: dict[str, str]) -> str | None:
    """The file declaring a used name: `\\A\\B` and `A\\B` as written, then `B` or `Sub\\B`
    in the using file's namespace."""
    name = raw.strip().lstrip("\\")
    found = classes.get(name)
    if found is None and namespace and not raw.startswith("\\"):
        found = classes.get(f"{namespace}\\{name}")
    return found
