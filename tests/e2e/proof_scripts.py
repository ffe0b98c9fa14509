"""Repositories and scripted models for the proof's other outcomes: a change that breaks
an existing test, a new test that needs the network, a test runner that is not there."""

from __future__ import annotations

from typing import Any

from tests.e2e import implement_script as script
from tests.e2e.harness import Service, wait_for
from tests.sim.github import GitHubSim
from tests.sim.llm_sim import LLMSimulator, text, tool_call

CONFIG = "[tool.pytest.ini_options]\ntestpaths = ['tests']\npythonpath = ['.']\n"
CALC_FILES = {
    "pyproject.toml": CONFIG,
    "calc.py": "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n",
    "tests/test_calc.py": (
        "from calc import add, sub\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
        "def test_sub():\n    assert sub(3, 2) == 1\n"
    ),
}
MUL_TEST = "tests/test_calc.py::test_mul"
# `mul`, with `sub` broken on the way (its operands swapped)
BREAKING = """calc.py
<<<<<<< SEARCH
def sub(a, b):
    return a - b
=======
def sub(a, b):
    return b - a


def mul(a, b):
    return a * b
>>>>>>> REPLACE

tests/test_calc.py
<<<<<<< SEARCH
def test_sub():
    assert sub(3, 2) == 1
=======
def test_sub():
    assert sub(3, 2) == 1


def test_mul():
    from calc import mul

    assert mul(2, 3) == 6
>>>>>>> REPLACE
"""
REPAIR = """calc.py
<<<<<<< SEARCH
    return b - a
=======
    return a - b
>>>>>>> REPLACE
"""


def script_regression(llm: LLMSimulator) -> None:
    """The coder breaks `sub` while adding `mul`, is told, and repairs it."""
    llm.script(script.PLANNER, text("**Change**\nAdd mul().\n\n**Tests**\n- test_mul"))
    finish = tool_call("finish", {"summary": "mul() multiplies.", "tests": [MUL_TEST]})
    llm.script(
        script.CODER,
        tool_call("apply_edits", {"edits": BREAKING}),
        finish,
        tool_call("apply_edits", {"edits": REPAIR}),
        finish,
    )
    llm.script(script.CHEAP, text("feat(calc): add mul()"))


FETCH_FILES = {
    "pyproject.toml": CONFIG,
    "feed.py": "def title_of(text):\n    return text.splitlines()[0]\n",
    "tests/test_feed.py": (
        "from feed import title_of\n\n\ndef test_title():\n    assert title_of('a\\nb') == 'a'\n"
    ),
}
FETCH_TEST = "tests/test_fetch.py::test_fetch_title"
# a test that reads a live URL: it cannot pass without the network, whatever the code
FETCHING = """feed.py
<<<<<<< SEARCH
def title_of(text):
=======
def fetch_title(url):
    import urllib.request

    return title_of(urllib.request.urlopen(url, timeout=5).read().decode())


def title_of(text):
>>>>>>> REPLACE

tests/test_fetch.py
<<<<<<< NEW FILE
from feed import fetch_title


def test_fetch_title():
    assert fetch_title("https://feeds.example.org/news")
>>>>>>> NEW FILE
"""
FETCH_ISSUE = "Add fetch_title(url) that reads a feed's first line"


def script_fetching(llm: LLMSimulator) -> None:
    llm.script(script.PLANNER, text("**Change**\nfetch_title(url).\n\n**Tests**\n- fetch"))
    llm.script(
        script.CODER,
        tool_call("apply_edits", {"edits": FETCHING}),
        tool_call("finish", {"summary": "fetch_title reads a feed.", "tests": [FETCH_TEST]}),
    )
    llm.script(script.CHEAP, text("feat(feed): fetch_title()"))


def implement_on(
    service: Service, gh: GitHubSim, repo: str, files: dict[str, str], issue: str
) -> tuple[int, int, dict[str, Any]]:
    """`/agentops implement` on a new issue of a new repository (alice may write): the
    issue's number, the run's id and the finished run."""
    gh.add_repo(repo, files)
    gh.set_permission(repo, "alice", "write")
    number, run_id = script.start_implement(service, gh, repo, body=issue)
    run = wait_for(lambda: service.finished(run_id), 180, what="the implement run")
    return number, run_id, run
