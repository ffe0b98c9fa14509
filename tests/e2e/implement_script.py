"""A small Python repository, an issue about it, and a scripted model that resolves it.

The coder reads a file, sends one malformed edit (refused), fixes it, runs the tests,
finishes with a test that does not prove anything (sent back), adds a real one, and
finishes again.
"""

from __future__ import annotations

from tests.e2e import github_events as events
from tests.e2e.conftest import GITHUB_SECRET
from tests.e2e.harness import Service
from tests.sim.github import GitHubSim
from tests.sim.llm_sim import LLMSimulator, slow, text, tool_call

PLANNER = "sim-planner"
CODER = "sim-coder"
CHEAP = "sim-cheap"

FILES = {
    "calc.py": "def add(a, b):\n    return a + b\n\n\ndef divide(a, b):\n    return a / b\n",
    "tests/test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n",
    "pyproject.toml": '[tool.pytest.ini_options]\ntestpaths = ["tests"]\npythonpath = ["."]\n',
}
ISSUE_TITLE = "divide() should refuse a zero divisor"
ISSUE_BODY = (
    "Calling `divide(1, 0)` in calc.py raises ZeroDivisionError. It should raise "
    "ValueError('cannot divide by zero') instead."
)

MALFORMED = """calc.py
<<<<<<< SEARCH
def divide(a, b):
    return a // b
=======
def divide(a, b):
    return 0
>>>>>>> REPLACE
"""

FIX = """calc.py
<<<<<<< SEARCH
def divide(a, b):
    return a / b
=======
def divide(a, b):
    if b == 0:
        raise ValueError("cannot divide by zero")
    return a / b
>>>>>>> REPLACE
"""

CHANGE = (
    FIX
    + """
tests/test_divide.py
<<<<<<< NEW FILE
from calc import divide


def test_divide_works():
    assert divide(6, 3) == 2
>>>>>>> NEW FILE
"""
)

REAL_TEST = """tests/test_divide.py
<<<<<<< SEARCH
def test_divide_works():
    assert divide(6, 3) == 2
=======
def test_divide_works():
    assert divide(6, 3) == 2


def test_divide_by_zero_raises():
    import pytest

    with pytest.raises(ValueError, match="cannot divide by zero"):
        divide(1, 0)
>>>>>>> REPLACE
"""

COMMIT_MESSAGE = "fix(calc): refuse a zero divisor in divide()\n\nRaise ValueError instead."


PLAN = (
    "**Change**\n1. `calc.py`, `divide`: raise ValueError for b == 0.\n\n"
    "**Tests**\n- `tests/test_divide.py::test_divide_by_zero_raises`\n\n"
    "**Risks**\nNone."
)

# the fix and its proving test at once (REAL_TEST's test, with no weak one before it)
DIRECT_CHANGE = (
    FIX
    + """
tests/test_divide.py
<<<<<<< NEW FILE
import pytest

from calc import divide


def test_divide_by_zero_raises():
    with pytest.raises(ValueError, match="cannot divide by zero"):
        divide(1, 0)
>>>>>>> NEW FILE
"""
)
FINISHED = {
    "summary": "divide() raises ValueError for a zero divisor.",
    "tests": ["tests/test_divide.py::test_divide_by_zero_raises"],
}


def script_resolution(llm: LLMSimulator, plan_seconds: float = 0.0) -> None:
    """The answers of a resolution; the plan comes after `plan_seconds`."""
    llm.script(PLANNER, slow(plan_seconds, text(PLAN)))
    llm.script(
        CODER,
        tool_call("read_file", {"path": "calc.py"}, say="Let me look at calc.py."),
        tool_call("apply_edits", {"edits": MALFORMED}),
        tool_call("apply_edits", {"edits": CHANGE}, say="The SEARCH was wrong; again."),
        tool_call("run_tests", {}),
        tool_call(
            "finish",
            {
                "summary": "divide() raises ValueError for a zero divisor.",
                "tests": ["tests/test_divide.py::test_divide_works"],
            },
        ),
        tool_call("apply_edits", {"edits": REAL_TEST}),
        tool_call("finish", FINISHED),
    )
    llm.script(CHEAP, text(COMMIT_MESSAGE))


def script_direct_resolution(llm: LLMSimulator) -> None:
    """The answers of a resolution with no detour: the plan, the change with its proving
    test in one edit, finished (fewer sandbox runs); for tests of what happens around an
    implement run, not of the coder's loop."""
    llm.script(PLANNER, text(PLAN))
    llm.script(
        CODER, tool_call("apply_edits", {"edits": DIRECT_CHANGE}), tool_call("finish", FINISHED)
    )
    llm.script(CHEAP, text(COMMIT_MESSAGE))


def reviewer_env(base_url: str, model: str) -> dict[str, str]:
    """The LLM simulator at `base_url`, speaking Anthropic's API, with `model` the one
    model configured (the reviewer's)."""
    return {
        "AGENTOPS_ANTHROPIC_API_KEY": "sk-ant-sim-0000000000000000000000",
        "AGENTOPS_ANTHROPIC_BASE_URL": base_url,
        "AGENTOPS_LLM_MODELS": f'{{"reviewer": ["anthropic:{model}"]}}',
    }


def llm_env(base_url: str) -> dict[str, str]:
    """The LLM simulator at `base_url`, speaking Anthropic's and OpenAI's APIs, with a
    model for every role."""
    return reviewer_env(base_url, PLANNER) | {
        "AGENTOPS_OPENAI_API_KEY": "sk-sim-00000000000000000000000000",
        "AGENTOPS_OPENAI_BASE_URL": f"{base_url}/v1",
        "AGENTOPS_LLM_MODELS": (
            f'{{"planner": ["anthropic:{PLANNER}"], "coder": ["anthropic:{CODER}"],'
            f' "reviewer": ["anthropic:{PLANNER}"], "cheap": ["openai:{CHEAP}"]}}'
        ),
    }


def comment_command(
    service: Service,
    gh: GitHubSim,
    repo: str,
    number: int,
    command: str,
    user: str = "alice",
    *,
    pull_request: bool = False,
    delivery: str | None = None,
) -> int:
    """Write `command` (e.g. `/agentops review`) on issue or pull request `number` as
    `user` and deliver the signed event (as delivery `delivery`, else a new one); the id
    of the run it starts."""
    comment_id = gh.add_comment(repo, number, command, user=user)
    payload = events.issue_comment(
        repo,
        gh.installation_id(repo),
        number,
        command,
        user,
        pull_request=pull_request,
        comment_id=comment_id,
    )
    response = service.post_github("issue_comment", payload, GITHUB_SECRET, delivery)
    assert response.status_code == 202, response.text
    return int(response.text.split()[-1])


def start_implement(
    service: Service, gh: GitHubSim, repo: str, body: str = ISSUE_BODY, user: str = "alice"
) -> tuple[int, int]:
    """Open the issue, write `/agentops implement` on it as `user`: (issue number, run id)."""
    number = gh.add_issue(repo, ISSUE_TITLE, body, user=user)
    return number, comment_command(service, gh, repo, number, "/agentops implement", user)
