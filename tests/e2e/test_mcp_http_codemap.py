"""The code-map tools of `/mcp` in the real web process, on a repository the service has
worked on (a run of the real worker against the GitHub simulator), driven by the MCP SDK's
own client: the tree of the commit the run checked out (or of one asked for) is fetched
with the installation token, indexed once and kept resident; a hostile commit's links,
huge file and paths out of the tree are never written, read or echoed; a repository the
service has not worked on is a tool error."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import implement_script as script
from tests.e2e.conftest import forge_env
from tests.e2e.harness import ADMIN_TOKEN, RedisServer, Service, base_env, running, wait_for
from tests.e2e.test_mcp_http import RITA_TOKEN, connected, data, text_of
from tests.sim.github import GitHubSim
from tests.sim.gitlab import GitLabSim
from tests.sim.llm_sim import LLMSimulator, text

pytestmark = pytest.mark.e2e
REPO = "acme/mcp-map"
BIG = "# " + "x" * 1_500_000 + "\ndef hidden_in_big() -> None: ...\n"
ISSUE = "divide() should refuse a zero divisor\ncalc.py divide raises ZeroDivisionError."


def git(bare: Path, *args: str, stdin: bytes | None = None) -> str:
    done = subprocess.run(
        ["git", "--git-dir", str(bare), *args], input=stdin, capture_output=True, check=True
    )
    return done.stdout.decode().strip()


def hostile_commit(bare: Path) -> str:
    """A commit on branch `hostile` with what a clone would refuse or follow: links out of
    the tree, a file far over the size limit, and (written with git's plumbing, as a
    hostile server could serve it) paths `..` and `.git`."""

    def blob(content: bytes) -> str:
        return git(bare, "hash-object", "-w", "--stdin", stdin=content)

    def tree(entries: list[tuple[str, str, str, str]]) -> str:
        listing = "".join(f"{mode} {kind} {oid}\t{name}\n" for mode, kind, oid, name in entries)
        return git(bare, "mktree", stdin=listing.encode())

    evil = tree([("100644", "blob", blob(b"def escaped() -> None: ...\n"), "evil.py")])
    calc = script.FILES["calc.py"] + "\n\ndef modulo(a, b):\n    return a % b\n"
    root = tree(
        [
            ("100644", "blob", blob(calc.encode()), "calc.py"),
            ("040000", "tree", git(bare, "rev-parse", "main:tests"), "tests"),
            ("120000", "blob", blob(b"/etc/passwd"), "leak.py"),
            ("120000", "blob", blob(b"/"), "linked"),
            ("100644", "blob", blob(BIG.encode()), "big.py"),
            ("040000", "tree", evil, ".."),
            ("040000", "tree", evil, ".git"),
            ("040000", "tree", evil, ".GIT"),
        ]
    )
    commit = git(bare, "commit-tree", root, "-p", "main", "-m", "hostile", stdin=b"")
    git(bare, "update-ref", "refs/heads/hostile", commit)
    return commit


@pytest.fixture(scope="module")
def sims(github: tuple[GitHubSim, str]) -> tuple[GitHubSim, Path]:
    gh, _ = github
    bare = gh.add_repo(REPO, script.FILES)
    gh.set_permission(REPO, "alice", "admin")
    return gh, bare


@pytest.fixture(scope="module")
def service(
    e2e_database_url: str,
    redis_server: RedisServer,
    github: tuple[GitHubSim, str],
    gitlab: tuple[GitLabSim, str],
    llm: tuple[LLMSimulator, str],
    sims: tuple[GitHubSim, Path],
    workdir: Path,
) -> Iterator[Service]:
    env = base_env(e2e_database_url, redis_server.url, workdir)
    env |= forge_env(*github, *gitlab) | script.llm_env(llm[1])
    settings = {
        "AGENTOPS_OPERATOR_LOGINS": "github:rita",
        "AGENTOPS_MCP_TOKENS": f"github:rita={RITA_TOKEN}",
    }
    with running(env, workdir, settings) as svc:
        yield svc


async def test_unknown_repositories_and_bad_arguments_are_tool_errors(service: Service) -> None:
    async with connected(service, ADMIN_TOKEN) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert {"locate", "find_symbol", "outline", "context", "index_status"} <= set(tools)
        assert all(
            getattr(tools[n].annotations, "read_only_hint", False) for n in ("locate", "outline")
        )
        refusals = [
            ({"repository": "nobody/there"}, "AgentOps has had no run on nobody/there"),
            ({"repository": "../etc"}, "repository must be a full name"),
            ({"repository": REPO, "forge": "svn"}, "forge must be one of"),
            ({"repository": REPO, "commit": "abc"}, "commit must be a full commit SHA"),
        ]
        for arguments, reason in refusals:
            refused = await client.call_tool("index_status", arguments)
            assert refused.is_error and reason in text_of(refused), text_of(refused)


async def test_the_code_map_of_a_repository_the_service_worked_on(
    service: Service, sims: tuple[GitHubSim, Path], llm: tuple[LLMSimulator, str], workdir: Path
) -> None:
    gh, bare = sims
    async with connected(service, ADMIN_TOKEN) as client:
        before = await client.call_tool("locate", {"repository": REPO, "issue_text": ISSUE})
        assert before.is_error and "AgentOps has had no run on" in text_of(before)

    llm[0].script(script.PLANNER, text("**Change**\n1. `calc.py`: refuse zero."))
    number = gh.add_issue(REPO, script.ISSUE_TITLE, script.ISSUE_BODY, user="alice")
    run_id = script.comment_command(service, gh, REPO, number, "/agentops plan")
    run = wait_for(lambda: service.finished(run_id), 90, what="the plan run to end")
    assert run["status"] == "succeeded", service.logs()[-4000:]
    main = git(bare, "rev-parse", "main")

    # an operator's token reads it too (these tools only read)
    async with connected(service, RITA_TOKEN, read_timeout_seconds=120) as client:
        located = await client.call_tool("locate", {"repository": REPO, "issue_text": ISSUE})
        found = data(located)
        assert found["commit"] == main  # the commit the run checked out
        assert [f["path"] for f in found["files"]] == ["calc.py"]
        assert found["tests"][0]["path"] == "tests/test_calc.py"
        assert any(r.startswith("named after calc.py") for r in found["tests"][0]["reasons"])
        assert text_of(located).startswith("<untrusted-data")
        again = data(await client.call_tool("locate", {"repository": REPO, "issue_text": ISSUE}))
        assert again == found
        status = data(await client.call_tool("index_status", {"repository": REPO}))
        assert status["root"] == f"github:{REPO}@{main}" and status["commit"] == main
        assert status["resident"]["cold"] == 1 and status["resident"]["updates"] == 0
        assert status["resident"]["hits"] >= 2  # the second locate and this call: from memory
        assert str(workdir) not in str(status)

        hostile = hostile_commit(bare)
        at = {"repository": REPO, "commit": hostile}
        status = data(await client.call_tool("index_status", at))
        assert status["commit"] == hostile and status["files"] == 2  # calc.py, the test
        assert status["resident"]["updates"] == 1  # from the first commit's changed blobs
        symbols = data(await client.call_tool("find_symbol", at | {"name": "modulo"}))
        assert [d["path"] for d in symbols["definitions"]] == ["calc.py"]
        for name in ("escaped", "hidden_in_big"):
            nothing = data(await client.call_tool("find_symbol", at | {"name": name}))
            assert nothing["definitions"] == [], name
        for path in ("leak.py", "linked/etc/passwd", "big.py", "../evil.py", ".git/evil.py"):
            refused = await client.call_tool("outline", at | {"path": path})
            assert refused.is_error, path
            assert "root:" not in text_of(refused) and "hidden_in_big" not in text_of(refused)
        rendered = data(await client.call_tool("context", at | {"paths": ["calc.py"]}))
        assert (
            "def modulo(a, b):" in rendered["text"]
            and rendered["text"].count("</untrusted-data>") == 1
        )
        # a commit the forge holds but no branch of the repository has at its tip (as a
        # fork's commit, which GitHub serves through the base repository by its id), and
        # one it does not hold: neither is fetched
        loose = git(bare, "commit-tree", git(bare, "rev-parse", "main^{tree}"), "-m", "loose")
        for commit in (loose, "0" * 40):
            gone = await client.call_tool("index_status", {"repository": REPO, "commit": commit})
            assert gone.is_error, commit
            assert f"commit {commit} is neither the tip of a branch of github:" in text_of(gone)

    trees = workdir / "runs" / "codemap-trees"  # AGENTOPS_WORKDIR
    written = {p.relative_to(trees).as_posix().split("/", 2)[-1] for p in trees.rglob("*")}
    assert "calc.py" in written and "big.py" not in written and "leak.py" not in written
    assert not any(name.startswith((".git", "..")) or "evil" in name for name in written)
    assert not list(trees.glob("*/git")) and not list(trees.glob(".*"))  # no fetch left behind
    assert "(2 links, 1 too large, 3 bad paths left out)" in service.logs()
