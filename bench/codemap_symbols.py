"""Symbol recall of the code map on real JavaScript, TypeScript and PHP packages.

    .venv/bin/python bench/codemap_symbols.py --packages DIR [--data bench/codemap_symbols.json]
        [--misses]

bench/codemap_symbols.json lists, per package and file, the names a developer would look
up there (how the lists were made: bench/README.md). DIR/<package>/<root>/<file> is the
unpacked package (an npm tarball, or a Debian package's `dpkg-deb -x`); each entry says
how it was fetched. For every listed file, `extract_symbols` runs on its bytes:

- recall: listed names among the names of the file's definitions, over the listed names;
- precision: definitions' distinct names that are listed, over the distinct names found
  (a name found twice in a file, e.g. a getter and its setter, counts once).

It measures the code it imports: run it with PYTHONPATH at another checkout for a "before".
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from app.codemap.extract import extract_symbols

DEFAULT_DATA = Path(__file__).with_name("codemap_symbols.json")


@dataclass
class Tally:
    expected: int = 0
    recalled: int = 0
    found: int = 0
    listed_found: int = 0
    missed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.expected += other.expected
        self.recalled += other.recalled
        self.found += other.found
        self.listed_found += other.listed_found

    def row(self, label: str, files: int) -> str:
        recall = 100 * self.recalled / self.expected if self.expected else 0.0
        precision = 100 * self.listed_found / self.found if self.found else 0.0
        return (
            f"| {label} | {files} | {self.expected} | {self.recalled} | {recall:.1f} "
            f"| {self.found} | {precision:.1f} |"
        )


def measure(language: str, root: Path, files: dict[str, str]) -> Tally:
    tally = Tally()
    for path, listed in files.items():
        expected = set(listed.split())
        source_path = root / path
        if not source_path.is_file():
            raise SystemExit(f"missing {source_path}: unpack the package first (see --help)")
        symbols = extract_symbols(language, source_path.read_bytes())
        if symbols.skipped:
            raise SystemExit(f"{source_path} was skipped as {symbols.skipped}")
        names = {d.name for d in symbols.definitions}
        tally.expected += len(expected)
        tally.recalled += len(expected & names)
        tally.found += len(names)
        tally.listed_found += len(names & expected)
        tally.missed += [f"{path}: {name}" for name in sorted(expected - names)]
        tally.extra += [f"{path}: {name}" for name in sorted(names - expected)]
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--packages", type=Path, required=True, help="DIR/<package>/...")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--misses", action="store_true", help="list missed and extra names")
    args = parser.parse_args()
    packages = json.loads(args.data.read_text())["packages"]
    by_language: defaultdict[str, Tally] = defaultdict(Tally)
    files_by_language: defaultdict[str, int] = defaultdict(int)
    print("| package | files | listed | recalled | recall % | names found | precision % |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, package in packages.items():
        root = args.packages / name / package["root"]
        tally = measure(package["language"], root, package["files"])
        print(tally.row(f"{name} ({package['language']})", len(package["files"])))
        by_language[package["language"]].add(tally)
        files_by_language[package["language"]] += len(package["files"])
        if args.misses:
            for line in tally.missed:
                print(f"    missed {line}", file=sys.stderr)
            for line in tally.extra:
                print(f"    extra  {line}", file=sys.stderr)
    for language, tally in by_language.items():
        print(tally.row(f"**all {language}**", files_by_language[language]))


if __name__ == "__main__":
    main()
