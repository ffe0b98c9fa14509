"""Files under docs/ and examples/ quote the code's names; with the prior on, the code
that defines them ranks above the page that shows them."""

from __future__ import annotations

from pathlib import Path

from app.codemap.index import build_index
from app.codemap.locate import Locator, Weights


def test_the_defining_file_outranks_the_example_that_quotes_it(tmp_path: Path) -> None:
    files = {
        "pkg/bars.py": "def barplot(values, width=0.8):\n    return draw(values, width)\n",
        "examples/bar_widths.py": "from pkg.bars import barplot\nbarplot([1, 2], width=0.5)\n",
    }
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    locator = Locator(build_index(tmp_path))
    issue = "barplot ignores the bar width\n\nEach bar width is drawn as 0.8."
    assert locator.locate(issue, k=1)[0].path == "pkg/bars.py"
    assert locator.locate(issue, k=1, weights=Weights(docs=0))[0].path == "examples/bar_widths.py"
