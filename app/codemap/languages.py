"""The languages the code map reads: file extensions, tree-sitter grammars and queries.

Grammars come from the per-language wheels on PyPI; nothing is downloaded at run time.
Each definitions query captures a definition node as `@def.<kind>` with its `@name`,
and each import as `@import` (the node whose text names the imported module). PHP's
imports are also the classes a file names in `extends`/`implements`, `use Trait;`, static
calls (`Route::get`), `X::class` and `new X`: a class of the same namespace needs no `use`,
and these are how a file depends on one (the graph resolves them by namespace).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from tree_sitter import Language, Parser, Query


@dataclass(frozen=True)
class LanguageSpec:
    name: str
    extensions: tuple[str, ...]
    module: str
    loader: str
    query: str
    # How deep in the tree a definition may start: deep enough for methods of classes in
    # namespaces, exports or blocks and for functions nested in methods; walking every
    # level (closures of closures) makes the query cost up to twice as much.
    max_depth: int = 8


_PYTHON = """
(class_definition name: (identifier) @name) @def.class
(function_definition name: (identifier) @name) @def.function
(import_statement name: (dotted_name) @import)
(import_statement name: (aliased_import name: (dotted_name) @import))
(import_from_statement module_name: (_) @import)
"""

_JS_FUNCTION = "[(function_expression) (arrow_function) (generator_function)]"
# What an assignment or a default export may define; app/codemap/jsmembers.py names it.
_JS_VALUE = "[(function_expression) (arrow_function) (generator_function) (class) (object)]"

_JS_COMMON = """
(function_declaration name: (identifier) @name) @def.function
(generator_function_declaration name: (identifier) @name) @def.function
(method_definition name: (property_identifier) @name) @def.method
(variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)])
  @def.function
