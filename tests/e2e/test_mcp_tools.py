"""The operator's MCP servers as tools of the agent, through the real web and worker
processes, the real SDK and a real server process (`tests/fixtures/mcp/docs_lookup.py`):
the scripted coder looks up the house rules with `docs.lookup` and writes the change the
rule asks for; a slow call is a tool error the run survives; the server's secret reaches
neither the model nor the run's log; the calls are on the run page and its event stream.
A repository that names a server the operator does not have is refused before any model
is asked."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import implement_script as script
from tests.e2e.conftest import forge_env
from tests.e2e.harness import ROOT, RedisServer, Service, base_env, running, wait_for
from tests.e2e.test_run_page import SESSION_SECRET, sign_in
from tests.sim.github import GitHubSim
from tests.sim.gitlab import GitLabSim
from tests.sim.llm_sim import LLMSimulator, Reply, from_last_result, structured, text, tool_call

pytestmark = pytest.mark.e2e
FIXTURE = ROOT / "tests" / "fixtures" / "mcp" / "docs_lookup.py"
DOCS_TOKEN = "docs-e2e-token-Hq2v8ZrK4mXa"
SERVERS = {
    "docs": {
        "command": [sys.executable, str(FIXTURE)],
        "env": {"DOCS_TOKEN": "{secret:DOCS}"},
        "tools": ["lookup", "leak_token", "slow"],
        "repos": ["acme/*"],
        "timeout_seconds": 3,
    }
}


def descendants(pid: int) -> list[int]:
    """The processes started, directly or not, by `pid`, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):  # gone meanwhile
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.fixture(scope="module")
def service(
    e2e_database_url: str,
    redis_server: RedisServer,
    github: tuple[GitHubSim, str],
    gitlab: tuple[GitLabSim, str],
    llm: tuple[LLMSimulator, str],
    workdir: Path,
) -> Iterator[Service]:
    gh, _ = github
    env = base_env(e2e_database_url, redis_server.url, workdir)
    env |= forge_env(*github, *gitlab) | script.llm_env(llm[1])
    settings = {"AGENTOPS_MCP_SERVERS": json.dumps(SERVERS), "AGENTOPS_MCP_SECRET_DOCS": DOCS_TOKEN}
    with running(env, workdir, settings, sign_in=gh, session_secret=SESSION_SECRET) as svc:
        yield svc


def change_following(rule: str) -> Reply:
    """The coder's edit, with the error message the house rule prescribes."""
    found = re.search(r"ValueError\('([^']+)'\)", rule)
    message = found.group(1) if found else "no rule found"
    edits = (
        "calc.py\n<<<<<<< SEARCH\ndef divide(a, b):\n    return a / b\n=======\n"
        f'def divide(a, b):\n    if b == 0:\n        raise ValueError("{message}")\n'
        "    return a / b\n>>>>>>> REPLACE\n\n"
        "tests/test_divide.py\n<<<<<<< NEW FILE\nimport pytest\n\nfrom calc import divide\n\n\n"
        "def test_divide_by_zero_raises():\n"
        f'    with pytest.raises(ValueError, match="{message}"):\n'
        "        divide(1, 0)\n>>>>>>> NEW FILE\n"
    )
    return tool_call("apply_edits", {"edits": edits}, say="Following house rule E1.")


def _uses_docs(gh: GitHubSim, repo: str) -> None:
    """`repo` on the simulator, asking for the docs server, alice a writer."""
    gh.add_repo(repo, script.FILES | {".agentops.yml": "mcp_servers: [docs]\n"})
    gh.set_permission(repo, "alice", "write")


