from __future__ import annotations

import pytest

from app.codemap.syntax import MAX_ERRORS, syntax_errors


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("a.py", b"def f(x):\n    return x\n"),
        ("a.js", b"function f(x) { return x; }\n"),
        ("a.ts", b"const f = (x: number): number => x;\n"),
        ("a.go", b"package main\n\nfunc main() {}\n"),
        ("a.rs", b"fn main() {}\n"),
        ("a.rb", b"def f\n  1\nend\n"),
        ("A.java", b"class A { void f() {} }\n"),
        ("a.php", b"<?php function f() { return 1; }\n"),
        ("a.py", b""),
    ],
)
def test_valid_files_have_no_errors(path: str, source: bytes) -> None:
    assert syntax_errors(path, source) == []


def test_unknown_language_has_no_errors() -> None:
    assert syntax_errors("notes.txt", b"(((") == []
    assert syntax_errors("Makefile", b"all: (((") == []


def test_missing_token_is_located() -> None:
    assert syntax_errors("a.py", b"x = 1\ndef f(:\n    return 1\n") == [(2, 7, "missing ')'")]


def test_unexpected_text_is_located_and_quoted() -> None:
    ((line, column, message),) = syntax_errors("a.js", b"let a = 1;\nlet = = 2;\n")
    assert line == 2
    assert column >= 1
    assert message.startswith("syntax error")


def test_columns_count_characters_not_bytes() -> None:
    errors = syntax_errors("a.py", "s = 'é'; t = (\n".encode())
    assert errors
    assert all(column <= len("s = 'é'; t = (") + 1 for _line, column, _message in errors)


def test_at_most_ten_errors_in_file_order() -> None:
    source = b"".join(b"def f%d(:\n    pass\n" % n for n in range(30))
    errors = syntax_errors("a.py", source)
    assert len(errors) == MAX_ERRORS
    assert errors == sorted(errors)
