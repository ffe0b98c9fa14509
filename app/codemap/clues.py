"""What an issue quotes that the code holds verbatim: command-line options and config keys,
error and warning messages, and the imports of its code (which name the public API it
uses). Pure functions over the issue's text."""

from __future__ import annotations

import re

_CODE_SPAN = re.compile(r"```.*?```|`[^`\n]+`", re.S)
# --foo-bar, --foo_bar, -x is too short to say anything
_OPTION = re.compile(r"(?<![\w-])--([A-Za-z][\w]*(?:-[\w]+)*)")
# foo-bar-baz: pylint's message names, config keys in rc files, tox/ini options
# (not a pasted `pip list`: `pytest-cov   2.8.1`, `pluggy-0.13.1`)
_HYPHENATED = re.compile(r"(?<![\w./-])([a-z][a-z0-9]*(?:-[a-z0-9]+)+)(?![\w/.-]|\s+\d|\s*==)")
# foo_bar as a key: `autodoc_typehints = "none"`, `keep_attrs=True`, `[tool.x] foo_bar`
_KEY = re.compile(r"(?<![\w.])([a-z][a-z0-9]*(?:_[a-z0-9]+)+)\s*[=:]")
_EXCEPTION_LINE = re.compile(
    r"^[ \t]*(?:[\w.]*\.)?\w*(?:Error|Exception|Warning|Exit)\b:\s*(.{12,})$", re.M
)
_LINTER_LINE = re.compile(r":\d+:\d+: [A-Z]\d{4}: (.{12,}?)(?: \([\w-]+\))?$", re.M)
# log and checker lines: `doc.rst:3: WARNING: undefined label: x`, `(models.W042) Auto-...`
_LOG_LINE = re.compile(
    r"(?:\b(?:WARNING|ERROR|CRITICAL|FATAL)\b:?|\(\w+\.[A-Z]\d{3}\))\s+(.{12,})$", re.M
)
# a single quote after a letter is an apostrophe (don't), not the start of a string
_QUOTED = re.compile(r'"([^"\n]{12,200})"|(?<![A-Za-z])\'([^\'\n]{12,200})\'(?![A-Za-z])')
# the literal runs of a message: what is left between interpolated values
_VARIABLE = re.compile(
    r"'[^']*'|\"[^\"]*\"|`[^`]*`|<[^>]*>|\[[^\]]*\]|\([^)]*\)|\S*[\d_/\\]\S*|\S*\w\.\w\S*"
)
# `^[ \t]*`, never `^\s*`, at a line's start: `\s` crosses lines, so each line's start
# would scan all the blank lines after it (quadratic; a GIL held for minutes)
_MESSAGE_CHARS = 300  # what of one quoted message is read (`_VARIABLE` backtracks in it)
_PLAIN_RUN = re.compile(r"[A-Za-z][A-Za-z ,;:!?-]*[A-Za-z]")
_IMPORT = re.compile(r"^[ \t]*import\s+([\w.]+)(?:\s+as\s+(\w+))?\s*$", re.M)
_FROM_IMPORT = re.compile(r"^[ \t]*from\s+([\w.]+)\s+import\s+(?:\(([\w\s,]+)\)|([\w \t,]+))", re.M)
_ALIAS = re.compile(r"\s*(\w+)(?:\s+as\s+(\w+))?\s*")
MAX_CLUES = 12
# conventions so common that issues use them without the import line
CONVENTIONAL_ALIASES = {
    "np": "numpy",
    "pd": "pandas",
    "plt": "matplotlib.pyplot",
    "mpl": "matplotlib",
    "xr": "xarray",
    "sns": "seaborn",
    "sp": "sympy",
    "u": "astropy.units",
}


def options(text: str) -> list[str]:
    """Option and config-key names the issue writes: `--import-mode`, `max-line-length`,
    `autodoc_typehints = ...`; hyphenated words only inside code, where they are names."""
    found = [m.group(1) for m in _OPTION.finditer(text)]
    code = " ".join(m.group(0) for m in _CODE_SPAN.finditer(text))
    found += [m.group(1) for m in _HYPHENATED.finditer(code)]
    found += [m.group(1) for m in _KEY.finditer(code)]
    return [name for name in dict.fromkeys(found) if len(name) >= 4][:MAX_CLUES]


def prose_names(text: str) -> list[str]:
    """Hyphenated names written in prose, outside code (`a false positive for
    unnecessary-comprehension`): a linter's message names, a tool's options. Most are
    plain English (`built-in`); the signal only counts those the code holds as a whole
    string literal in a few files."""
    prose = _CODE_SPAN.sub(" ", text)
    found = [m.group(1) for m in _HYPHENATED.finditer(prose)]
    return [name for name in dict.fromkeys(found) if len(name) >= 4][:MAX_CLUES]


def messages(text: str) -> list[str]:
    """Literal runs (three words or more) of the error, warning and linter messages the
    issue quotes, longest first: what a file that raises the message holds verbatim."""
    quoted = [m.group(1) for m in _EXCEPTION_LINE.finditer(text)]
    quoted += [m.group(1) for m in _LINTER_LINE.finditer(text)]
    quoted += [m.group(1) for m in _LOG_LINE.finditer(text)]
    quoted += [m.group(1) or m.group(2) for m in _QUOTED.finditer(text)]
    runs: list[str] = []
    for message in quoted:
        for run in _PLAIN_RUN.findall(_VARIABLE.sub("\n", message[:_MESSAGE_CHARS])):
            run = " ".join(run.split()).strip(" ,;:-")
            if len(run.split()) >= 3 and len(run) >= 12:
                runs.append(run)
    return sorted(dict.fromkeys(runs), key=len, reverse=True)[:MAX_CLUES]


def imported_names(text: str) -> tuple[dict[str, str], list[str]]:
    """The issue code's imports: alias → module (`import numpy as np`, with the usual
    conventions as defaults), and the dotted names it imports (`from a.b import c` → a.b.c)."""
    aliases = dict(CONVENTIONAL_ALIASES)
    names: list[str] = []
    for match in _IMPORT.finditer(text):
        module, alias = match.group(1), match.group(2)
        if alias:
            aliases[alias] = module
    for match in _FROM_IMPORT.finditer(text):
        module = match.group(1)
        for part in (match.group(2) or match.group(3)).split(","):
            alias_match = _ALIAS.fullmatch(part)
            if alias_match is None:
                continue
            name, alias = alias_match.groups()
            names.append(f"{module}.{name}")
            if alias:
                aliases[alias] = f"{module}.{name}"
            aliases.setdefault(name, f"{module}.{name}")
    return aliases, list(dict.fromkeys(names))
