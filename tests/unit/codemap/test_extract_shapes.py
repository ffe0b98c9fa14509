"""Definitions written as assignments, exports, object literals and docblocks: the shapes
JavaScript, TypeScript and PHP libraries use for much of their API."""

from __future__ import annotations

import time

from app.codemap.extract import extract_symbols, extract_words
from app.codemap.symbols import Definition


def defs(language: str, source: str) -> dict[str, Definition]:
    return {d.qualname: d for d in extract_symbols(language, source.encode()).definitions}


def kinds(language: str, source: str) -> set[tuple[str, str]]:
    return {(d.qualname, d.kind) for d in extract_symbols(language, source.encode()).definitions}


def test_methods_assigned_to_an_object_named_and_anonymous() -> None:
    found = defs(
        "javascript",
        "var res = Object.create(http.ServerResponse.prototype);\n"
        "res.redirect = function redirect(url) {\n  this.location(url);\n};\n"
        "res.links = function(links){ return this; };\n"
        "res.ok = (body) => res.send(body);\n"
        "res.type = function contentType(type) {};\n",
    )
    assert {"res.redirect", "res.links", "res.ok", "res.type"} <= set(found)
    assert found["res.redirect"].name == "redirect"
    assert found["res.redirect"].kind == "method"
    assert found["res.redirect"].signature == "res.redirect = function redirect(url)"
    assert (found["res.redirect"].start_line, found["res.redirect"].end_line) == (2, 4)
    assert found["res.type"].name == "type"  # the property callers use, not the inner name
    assert "contentType" not in {d.name for d in found.values()}


def test_prototype_and_constructor_members_belong_to_the_constructor() -> None:
    found = kinds(
        "javascript",
        "function Layer(path) {\n  this.handle = function () {};\n"
        "  this.hooks.match = () => {};\n}\n"
        "Layer.prototype.match = function match(path) { return true; };\n"
        "Layer.prototype.handle_error = async (err) => {};\n",
    )
    assert found == {
        ("Layer", "function"),
        ("Layer.handle", "method"),
        ("Layer.hooks.match", "method"),
        ("Layer.match", "method"),
        ("Layer.handle_error", "method"),
    }


def test_commonjs_exports_are_top_level_names() -> None:
    found = kinds(
        "javascript",
        "exports.parse = function (text) {};\n"
        "module.exports.stringify = (value) => JSON.stringify(value);\n"
        "exports.Parser = class {};\n"
        "exports.json = bodyParser.json;\n"  # an alias: nothing is defined here
        "exports.etag = createETagGenerator({ weak: false });\n",
    )
    assert found == {("parse", "function"), ("stringify", "function"), ("Parser", "class")}


def test_module_exports_function_takes_its_own_or_its_variables_name() -> None:
    assert set(defs("javascript", "module.exports = function query(options) {};\n")) == {"query"}
    found = defs(
        "javascript",
        "var proto = module.exports = function(options) {\n"
        "  function router(req, res, next) {}\n  return router;\n};\n"
        "proto.handle = function handle(req, res, out) {\n  function next(err) {}\n};\n",
    )
    assert set(found) == {"proto", "proto.router", "proto.handle", "proto.handle.next"}
    assert set(defs("javascript", "module.exports = function (app) {};\n")) == {"default"}


def test_module_exports_object_literal_members() -> None:
    found = kinds(
        "javascript",
        "module.exports = {\n  get header() { return 1; },\n  set header(v) {},\n"
        "  redirect(url) {},\n  vary: function (field) {},\n  is: (type) => true,\n"
        "  status: 200,\n};\n",
    )
    assert found == {
        ("header", "method"),
        ("redirect", "method"),
        ("vary", "method"),
        ("is", "method"),
    }


def test_object_literals_assigned_to_a_name_qualify_their_members() -> None:
    found = defs(
        "javascript",
        "const api = {\n  list: async () => [],\n  get(id) {},\n};\n"
        "app.locals = { helper: function () {} };\n"
        "const config = { port: 8080 };\n"  # no functions: no definition at all
        "register({ onClick: () => {} });\n",  # an option bag passed to a call
    )
    assert set(found) == {"api.list", "api.get", "app.locals.helper"}


def test_class_fields_holding_functions_are_methods() -> None:
    js = kinds(
        "javascript",
        "export class Button {\n  handle = (event) => {};\n  static of = function () {};\n"
        "  label = 'ok';\n}\n",
    )
    assert js == {("Button", "class"), ("Button.handle", "method"), ("Button.of", "method")}
    ts = defs(
        "typescript",
        "export class Immer {\n  produce: IProduce = (base: any, recipe?: any) => {\n"
        "    return base;\n  };\n  private retry = (n: number): number => n + 1;\n}\n",
    )
    assert ts["Immer.produce"].kind == "method"
    assert ts["Immer.produce"].signature == "produce: IProduce = (base: any, recipe?: any) =>"
    assert ts["Immer.retry"].kind == "method"


def test_default_exports_named_and_anonymous() -> None:
    assert kinds("javascript", "export default function render(view) {}\n") == {
        ("render", "function")
    }
    assert kinds("javascript", "export default class Store {}\n") == {("Store", "class")}
    assert kinds("javascript", "export default function () {}\n") == {("default", "function")}
    assert kinds("typescript", "export default async (req: Request) => {};\n") == {
        ("default", "function")
    }
    anonymous_class = kinds("typescript", "export default class {\n  run(): void {}\n}\n")
    assert anonymous_class == {("default", "class"), ("default.run", "method")}
    assert kinds("javascript", "export default {\n  name: 'x',\n  data() {},\n};\n") == {
        ("data", "method")
    }