def test_the_coder_uses_an_mcp_tool_and_its_answer(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gh, _ = github
    sim, _ = llm
    repo = "acme/calc-docs"
    _uses_docs(gh, repo)
    sim.script(script.PLANNER, text(script.PLAN))
    sim.script(
        script.CODER,
        # what a model sends: the provider's form of `docs.leak_token`, `docs.lookup`
        tool_call("docs__leak_token", {}),
        tool_call("docs__lookup", {"topic": "errors"}, say="What do the house rules say?"),
        from_last_result(change_following),
        tool_call("docs__slow", {"seconds": 30}),  # past its time: the server is stopped
        tool_call("finish", script.FINISHED),
    )
    sim.script(script.CHEAP, text(script.COMMIT_MESSAGE))
    _, run_id = script.start_implement(service, gh, repo)
    run = wait_for(lambda: service.finished(run_id), 180, what="the implement run")
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])

    coder = sim.requests_for(script.CODER)
    assert len(coder) == 5 and sim.refused == []
    offered = {t["name"]: t["description"] for t in coder[0].body["tools"]}
    assert {"docs__lookup", "docs__leak_token", "docs__slow", "read_file"} <= set(offered)
    assert "house style guide" in offered["docs__lookup"]
    assert "`docs.lookup`" in str(coder[0].body["system"])  # named in the system prompt
    slow = coder[4].body["messages"][-1]["content"][0]
    assert slow["is_error"] and "docs.slow did not answer within 3 s" in slow["content"]
    answer = coder[2].body["messages"][-1]["content"][0]
    assert answer["content"].startswith('<untrusted-data source="MCP tool docs.lookup (result)">')
    assert "House rule E1" in answer["content"]
    assert DOCS_TOKEN not in json.dumps([r.body for r in sim.requests])
    assert "token=[REDACTED]" in json.dumps(coder[1].body["messages"][-1])

    # the change is the one the server's answer asked for
    branch = gh.pulls(repo)[0]["head"]["ref"]
    changed = subprocess.run(
        ["git", "show", f"{branch}:calc.py"],
        cwd=gh.bare_path(repo),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert 'raise ValueError("E1: cannot divide by zero")' in changed

    # the calls are in the run's record, on its page and in its event stream
    alice = sign_in(service, gh, "alice")
    html = alice.get(f"{service.url}/runs/{run_id}").text
    assert "Tool <strong>docs.lookup</strong>" in html and "House rule E1" in html
    assert 'Tool <strong>docs.slow</strong> <span class="status s-failed">error' in html
    assert "MCP tools: docs.lookup, docs.leak_token, docs.slow" in html
    stream = alice.get(f"{service.url}/runs/{run_id}/events").text
    assert "docs.lookup" in stream and DOCS_TOKEN not in stream + html
    # the server process went with the tool loop (of this service's worker: another test
    # module may run the same fixture server meanwhile)
    assert service.worker.process is not None
    assert not [p for p in descendants(service.worker.process.pid) if str(FIXTURE) in cmdline(p)]


@pytest.mark.parametrize(
    ("repo", "config", "says"),
    [
        # a name the operator does not have at all
        ("acme/calc-nodocs", "mcp_servers: [docs, shell-runner]\n", "(its servers: docs)"),
        # the operator's docs server serves `acme/*` only: elsewhere it is not offered
        ("mallory/calc", "mcp_servers: [docs]\n", "(its servers: none)"),
    ],
)
def test_a_server_the_repository_may_not_use_is_refused_before_any_model_call(
    service: Service,
    github: tuple[GitHubSim, str],
    llm: tuple[LLMSimulator, str],
    repo: str,
    config: str,
    says: str,
) -> None:
    gh, _ = github
    sim, _ = llm
    gh.add_repo(repo, script.FILES | {".agentops.yml": config})
    gh.set_permission(repo, "alice", "write")
    asked = len(sim.requests)
    number, run_id = script.start_implement(service, gh, repo)
    run = wait_for(lambda: service.finished(run_id), 120, what="the refused run")
    assert run["status"] == "failed", service.logs()[-3000:]
    assert len(sim.requests) == asked  # no model was asked

    def refusal() -> str | None:
        said = [c["body"] for c in gh.comments(repo, number) if c["user"]["login"] == gh.bot_login]
        return next((s for s in said if "MCP server" in s), None)

    said = wait_for(refusal, 30, what="the refusal on the issue")  # posted as the run ends
    assert f"1 MCP server(s) this repository may not use {says}" in said
    assert "Fix .agentops.yml" in said and "shell-runner" not in said


def test_a_reviewer_looks_things_up_before_its_one_answer(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gh, _ = github
    sim, _ = llm
    repo = "acme/calc-review"  # no `mcp_servers:`: every server of the operator
    gh.add_repo(repo, script.FILES)
    gh.set_permission(repo, "alice", "write")
    head = {"calc.py": script.FILES["calc.py"].replace("return a / b", "return a // b")}
    gh.push_branch(repo, "floor", head, message="floor division")
    number = gh.add_pull(repo, "floor", title="Floor division", body="Faster.", user="alice")
    answer = {"summary": "Per house rule T1 the change needs tests/test_calc.py.", "comments": []}
    sim.script(
        script.PLANNER,  # the reviewer's model in this module
        tool_call("docs__lookup", {"topic": "tests"}),
        text("ready"),
        structured(answer),
    )
    run_id = script.comment_command(
        service, gh, repo, number, "/agentops review", pull_request=True
    )
    run = wait_for(lambda: service.finished(run_id), 120, what="the review run")
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])

    asked = sim.requests_for(script.PLANNER)[-3:]
    assert [t["name"] for t in asked[0].body["tools"]] == [
        "docs__lookup",
        "docs__leak_token",
        "docs__slow",
    ]
    assert "you may look things up" in str(asked[0].body["messages"][0])
    final = asked[2].body
    assert "tools" not in final and final["output_config"]["format"]["type"] == "json_schema"
    looked_up = str(final["messages"][-1])
    assert "What you looked up" in looked_up and "House rule T1" in looked_up
    assert "MCP tool docs.lookup (result)" in looked_up  # fenced as data
    [review] = gh.reviews(repo, number)
    assert answer["summary"] in review["body"]


