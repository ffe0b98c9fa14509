"""Features added to the fixture repositories (tests/fixtures/repos), as a model writes
them: the change and its new test. Used by tests/e2e/test_real_repositories.py and by
bench/prepare_times.py."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Feature:
    fixture: str
    issue: str
    edits: str  # the change and its new test, as the model writes them
    test_id: str
    changed: str  # a file of the change, and ...
    expect: str  # ... a line it must hold on the pull request's branch
    registry: str  # the host the dependencies come from
    runner_words: str  # what the runner prints for a passing run
    conventions: str  # what the model is told of the runner's tests


PYTHON = Feature(
    "python-deps",
    "Reading should also give the temperature in Fahrenheit",
    """src/weather/models.py
<<<<<<< SEARCH
    celsius: float
=======
    celsius: float

    @property
    def fahrenheit(self) -> float:
        return self.celsius * 9 / 5 + 32
>>>>>>> REPLACE

tests/test_fahrenheit.py
<<<<<<< NEW FILE
from weather import Reading


def test_fahrenheit():
    assert Reading(station="OSL", celsius=100).fahrenheit == 212
>>>>>>> NEW FILE
""",
    "tests/test_fahrenheit.py::test_fahrenheit",
    "src/weather/models.py",
    "def fahrenheit(self) -> float:",
    "files.pythonhosted.org:443",
    "1 passed",
    "`tests/test_x.py::test_name`",
)

TYPESCRIPT = Feature(
    "ts-vitest",
    "slugOf should cut a slug to a maximum length",
    """src/slug.ts
<<<<<<< SEARCH
export function slugOf(title: string): string {
  return slugify(title, { lower: true, strict: true });
}
=======
export function slugOf(title: string, max = Infinity): string {
  const slug = slugify(title, { lower: true, strict: true });
  return slug.length <= max ? slug : slug.slice(0, max).replace(/-+$/, "");
}
>>>>>>> REPLACE

src/truncate.test.ts
<<<<<<< NEW FILE
import { expect, it } from "vitest";
import { slugOf } from "./slug";

it("cuts a long slug at a word", () => {
  expect(slugOf("A very long title indeed", 11)).toBe("a-very-long");
});
>>>>>>> NEW FILE
""",
    "src/truncate.test.ts",
    "src/slug.ts",
    "export function slugOf(title: string, max = Infinity): string {",
    "registry.npmjs.org:443",
    "1 passed",
    'from "vitest"',
)

JAVASCRIPT = Feature(
    "js-jest",
    "Carts need a discount",
    """src/cart.js
<<<<<<< SEARCH
module.exports = { total };
=======
/** The total after `percent` off, to the cent. */
function discounted(lines, percent) {
  return currency(total(lines)).multiply(1 - percent / 100).value;
}

module.exports = { total, discounted };
>>>>>>> REPLACE

__tests__/discount.test.js
<<<<<<< NEW FILE
const { discounted } = require("../src/cart");

test("ten percent off", () => {
  expect(discounted([{ price: 10, quantity: 2 }], 10)).toBe(18);
});
>>>>>>> NEW FILE
""",
    "__tests__/discount.test.js",
    "src/cart.js",
    "module.exports = { total, discounted };",
    "registry.npmjs.org:443",
    "1 passed",
    "or any file under `__tests__/`",
)

PHP = Feature(
    "php-phpunit",
    "An invoice should count its items",
    """src/Invoice.php
<<<<<<< SEARCH
    public function total(): Money
=======
    public function itemCount(): int
    {
        return array_sum(array_map(fn (array $line): int => $line[2], $this->lines));
    }

    public function total(): Money
>>>>>>> REPLACE

tests/InvoiceCountTest.php
<<<<<<< NEW FILE
<?php

declare(strict_types=1);

namespace Acme\\Invoice\\Tests;

use Acme\\Invoice\\Invoice;
use Acme\\Money\\Money;
use PHPUnit\\Framework\\TestCase;

final class InvoiceCountTest extends TestCase
{
    public function testCountsItems(): void
    {
        $invoice = (new Invoice())->add('pen', Money::ofCents(1), 2)->add('pad', Money::ofCents(1));
        $this->assertSame(3, $invoice->itemCount());
    }
}
>>>>>>> NEW FILE
""",
    "tests/InvoiceCountTest.php::testCountsItems",
    "src/Invoice.php",
    "public function itemCount(): int",
    "composer.registry.test:80",
    "OK (1 test",
    "PHPUnit `TestCase` subclasses",
)

GO = Feature(
    "go-module",
    "Rectangles should have a perimeter",
    """shapes/rect.go
<<<<<<< SEARCH
// Area of the rectangle.
=======
// Perimeter of the rectangle.
func (r Rect) Perimeter() units.Metres {
	return 2 * (r.Width + r.Height)
}

// Area of the rectangle.
>>>>>>> REPLACE

shapes/perimeter_test.go
<<<<<<< NEW FILE
package shapes

import "testing"

func TestRectPerimeter(t *testing.T) {
	if got := (Rect{Width: 2, Height: 3}).Perimeter(); got != 10 {
		t.Fatalf("perimeter = %v, want 10", got)
	}
}
>>>>>>> NEW FILE
""",
    "shapes::TestRectPerimeter",
    "shapes/rect.go",
    "func (r Rect) Perimeter() units.Metres {",
    "goproxy.registry.test:80",
    "ok",
    "func TestXxx(t *testing.T)",
)

DJANGO = Feature(
    "python-django",
    "The cart should take a percentage discount",
    """cart/pricing.py
<<<<<<< SEARCH
def total(lines: list[tuple[Decimal, int]]) -> Decimal:
=======
def discounted(amount: Decimal, percent: int) -> Decimal:
    \"\"\"`amount` less `percent` per cent, to the cent.\"\"\"
    return (amount * (100 - percent) / 100).quantize(Decimal("0.01"))


def total(lines: list[tuple[Decimal, int]]) -> Decimal:
>>>>>>> REPLACE

cart/test_discount.py
<<<<<<< NEW FILE
from decimal import Decimal

from django.test import SimpleTestCase

from cart.pricing import discounted


class DiscountTests(SimpleTestCase):
    def test_ten_percent(self):
        self.assertEqual(discounted(Decimal("20.00"), 10), Decimal("18.00"))
>>>>>>> NEW FILE
""",
    "cart/test_discount.py::DiscountTests::test_ten_percent",
    "cart/pricing.py",
    "def discounted(amount: Decimal, percent: int) -> Decimal:",
    "files.pythonhosted.org:443",
    "Ran 1 test",
    "Django `TestCase`",
)

FEATURES = (PYTHON, TYPESCRIPT, JAVASCRIPT, PHP, GO, DJANGO)
