"""Extraction on realistic code in each language: what a reader of the file would list."""

from __future__ import annotations

import gc

from app.codemap.extract import (
    _query_outline,
    _signature,
    content_skip_reason,
    extract_symbols,
    extract_words,
)
from app.codemap.languages import language_for_path, load_language
from app.codemap.pywalk import python_outline
from app.codemap.symbols import Definition


def defs(language: str, source: str) -> dict[str, Definition]:
    return {d.qualname: d for d in extract_symbols(language, source.encode()).definitions}


def test_python_classes_methods_nested_functions_and_decorators() -> None:
    source = '''\
import os.path
from .base import Model as BaseModel
from ..db import connection


@dataclass
class QuerySet(BaseModel):
    """A lazy query."""

    @property
    def db(self) -> str:
        return connection.alias

    async def bulk_create(self, objs, batch_size=None):
        def chunks(items):
            yield items
        return list(chunks(objs))


def helper(x: int) -> int:
    return x
'''
    symbols = extract_symbols("python", source.encode())
    found = {d.qualname: d for d in symbols.definitions}
    assert set(found) == {
        "QuerySet",
        "QuerySet.db",
        "QuerySet.bulk_create",
        "QuerySet.bulk_create.chunks",
        "helper",
    }
    assert found["QuerySet"].kind == "class"
    assert found["QuerySet"].signature == "class QuerySet(BaseModel)"
    assert (found["QuerySet"].start_line, found["QuerySet"].end_line) == (7, 17)
    assert found["QuerySet.bulk_create"].kind == "method"
    assert found["QuerySet.bulk_create"].signature == (
        "async def bulk_create(self, objs, batch_size=None)"
    )
    assert found["QuerySet.bulk_create.chunks"].kind == "function"
    assert found["helper"].signature == "def helper(x: int) -> int"
    assert symbols.imports == ("os.path", ".base", "..db")
    assert extract_words(source.encode()).identifiers["connection"] == 2
    assert symbols.lines == 21


PYTHON_NESTING = """\
import a.b, c as d, e.f as g
from . import x
if TYPE_CHECKING:
    from typing import Any
try:
    import fast
except ImportError:
    def fallback(): pass
else:
    class Fast: pass
finally:
    pass
@decorate
class Outer(Base):
    x = lambda self: 1
    if DEBUG:
        def debug(self): pass
    with lock:
        @staticmethod
        def locked(): pass
    class Inner:
        def method(self):
            import json
            def closure():
                def deeper():
                    def deepest(): pass
    async def run(self):
        for item in items:
            while True:
                match item:
                    case 1:
                        def too_deep(): pass
"""


def test_python_outline_walk_matches_the_definitions_query() -> None:
    loaded = load_language("python")
    source = PYTHON_NESTING.encode()
    root = loaded.parser.parse(source).root_node
    assert not root.has_error
    walk = python_outline(loaded.language, source, root, loaded.spec.max_depth, _signature)
    assert walk is not None
    walked, walked_imports = walk
    queried, queried_imports = _query_outline(loaded, source, root)
    assert tuple(walked) == queried
    assert walked_imports == queried_imports == [
        "a.b", "c", "e.f", ".", "typing", "fast"
    ]  # fmt: skip
    assert [(d.qualname, d.kind) for d in walked] == [
        ("fallback", "function"),
        ("Fast", "class"),
        ("Outer", "class"),
        ("Outer.debug", "method"),
        ("Outer.Inner", "class"),
        ("Outer.Inner.method", "method"),
        ("Outer.run", "method"),
    ]  # below the depth limit (6 levels, decorators count): locked, json, closure, too_deep


def test_extraction_leaves_no_garbage_for_the_cycle_collector() -> None:
    # indexing pauses the collector: garbage in cycles would hold every file's source.
    # Other threads of the test process (servers of earlier tests) may make garbage of
    # their own meanwhile, so only garbage that extraction made counts.
    for language in ("python", "typescript"):
        extract_symbols(language, b"class A:\n    def f(self): pass\n")  # grammar loaded
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            extract_symbols(language, PYTHON_NESTING.encode())
            gc.collect()
            ours = [item for item in gc.garbage if _made_by_extraction(item)]
            assert ours == []
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()


def _made_by_extraction(item: object) -> bool:
    module = getattr(type(item), "__module__", "") or ""
    if module.startswith(("tree_sitter", "app.codemap")):
        return True
    code = getattr(item, "f_code", None) or getattr(item, "__code__", None)
    filename = getattr(code, "co_filename", "")
    return "codemap" in filename or "tree_sitter" in filename


def test_javascript_classes_arrow_functions_and_requires() -> None:
    source = """\
const path = require('path');
import { render } from './render.js';

export class Router extends Base {
  constructor(routes) { super(); this.routes = routes; }
  match(url) { return this.routes.find((r) => r.test(url)); }
}

export const handle = async (req, res) => { res.end(); };
function* ids() { yield 1; }
"""
    found = defs("javascript", source)
    assert {"Router", "Router.constructor", "Router.match", "handle", "ids"} <= set(found)
    assert found["Router.match"].kind == "method"
    assert found["handle"].kind == "function"
    assert found["handle"].signature.startswith("handle = async (req, res) =>")
    assert extract_symbols("javascript", source.encode()).imports == ("path", "./render.js")


