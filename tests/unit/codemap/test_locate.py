"""`locate` on a small repository: the issue's traceback and names find the right file."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.codemap.graph import build_graph
from app.codemap.index import RepoIndex, build_index
from app.codemap.locate import Locator, Weights, locate
from app.codemap.render import context_for, render_context
from app.test_paths import is_test_path

FIXTURES = Path(__file__).parents[2] / "fixtures" / "codemap"
SHOP = FIXTURES / "shop"


@pytest.fixture(scope="module")
def shop() -> RepoIndex:
    return build_index(SHOP)


def test_traceback_names_the_file_to_fix(shop: RepoIndex) -> None:
    issue = (FIXTURES / "checkout_issue.md").read_text()
    ranked = locate(shop, issue, k=3, include=lambda p: not is_test_path(p))
    assert [r.path for r in ranked][:2] == ["shop/payments/gateway.py", "shop/orders.py"]
    top = ranked[0]
    assert any(reason.startswith("traceback frame: line 10 in charge") for reason in top.reasons)
    assert top.symbols[0].definition.qualname == "charge"
    assert "traceback line 10" in top.symbols[0].reasons
    assert all(not is_test_path(r.path) for r in ranked)


def test_paths_modules_and_identifiers_each_find_a_file(shop: RepoIndex) -> None:
    locator = Locator(shop)
    by_path = locator.locate("Rounding is wrong in shop/payments/currency.py", k=1)
    assert by_path[0].path == "shop/payments/currency.py"
    assert "path mentioned: shop/payments/currency.py" in by_path[0].reasons
    by_module = locator.locate("`shop.catalog.find_product` returns None for a known SKU", k=1)
    assert by_module[0].path == "shop/catalog.py"
    assert by_module[0].symbols[0].definition.name == "find_product"
    by_name = locator.locate("Cart.remove raises KeyError for a product not in the cart", k=1)
    assert by_name[0].path == "shop/cart.py"
    assert by_name[0].symbols[0].definition.qualname == "Cart.remove"


def test_words_alone_rank_by_bm25(shop: RepoIndex) -> None:
    ranked = locate(shop, "refunds are charged twice to the customer", k=2)
    assert ranked[0].path == "shop/payments/gateway.py"
    assert any(reason.startswith("BM25") for reason in ranked[0].reasons)


def test_the_title_outweighs_a_body_about_something_else(shop: RepoIndex) -> None:
    issue = (
        "Removing a product leaves its lines behind\n\n"
        "After a customer checks out, the order is paid and the customer is charged for the "
        "order; when the customer then edits the order before checkout again, the order "
        "total still counts the removed product and the customer is charged for it.\n"
    )
    locator = Locator(shop)
    ranked = locator.locate(issue, k=2)
    assert ranked[0].path == "shop/cart.py"
    assert any(r.startswith("title BM25") and "lines" in r for r in ranked[0].reasons)
    # without the title's own signal the body's words win: the signal is what ranks it
    assert locator.locate(issue, k=1, weights=Weights(title=0))[0].path == "shop/orders.py"


def test_a_switched_off_signal_gives_no_reasons(shop: RepoIndex) -> None:
    issue = (FIXTURES / "checkout_issue.md").read_text()
    no_frames = Weights(frame=0)
    ranked = Locator(shop).locate(issue, k=5, weights=no_frames)
    assert not any(r.startswith("traceback") for f in ranked for r in f.reasons)


def test_context_fits_the_budget_best_file_first(shop: RepoIndex) -> None:
    issue = (FIXTURES / "checkout_issue.md").read_text()
    ranked = locate(shop, issue, k=3, include=lambda p: not is_test_path(p))
    sources = {r.path: (SHOP / r.path).read_text() for r in ranked}
    outlines = {r.path: shop.files[r.path].symbols.definitions for r in ranked}
    full = render_context(ranked, sources, budget_tokens=10_000, outlines=outlines)
    assert full.files == tuple(r.path for r in ranked) and not full.truncated
    assert full.text.startswith("## shop/payments/gateway.py\n")
    assert '   10         raise GatewayError("amount must be positive")' in full.text
    assert "other definitions:" in full.text and "def refund(" in full.text
    small = render_context(ranked, sources, budget_tokens=60, outlines=outlines)
    assert small.truncated and small.tokens <= 60
    assert small.files == ("shop/payments/gateway.py",)
    assert render_context(ranked, sources, budget_tokens=2).files == ()


def test_context_for_reads_the_ranked_files_from_the_tree(shop: RepoIndex) -> None:
    issue = (FIXTURES / "checkout_issue.md").read_text()
    ranked = locate(shop, issue, k=2, include=lambda p: not is_test_path(p))
    context = context_for(shop, ranked, budget_tokens=4000)
    assert context.files == ("shop/payments/gateway.py", "shop/orders.py")
    assert "    8 def charge(customer: str, amount_cents: int) -> str:" in context.text


def test_graph_links_imports(shop: RepoIndex) -> None:
    graph = build_graph(shop)
    assert graph.imports["shop/orders.py"] == {"shop/cart.py", "shop/payments/gateway.py"}
    assert graph.imported_by["shop/payments/currency.py"] == {"shop/payments/gateway.py"}
    assert graph.modules["shop.payments.gateway"] == "shop/payments/gateway.py"


def test_anonymous_default_exports_are_found_by_their_file_name(tmp_path: Path) -> None:
    (tmp_path / "src" / "Button").mkdir(parents=True)
    (tmp_path / "src" / "Button" / "index.jsx").write_text("export default () => null;\n")
    (tmp_path / "src" / "formatPrice.ts").write_text(
        "export default function (cents: number): string { return `${cents / 100}`; }\n"
    )
    (tmp_path / "src" / "named.js").write_text("export default function render() {}\n")
    (tmp_path / "encoder.py").write_text("class E:\n    def default(self, o):\n        pass\n")
    (tmp_path / "default.py").write_text("def default():\n    pass\n")
    graph = build_graph(build_index(tmp_path))
    assert [p for p, _ in graph.definers["Button"]] == ["src/Button/index.jsx"]
    assert [p for p, _ in graph.definers["formatPrice"]] == ["src/formatPrice.ts"]
    assert [p for p, _ in graph.definers["render"]] == ["src/named.js"]
    # only Python's own functions named `default` are found by that word
    assert sorted(p for p, _ in graph.definers["default"]) == ["default.py", "encoder.py"]


def test_php_files_link_to_the_classes_they_use_by_namespace(tmp_path: Path) -> None:
    files = {
        "src/Support/Collection.php": "<?php\nnamespace App\\Support;\n"
        "class Collection implements Enumerable { use Macroable; }\n",
        "src/Support/Enumerable.php": "<?php\nnamespace App\\Support;\ninterface Enumerable {}\n",
        "src/Support/Macroable.php": "<?php\nnamespace App\\Support;\ntrait Macroable {}\n",
        "src/Http/UserController.php": "<?php\nnamespace App\\Http;\n"
        "use App\\Support\\Collection;\nclass UserController {\n"
        "    public function index() { return new Collection(); }\n}\n",
        "routes/web.php": "<?php\nuse Illuminate\\Support\\Facades\\Route;\n"
        "Route::get('/users', [\\App\\Http\\UserController::class, 'index']);\n",
        "src/Other/Enumerable.php": "<?php\nnamespace App\\Other;\ninterface Enumerable {}\n",
    }
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    graph = build_graph(build_index(tmp_path))
    assert graph.imports["src/Support/Collection.php"] == {
        "src/Support/Enumerable.php",  # its own namespace's, not App\Other's
        "src/Support/Macroable.php",
    }
    assert graph.imports["src/Http/UserController.php"] == {"src/Support/Collection.php"}
    assert graph.imports["routes/web.php"] == {"src/Http/UserController.php"}
    assert "src/Other/Enumerable.php" not in graph.imported_by