(import_statement source: (string (string_fragment) @import))
(export_statement source: (string (string_fragment) @import))
(call_expression function: (identifier) @_req
  arguments: (arguments (string (string_fragment) @import)) (#eq? @_req "require"))
(arguments (function_expression name: (identifier) @name) @def.function)
(return_statement (function_expression name: (identifier) @name) @def.function)
(assignment_expression
  left: (member_expression object: (_) @scope property: (property_identifier) @name)
  right: _VALUE @value) @def.function
(variable_declarator name: (identifier) @name value: [(class) (object)] @value) @def.function
(export_statement value: _VALUE @value) @def.function
(pair key: (property_identifier) @name value: _FUNCTION @value) @def.method
""".replace("_VALUE", _JS_VALUE).replace("_FUNCTION", _JS_FUNCTION)

_JAVASCRIPT = (
    _JS_COMMON
    + """
(class_declaration name: (identifier) @name) @def.class
(class name: (identifier) @name) @def.class
(field_definition property: (property_identifier) @name
  value: [(arrow_function) (function_expression)]) @def.method
"""
)

_TYPESCRIPT = (
    _JS_COMMON
    + """
(class_declaration name: (type_identifier) @name) @def.class
(abstract_class_declaration name: (type_identifier) @name) @def.class
(interface_declaration name: (type_identifier) @name) @def.interface
(type_alias_declaration name: (type_identifier) @name) @def.type
(enum_declaration name: (identifier) @name) @def.enum
(internal_module name: (_) @name) @def.namespace
(method_signature name: (property_identifier) @name) @def.method
(abstract_method_signature name: (property_identifier) @name) @def.method
(function_signature name: (identifier) @name) @def.function
(class name: (type_identifier) @name) @def.class
(public_field_definition name: (property_identifier) @name
  value: [(arrow_function) (function_expression)]) @def.method
"""
)

_PHP = """
(namespace_definition name: (namespace_name) @name) @def.namespace
(class_declaration name: (name) @name) @def.class
(interface_declaration name: (name) @name) @def.interface
(trait_declaration name: (name) @name) @def.trait
(enum_declaration name: (name) @name) @def.enum
(function_definition name: (name) @name) @def.function
(method_declaration name: (name) @name) @def.method
(namespace_use_clause (qualified_name) @import)
(namespace_use_clause (name) @import)
(use_declaration [(name) (qualified_name)] @import)
(base_clause [(name) (qualified_name)] @import)
(class_interface_clause [(name) (qualified_name)] @import)
(scoped_call_expression scope: [(name) (qualified_name)] @import)
(class_constant_access_expression . [(name) (qualified_name)] @import)
(object_creation_expression [(name) (qualified_name)] @import
  (#not-match? @import "^(self|static|parent)$"))
(require_once_expression (string (string_content) @import))
(require_expression (string (string_content) @import))
(include_expression (string (string_content) @import))
(include_once_expression (string (string_content) @import))
"""

_GO = """
(function_declaration name: (identifier) @name) @def.function
(method_declaration name: (field_identifier) @name) @def.method
(type_spec name: (type_identifier) @name type: (interface_type)) @def.interface
(type_spec name: (type_identifier) @name type: (struct_type)) @def.class
(import_spec path: (interpreted_string_literal (interpreted_string_literal_content) @import))
"""

_JAVA = """
(class_declaration name: (identifier) @name) @def.class
(interface_declaration name: (identifier) @name) @def.interface
(enum_declaration name: (identifier) @name) @def.enum
(record_declaration name: (identifier) @name) @def.class
(annotation_type_declaration name: (identifier) @name) @def.interface
(method_declaration name: (identifier) @name) @def.method
(constructor_declaration name: (identifier) @name) @def.method
(import_declaration (scoped_identifier) @import)
"""

_RUBY = """
(module name: (_) @name) @def.module
(class name: (_) @name) @def.class
(method name: (_) @name) @def.function
(singleton_method name: (_) @name) @def.function
(call method: (identifier) @_req arguments: (argument_list (string (string_content) @import))
  (#match? @_req "^require"))
"""

_RUST = """
(mod_item name: (identifier) @name) @def.module
(struct_item name: (type_identifier) @name) @def.class
(enum_item name: (type_identifier) @name) @def.enum
(union_item name: (type_identifier) @name) @def.class
(trait_item name: (type_identifier) @name) @def.trait
(impl_item type: (_) @name) @def.impl
(function_item name: (identifier) @name) @def.function
(function_signature_item name: (identifier) @name) @def.function
(macro_definition name: (identifier) @name) @def.function
(use_declaration argument: (_) @import)
"""

LANGUAGES: tuple[LanguageSpec, ...] = (
    LanguageSpec("python", (".py", ".pyi"), "tree_sitter_python", "language", _PYTHON, 6),
    LanguageSpec(
        "javascript",
        (".js", ".jsx", ".mjs", ".cjs"),
        "tree_sitter_javascript",
        "language",
        _JAVASCRIPT,
    ),
    LanguageSpec(
        "typescript",
        (".ts", ".mts", ".cts"),
        "tree_sitter_typescript",
        "language_typescript",
        _TYPESCRIPT,
    ),
    LanguageSpec("tsx", (".tsx",), "tree_sitter_typescript", "language_tsx", _TYPESCRIPT),
    LanguageSpec("php", (".php",), "tree_sitter_php", "language_php", _PHP),
    LanguageSpec("go", (".go",), "tree_sitter_go", "language", _GO),
    LanguageSpec("java", (".java",), "tree_sitter_java", "language", _JAVA),
    LanguageSpec("ruby", (".rb", ".rake"), "tree_sitter_ruby", "language", _RUBY),
    LanguageSpec("rust", (".rs",), "tree_sitter_rust", "language", _RUST),
)

_BY_EXTENSION: dict[str, LanguageSpec] = {
    ext: spec for spec in LANGUAGES for ext in spec.extensions
}
_BY_NAME: dict[str, LanguageSpec] = {spec.name: spec for spec in LANGUAGES}


def language_for_path(path: str) -> str | None:
    """The language name for a file path, or None when the code map does not read it."""
    dot = path.rfind(".")
    if dot < 0 or "/" in path[dot:]:
        return None
    spec = _BY_EXTENSION.get(path[dot:].lower())
    return spec.name if spec else None


@dataclass(frozen=True)
class LoadedLanguage:
    spec: LanguageSpec
    language: Language
    parser: Parser
    query: Query
    # Per pattern of the query: its `@def.<kind>` capture and the kind, None for imports.
    definition_kinds: tuple[tuple[str, str] | None, ...]


@cache
def load_language(name: str) -> LoadedLanguage:
    """The grammar, a parser and the compiled query for one language (built once)."""
    spec = _BY_NAME[name]
    module = importlib.import_module(spec.module)
    loader: Callable[[], Any] = getattr(module, spec.loader)
    language = Language(loader())
    query = Query(language, spec.query)
    kinds: list[tuple[str, str] | None] = []
    for pattern in range(query.pattern_count):
        text = spec.query.encode()[
            query.start_byte_for_pattern(pattern) : query.end_byte_for_pattern(pattern)
        ].decode()
        capture = re.search(r"@(def\.(\w+))", text)
        kinds.append((capture[1], capture[2]) if capture else None)
    return LoadedLanguage(spec, language, Parser(language), query, tuple(kinds))