def test_fix_on_a_pull_request_uses_the_mcp_tools_too(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gh, _ = github
    sim, _ = llm
    repo, branch = "acme/calc-fix-docs", "readme"
    _uses_docs(gh, repo)
    gh.push_branch(repo, branch, {"README.md": "# calc\n"}, message="a readme")
    number = gh.add_pull(repo, branch, title="A readme", user="alice")
    sim.script(
        script.CODER,
        tool_call("docs__lookup", {"topic": "errors"}),
        from_last_result(change_following),
        tool_call("finish", script.FINISHED),
    )
    body = "/agentops fix make divide() follow the house rule on errors"
    run_id = script.comment_command(service, gh, repo, number, body, pull_request=True)
    run = wait_for(lambda: service.finished(run_id), 180, what="the fix run")
    assert run["status"] == "succeeded", (run["error"], service.logs()[-4000:])
    first = sim.requests_for(script.CODER)[-3]
    assert "docs__lookup" in [t["name"] for t in first.body["tools"]]
    tip = gh.branch_sha(repo, branch)
    changed = subprocess.run(
        ["git", "show", f"{tip}:calc.py"],
        cwd=gh.bare_path(repo),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert 'raise ValueError("E1: cannot divide by zero")' in changed


def test_a_run_refused_during_the_tool_loop_says_why_not_internal_error(
    service: Service, github: tuple[GitHubSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gh, _ = github
    sim, _ = llm
    repo = "acme/calc-giveup"
    _uses_docs(gh, repo)
    sim.script(script.PLANNER, text(script.PLAN))
    sim.script(
        script.CODER,
        tool_call("docs__lookup", {"topic": "errors"}),
        text("I cannot do this."),
        text("Still no."),
    )
    number, run_id = script.start_implement(service, gh, repo)
    run = wait_for(lambda: service.finished(run_id), 180, what="the refused run")
    assert run["status"] == "failed", service.logs()[-3000:]

    def reply() -> str | None:
        said = [c["body"] for c in gh.comments(repo, number) if c["user"]["login"] == gh.bot_login]
        return next((s for s in said if "not completed" in s or "internal" in s), None)

    said = wait_for(reply, 30, what="the reply on the issue")
    assert "the change was not completed (the model stopped without calling finish)" in said
    assert "internal error" not in said