def test_typescript_interfaces_namespaces_types_and_tsx() -> None:
    source = """\
import type { Options } from "./options";

export namespace Http {
  export interface Request { url: string; send(body: string): Promise<void>; }
  export type Method = "GET" | "POST";
  export enum Status { Ok = 200 }
}

export abstract class Client<T> implements Http.Request {
  url = "";
  abstract send(body: string): Promise<void>;
  protected retry = (n: number): number => n + 1;
}
"""
    found = defs("typescript", source)
    assert found["Http"].kind == "namespace"
    assert found["Http.Request"].kind == "interface"
    assert found["Http.Request.send"].kind == "method"
    assert found["Http.Method"].kind == "type"
    assert found["Http.Status"].kind == "enum"
    assert found["Client"].kind == "class"
    assert found["Client.send"].kind == "method"
    tsx = defs("tsx", "export function App(): JSX.Element { return <div>{1}</div>; }\n")
    assert tsx["App"].kind == "function"


def test_php_namespaces_traits_interfaces_and_methods() -> None:
    source = """<?php
namespace App\\Http\\Controllers;

use Illuminate\\Support\\Facades\\Route;
require_once 'helpers.php';

interface Renders { public function render(): string; }

trait Loggable {
    public function log(string $message): void { echo $message; }
}

final class UserController extends Controller implements Renders {
    use Loggable;
    public function render(): string { return view('users'); }
    public static function routes(): void {}
}

function helper(int $x): int { return $x; }
"""
    symbols = extract_symbols("php", source.encode())
    found = {d.qualname: d for d in symbols.definitions}
    assert found["App\\Http\\Controllers"].kind == "namespace"
    assert found["Loggable"].kind == "trait"
    assert found["Loggable.log"].kind == "method"
    assert found["Renders"].kind == "interface"
    assert found["UserController.render"].signature == "public function render(): string"
    assert found["UserController.routes"].kind == "method"
    assert found["helper"].kind == "function"
    # the classes it extends, implements and uses as traits are imports of the file too
    assert symbols.imports == (
        "Illuminate\\Support\\Facades\\Route",
        "helpers.php",
        "Controller",
        "Renders",
        "Loggable",
    )


def test_go_java_ruby_rust_definitions() -> None:
    go = defs(
        "go",
        'package p\nimport "fmt"\ntype Server struct{}\ntype Handler interface{}\n'
        "func (s *Server) Serve() error { return nil }\nfunc New() *Server { return nil }\n",
    )
    assert go["Server"].kind == "class" and go["Handler"].kind == "interface"
    assert go["Serve"].kind == "method" and go["New"].kind == "function"

    java = defs(
        "java",
        "package a;\nimport java.util.List;\npublic class Box<T> {\n"
        "  public Box() {}\n  public T get() { return null; }\n"
        "  interface Visitor { void visit(); }\n}\n",
    )
    assert {"Box", "Box.Box", "Box.get", "Box.Visitor", "Box.Visitor.visit"} <= set(java)

    ruby = defs(
        "ruby",
        "module Shop\n  class Cart < Base\n    def add(item)\n    end\n"
        "    def self.empty\n    end\n  end\nend\n",
    )
    assert ruby["Shop"].kind == "module"
    assert ruby["Shop.Cart"].kind == "class"
    assert ruby["Shop.Cart.add"].kind == "method"
    assert ruby["Shop.Cart.empty"].kind == "method"

    rust_source = (
        "use std::io;\npub struct Parser { pos: usize }\n"
        "impl Parser {\n    pub fn new() -> Self { Parser { pos: 0 } }\n}\n"
        "pub trait Visit { fn visit(&self); }\n"
    )
    rust_kinds = {
        (d.qualname, d.kind) for d in extract_symbols("rust", rust_source.encode()).definitions
    }
    assert {("Parser", "class"), ("Parser", "impl"), ("Visit", "trait")} <= rust_kinds
    rust = defs("rust", rust_source)
    assert rust["Parser.new"].kind == "method"
    assert rust["Visit.visit"].kind == "method"


def test_broken_code_still_yields_what_parses() -> None:
    symbols = extract_symbols("python", b"def ok():\n    return 1\n\ndef broken(:\n")
    assert symbols.parse_errors
    assert "ok" in {d.name for d in symbols.definitions}


def test_binary_minified_and_generated_content_is_skipped() -> None:
    assert content_skip_reason(b"\x00\x01binary") == "binary"
    assert content_skip_reason(b"var a=1;" * 2000) == "minified"
    assert content_skip_reason(b"// Code generated by protoc. DO NOT EDIT.\npackage x\n") == (
        "generated"
    )
    assert content_skip_reason(b"def f():\n    return 1\n") is None
    assert extract_symbols("javascript", b"var a=1;" * 2000).skipped == "minified"


def test_languages_by_extension() -> None:
    assert language_for_path("src/app.tsx") == "tsx"
    assert language_for_path("lib/x.d.ts") == "typescript"
    assert language_for_path("a/b.PHP") == "php"
    assert language_for_path("README.md") is None
    assert language_for_path("dir.py/Makefile") is None
