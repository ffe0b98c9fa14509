"""Reading an issue's text: paths, traceback frames, dotted names and identifiers."""

from __future__ import annotations

from app.codemap.graph import module_names, resolve_dotted
from app.codemap.mentions import path_matches, read_mentions
from app.codemap.terms import identifier_terms, text_terms

ISSUE = """\
QuerySet.bulk_create() crashes on SQLite

See django/db/models/query.py. Calling `Entry.objects.bulk_create(objs)` gives:

Traceback (most recent call last):
  File "/home/me/site/app/views.py", line 10, in create
    Entry.objects.bulk_create(objs)
  File "/usr/lib/python3/site-packages/django/db/models/query.py", line 502, in bulk_create
    self._batched_insert(objs)
  File "/usr/lib/python3/site-packages/django/db/backends/sqlite3/operations.py", line 40, \
in bulk_batch_size
    return len(objs)
TypeError: boom

src/_pytest/python.py:1234: in pytest_pycollect_makeitem
"""


def test_frames_are_numbered_from_the_innermost() -> None:
    frames = read_mentions(ISSUE).frames
    python_frames = [f for f in frames if f.path.endswith("operations.py")]
    assert python_frames[0].function == "bulk_batch_size"
    assert python_frames[0].line == 40
    innermost = min(frames, key=lambda f: f.position)
    assert innermost.path == "src/_pytest/python.py"
    assert innermost.function == "pytest_pycollect_makeitem"
    assert [f.function for f in sorted(frames, key=lambda f: -f.position)][:3] == [
        "create",
        "bulk_create",
        "bulk_batch_size",
    ]


def test_paths_dotted_names_and_identifier_weights() -> None:
    mentions = read_mentions(ISSUE)
    assert mentions.paths == ["django/db/models/query.py"]
    assert "Entry.objects.bulk_create" in mentions.dotted
    assert "QuerySet.bulk_create" in mentions.dotted
    assert mentions.identifiers["bulk_create"] == 2.0  # in code and called
    assert mentions.identifiers["crashes"] == 1.0  # prose
    assert "sqlite" in mentions.words


def test_path_matching_at_directory_boundaries() -> None:
    assert path_matches(
        "/usr/lib/site-packages/django/db/models/query.py", "django/db/models/query.py"
    )
    assert path_matches("models/query.py", "django/db/models/query.py")
    assert path_matches("./setup.py", "setup.py")
    assert not path_matches("query.py", "django/db/models/sql/subquery.py")
    assert not path_matches("xdjango/db/models/query.py", "django/db/models/query.py")


def test_module_names_and_dotted_resolution() -> None:
    assert module_names("src/_pytest/python.py") == ["src._pytest.python", "_pytest.python"]
    assert module_names("django/db/__init__.py") == ["django.db"]
    assert module_names("docs/conf-old.py") == []
    modules = {"django.db.models.query": "django/db/models/query.py", "django.db": "x"}
    assert resolve_dotted("django.db.models.query.QuerySet.filter", modules) == (
        "django/db/models/query.py",
        "QuerySet.filter",
    )
    assert resolve_dotted("flask.app", modules) is None


def test_terms_split_code_words() -> None:
    assert identifier_terms("getHTTPResponse_code") == (
        "http",
        "response",
        "code",
        "gethttpresponse_code",
    )
    assert identifier_terms("E108") == ("e108",)
    assert identifier_terms("self") == ()
    assert text_terms("The QuerySet is empty") == ["query", "queryset", "empty"]