def test_exported_arrow_constants_and_class_expressions() -> None:
    found = kinds(
        "typescript",
        "export const createStore = <S,>(reducer: Reducer<S>) => {};\n"
        "export const VERSION = '1.0';\n"
        "module.exports = class Application extends Emitter {\n  listen() {}\n};\n"
        "const Queue = class {\n  push(item: unknown) {}\n};\n",
    )
    assert found == {
        ("createStore", "function"),
        ("Application", "class"),
        ("Application.listen", "method"),
        ("Queue", "class"),
        ("Queue.push", "method"),
    }


def test_named_function_expressions_passed_or_returned() -> None:
    found = defs(
        "javascript",
        "defineGetter(req, 'protocol', function protocol() { return 'http'; });\n"
        "function init(app) {\n  return function expressInit(req, res, next) {};\n}\n"
        "items.forEach(function (item) {});\n",
    )
    assert set(found) == {"protocol", "init", "init.expressInit"}


def test_assignments_to_computed_places_define_nothing() -> None:
    source = "methods.forEach(function (m) {\n  app[m] = function (path) {};\n});\n"
    assert defs("javascript", source + "make().x = function () {};\n") == {}


def test_typescript_interfaces_types_enums_and_ambient_functions() -> None:
    found = kinds(
        "typescript",
        "export interface Store<S> {\n  getState(): S\n  dispatch: Dispatch\n}\n"
        "export type Reducer<S> = (state: S | undefined) => S\n"
        "export enum Mode { Strict, Loose }\n"
        "declare function compose(...funcs: Function[]): Function;\n",
    )
    assert found == {
        ("Store", "interface"),
        ("Store.getState", "method"),
        ("Reducer", "type"),
        ("Mode", "enum"),
        ("compose", "function"),
    }


FACADE = """<?php
namespace Illuminate\\Support\\Facades;

/**
 * @method static \\Illuminate\\Routing\\Route get(string $uri, array|string|null $action = null)
 * @method static \\Illuminate\\Routing\\Route|null current()
 * @method static void bind(string $key, string|callable $binder)
 * @method apply()
 *
 * @see \\Illuminate\\Routing\\Router
 */
class Route extends Facade
{
    protected static function getFacadeAccessor()
    {
        return 'router';
    }
}
"""


def test_php_facade_methods_come_from_the_docblock() -> None:
    found = defs("php", FACADE)
    assert {"Route.get", "Route.current", "Route.bind", "Route.apply"} <= set(found)
    get = found["Route.get"]
    assert (get.kind, get.start_line, get.end_line) == ("method", 5, 5)
    assert get.signature.startswith("@method static \\Illuminate\\Routing\\Route get(string $uri")
    assert found["Route.getFacadeAccessor"].kind == "method"
    # a docblock separated from the class by code or blank lines is not the class's
    unrelated = FACADE.replace(" */\nclass Route", " */\n$x = 1;\n\nclass Route")
    assert "Route.get" not in defs("php", unrelated)


def test_a_docblock_of_endless_method_tags_is_bounded_work() -> None:
    """A hostile repository's docblock of 60,000 `@method` tags: lines are counted once,
    not from the block's start for each tag (that took 10 s for one 880 KB file), and
    only the first 2,000 become methods."""
    tags = "".join(f" * @method void m{n}()\n" for n in range(60_000))
    source = f"<?php\n/**\n{tags} */\nclass Huge {{}}\n"
    started = time.process_time()
    found = defs("php", source)
    assert time.process_time() - started < 3.0
    methods = [name for name in found if name.startswith("Huge.m")]
    assert len(methods) == 2_000
    assert found["Huge.m1999"].start_line == 2 + 2_000  # the lines still count right


def test_php_traits_enums_and_interface_methods() -> None:
    source = """<?php
trait Macroable { public static function macro(string $name, callable $m): void {} }
interface Arrayable { public function toArray(): array; }
enum Suit: string {
    case Hearts = 'H';
    public function label(): string { return ucfirst($this->name); }
}
class Collection implements Arrayable {
    use Macroable, \\Illuminate\\Support\\Traits\\Conditionable;
    use EnumeratesValues { map as protected baseMap; }
    public function toArray(): array { return []; }
}
"""
    symbols = extract_symbols("php", source.encode())
    found = {(d.qualname, d.kind) for d in symbols.definitions}
    assert {
        ("Macroable", "trait"),
        ("Macroable.macro", "method"),
        ("Arrayable.toArray", "method"),
        ("Suit", "enum"),
        ("Suit.label", "method"),
        ("Collection.toArray", "method"),
    } <= found
    assert symbols.imports == (
        "Arrayable",
        "Macroable",
        "\\Illuminate\\Support\\Traits\\Conditionable",
        "EnumeratesValues",
    )


def test_php_static_calls_class_constants_and_new_are_references() -> None:
    source = b"""<?php
Route::get('/users', [UserController::class, 'index'])->name('users');
$cache = app('cache');
$mailer = resolve(Mailer::class);
Cache::remember('key', 60, fn () => User::query()->count());
$gateway = new \\App\\Billing\\Gateway(Config::VERSION);
$copy = new static();
"""
    symbols = extract_symbols("php", source)
    assert symbols.definitions == ()
    # the classes it names: the graph links them to their files
    assert symbols.imports == (
        "Route",
        "UserController",
        "Mailer",
        "Cache",
        "User",
        "\\App\\Billing\\Gateway",
        "Config",
    )
    # a container key is only a word: its binding lives in a service provider's code
    used = extract_words(source).identifiers
    assert used["cache"] == 2 and used["remember"] == 1  # $cache and 'cache'
