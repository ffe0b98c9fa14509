"""The live run page through the real web and worker processes and the simulators: a plan
run records its events; a signed-in person who can read the repository sees its header,
steps and events (model text inert), a person of another installation gets 404 and does
not find it in the list; the check run's Details link is the page; the event stream gives
the history and the live tail without gaps or duplicates, and resumes from Last-Event-ID;
Cancel acts as the signed-in person."""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from app.runpage.stream_quota import STREAMS_PER_PERSON
from tests.e2e import implement_script as script
from tests.e2e.conftest import forge_env, gitlab_token
from tests.e2e.harness import ADMIN_TOKEN, RedisServer, Service, base_env, running, wait_for
from tests.sim.github import GitHubSim
from tests.sim.gitlab import GitLabSim
from tests.sim.llm_sim import LLMSimulator, slow, text

pytestmark = pytest.mark.e2e
SESSION_SECRET = "e2e-session-secret-" + "fedcba9876543210" * 2
REPO, OTHER = "acme/paged", "beta/elsewhere"
HOSTILE_PLAN = (
    "**Change**\n1. `calc.py`: <script>alert('plan')</script> raise ValueError.\n"
    "</script><script>document.title='owned'</script>\n"
    '[click me](javascript:alert(1)) <a href="javascript:alert(2)">x</a>'
    ' <img src=x onerror="alert(3)">'
)


@pytest.fixture(scope="module")
def sims(github: tuple[GitHubSim, str], gitlab: tuple[GitLabSim, str]) -> GitHubSim:
    gh, _ = github
    gh.add_repo(REPO, script.FILES)
    gh.add_repo(OTHER)
    gh.set_permission(REPO, "alice", "admin")
    gh.set_permission(REPO, "rita", "read")
    gh.set_permission(OTHER, "bob", "admin")
    return gh


@pytest.fixture(scope="module")
def service(
    e2e_database_url: str,
    redis_server: RedisServer,
    github: tuple[GitHubSim, str],
    gitlab: tuple[GitLabSim, str],
    llm: tuple[LLMSimulator, str],
    sims: GitHubSim,
    workdir: Path,
) -> Iterator[Service]:
    gh = sims
    env = base_env(e2e_database_url, redis_server.url, workdir)
    env |= forge_env(*github, *gitlab) | script.llm_env(llm[1])
    with running(env, workdir, sign_in=gh, session_secret=SESSION_SECRET) as svc:
        yield svc


def sign_in(service: Service, gh: GitHubSim, who: str) -> httpx.Client:
    gh.sign_in_browser(who)
    client = httpx.Client(timeout=30, follow_redirects=False)
    start = client.get(f"{service.url}/signin/github", params={"next": "/runs"})
    assert start.status_code == 302, start.text
    back = client.get(start.headers["location"])
    assert back.status_code == 302, back.text
    done = client.get(back.headers["location"])
    assert done.status_code == 303, done.text
    return client


def plan_run(service: Service, gh: GitHubSim) -> int:
    number = gh.add_issue(REPO, script.ISSUE_TITLE, script.ISSUE_BODY, user="alice")
    return script.comment_command(service, gh, REPO, number, "/agentops plan")


def events_in(body: str) -> list[int]:
    return [int(m) for m in re.findall(r"^id: (\d+)$", body, re.M)]


def test_a_plan_run_is_shown_to_a_reader_and_hidden_from_another_installation(
    service: Service, sims: GitHubSim, llm: tuple[LLMSimulator, str]
) -> None:
    gh = sims
    llm[0].script(script.PLANNER, text(HOSTILE_PLAN))
    run_id = plan_run(service, gh)
    run = wait_for(lambda: service.finished(run_id), 60, what="the plan run to end")
    assert run["status"] == "succeeded", service.logs()

    # not signed in: to the sign-in page, back here afterwards
    anonymous = httpx.get(f"{service.url}/runs/{run_id}", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == f"/signin?next=/runs/{run_id}"

    rita = sign_in(service, gh, "rita")  # read access, no write
    page = rita.get(f"{service.url}/runs/{run_id}")
    assert page.status_code == 200, page.text
    html = page.text
    assert "acme/paged" in html and "/agentops plan" in html and "@alice" in html
    assert 'id="run-status" class="status s-succeeded">succeeded' in html
    for step in ("Step clone", "Step locate", "Step plan"):
        assert step in html
    assert "The code map chose" in html and "<code>calc.py</code>" in html
    assert "Run ended" in html and "sim-planner" in html and "Model call (planner, try 1)" in html
    # the model's text is shown as text: no element, handler or javascript: link from it
    assert "&lt;script&gt;alert(&#x27;plan&#x27;)&lt;/script&gt;" in html
    assert "&lt;/script&gt;&lt;script&gt;document.title" in html
    assert "<script>alert" not in html and "</script><script>" not in html
    assert 'href="javascript:' not in html and 'onerror="alert' not in html
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/runs/static/live.js" defer>']
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "default-src 'none'" in csp
    # no write access: no buttons, and a forged POST with the right token is refused
    assert "Cancel this run" not in html and "Retry this run" not in html
    csrf = re.search(r'name="csrf" value="([^"]+)"', html)
    assert csrf is not None  # the sign-out form's
    refused = rita.post(f"{service.url}/runs/{run_id}/retry", data={"csrf": csrf.group(1)})
    assert refused.status_code == 403

    # the page's events are the run's events, in order, without gaps
    seqs = [int(s) for s in re.findall(r'<li class="ev [^"]*" id="e-(\d+)"', html)]
    assert sorted(seqs) == list(range(1, len(seqs) + 1)) and len(seqs) >= 10

    bob = sign_in(service, gh, "bob")  # another installation
    assert bob.get(f"{service.url}/runs/{run_id}").status_code == 404
    assert bob.get(f"{service.url}/runs/{run_id}/events").status_code == 404
    assert bob.get(f"{service.url}/runs/999999999").status_code == 404
    listed = bob.get(f"{service.url}/runs")
    assert listed.status_code == 200 and f'href="/runs/{run_id}"' not in listed.text
    mine = rita.get(f"{service.url}/runs", params={"repo": REPO, "status": "succeeded"})
    assert f'href="/runs/{run_id}"' in mine.text

    # the check run's Details link opens this page
    checks = [c for c in gh.check_runs(REPO) if c["external_id"] == str(run_id)]
    assert checks and checks[0]["details_url"] == f"{service.url}/runs/{run_id}"


def test_the_stream_gives_history_then_resumes_from_last_event_id(
    service: Service, sims: GitHubSim, llm: tuple[LLMSimulator, str]
) -> None:
    gh = sims
    llm[0].script(script.PLANNER, text("**Change**\n1. fine."))
    run_id = plan_run(service, gh)
    wait_for(lambda: service.finished(run_id), 60, what="the plan run to end")
    alice = sign_in(service, gh, "alice")
    whole = alice.get(f"{service.url}/runs/{run_id}/events")
    assert whole.status_code == 200
    assert whole.headers["content-type"].startswith("text/event-stream")
    seqs = events_in(whole.text)
    assert seqs == list(range(1, len(seqs) + 1)) and whole.text.endswith("event: end\ndata: {}\n\n")
    resumed = alice.get(
        f"{service.url}/runs/{run_id}/events", headers={"Last-Event-ID": str(seqs[4])}
    )
    assert events_in(resumed.text) == seqs[5:]


def test_the_page_of_earlier_events_holds_those_before_a_number_and_is_not_live(
    service: Service, sims: GitHubSim, llm: tuple[LLMSimulator, str]
) -> None:
    """A long run's page holds its latest events (AGENTOPS_RUN_PAGE_EVENTS) and links the
    ones before; such an earlier page holds the events below its number, links back to the
    latest and does not follow the run."""
    gh = sims
    llm[0].script(script.PLANNER, text("**Change**\n1. fine."))
    run_id = plan_run(service, gh)
    wait_for(lambda: service.finished(run_id), 60, what="the plan run to end")
    alice = sign_in(service, gh, "alice")
    latest = alice.get(f"{service.url}/runs/{run_id}").text
    shown = [int(s) for s in re.findall(r'<li class="ev [^"]*" id="e-(\d+)"', latest)]
    assert min(shown) == 1 and "Earlier events" not in latest  # all of them fit
    earlier = alice.get(f"{service.url}/runs/{run_id}", params={"before": "6"}).text
    seqs = [int(s) for s in re.findall(r'<li class="ev [^"]*" id="e-(\d+)"', earlier)]
    assert sorted(seqs) == [1, 2, 3, 4, 5]
    assert f'<a href="/runs/{run_id}">Latest events</a>' in earlier
    assert "live.js" not in earlier and "live.js" in latest


def test_a_viewer_who_drops_mid_run_and_comes_back_misses_nothing_and_sees_nothing_twice(
    service: Service, sims: GitHubSim, llm: tuple[LLMSimulator, str]
) -> None:
    gh = sims
    llm[0].script(script.PLANNER, slow(4.0, text("**Change**\n1. slowly.")))
    run_id = plan_run(service, gh)
    alice = sign_in(service, gh, "alice")
    got: list[int] = []
    # first connection: leave after three events, while the run works
    with alice.stream("GET", f"{service.url}/runs/{run_id}/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("id: "):
                got.append(int(line[4:]))
                if len(got) == 3:
                    break
    assert service.finished(run_id) is None, "the run ended before the viewer left"
    # back again from the last id seen: the rest, live, until the run ends
    ended = False
    with alice.stream(
        "GET", f"{service.url}/runs/{run_id}/events", headers={"Last-Event-ID": str(got[-1])}
    ) as stream:
        for line in stream.iter_lines():
            if line.startswith("id: "):
                got.append(int(line[4:]))
            if line == "event: end":
                ended = True
                break
    assert ended
    assert got == list(range(1, len(got) + 1))
    whole = alice.get(f"{service.url}/runs/{run_id}/events")
    assert events_in(whole.text) == got


def test_cancel_on_the_page_acts_as_the_signed_in_person(
    service: Service, sims: GitHubSim, llm: tuple[LLMSimulator, str]
) -> None:
    gh = sims
    llm[0].script(script.PLANNER, slow(30.0, text("**Change**\n1. never seen.")))
    run_id = plan_run(service, gh)
    alice = sign_in(service, gh, "alice")

    def planning() -> bool:
        html = alice.get(f"{service.url}/runs/{run_id}").text
        return "Started <strong>plan</strong>" in html

    wait_for(planning, 30, what="the plan step to start")
    page = alice.get(f"{service.url}/runs/{run_id}").text
    assert "Cancel this run" in page
    token = re.search(
        r'action="/runs/\d+/cancel"><input type="hidden" name="csrf" value="([^"]+)"', page
    )
    assert token is not None
    # without the token, or from another site, nothing happens
    assert alice.post(f"{service.url}/runs/{run_id}/cancel", data={}).status_code == 403
    crossed = alice.post(
        f"{service.url}/runs/{run_id}/cancel",
        data={"csrf": token.group(1)},
        headers={"Origin": "https://evil.example"},
    )
    assert crossed.status_code == 403
    asked = alice.post(f"{service.url}/runs/{run_id}/cancel", data={"csrf": token.group(1)})
    assert asked.status_code == 303, service.web.output()[-6000:]
    assert asked.headers["location"] == f"/runs/{run_id}?asked=cancel"
    again = alice.post(f"{service.url}/runs/{run_id}/cancel", data={"csrf": token.group(1)})
    assert again.status_code == 303  # a double click ...
    run = wait_for(lambda: service.finished(run_id), 30, what="the run to be cancelled")
    assert run["status"] == "cancelled"
    runs = service.api("/api/runs?limit=500", ADMIN_TOKEN)["runs"]
    control = [
        r
        for r in runs
        if r["command"] == "cancel"
        and r["trigger"] == "web"
        and r["context"]["refers_to_run"] == run_id
    ]
    assert len(control) == 1 and control[0]["requested_by"] == "alice"  # ... files one
    assert control[0]["context"]["refers_to_run"] == run_id


def test_a_viewer_sees_an_event_within_a_second(
    service: Service, sims: GitHubSim, llm: tuple[LLMSimulator, str]
) -> None:
    """The live tail: each event stored after the viewer connected reaches it within a
    second (`created_at` is the database's clock, on this machine)."""
    gh = sims
    llm[0].script(script.PLANNER, slow(1.0, text("**Change**\n1. quickly.")))
    alice = sign_in(service, gh, "alice")
    run_id = plan_run(service, gh)
    lags: list[float] = []
    ended = False
    with alice.stream("GET", f"{service.url}/runs/{run_id}/events") as stream:
        connected = time.time()
        for line in stream.iter_lines():
            if line.startswith("data: {"):
                stamp = re.search(r'datetime="([^"]+)"', json.loads(line[6:])["html"])
                assert stamp is not None
                stored = datetime.fromisoformat(stamp.group(1)).timestamp()
                if stored > connected:
                    lags.append(time.time() - stored)
            if line == "event: end":
                ended = True
                break
    assert ended and len(lags) >= 3, lags
    assert max(lags) < 1.0, lags


def test_an_implement_run_shows_the_agent_at_work(
    service: Service, sims: GitHubSim, llm: tuple[LLMSimulator, str]
) -> None:
    """The tool loop on the page: the read, the refused and the applied edits as diffs,
    the test run with its output, the verdicts (sent back, then red → green), and the
    pull request's description links the page."""
    gh = sims
    repo = "acme/paged-impl"
    gh.add_repo(repo, script.FILES)
    gh.set_permission(repo, "alice", "write")
    script.script_resolution(llm[0])
    _, run_id = script.start_implement(service, gh, repo)
    run = wait_for(lambda: service.finished(run_id), 120, what="the implement run")
    assert run["status"] == "succeeded", (run["error"], service.logs()[-3000:])
    html = sign_in(service, gh, "alice").get(f"{service.url}/runs/{run_id}").text
    assert "Step implement" in html and "Step deliver" in html
    assert "Tool <strong>read_file</strong>" in html
    assert 'Tool <strong>apply_edits</strong> <span class="status s-failed">error' in html
    assert "+        raise ValueError(&quot;cannot divide by zero&quot;)" in html
    assert "Tool <strong>run_tests</strong>" in html
    assert 'Verdict: <span class="status s-failed">not proven' in html
    assert 'Verdict: <span class="status s-succeeded">red → green: proven' in html
    assert "Model turn: anthropic:sim-coder" in html and "Let me look at calc.py." in html
    assert "The change: divide() raises ValueError for a zero divisor." in html
    pulls = gh.pulls(repo)
    assert f"({service.url}/runs/{run_id})" in pulls[0]["body"]


def test_the_gitlab_commit_status_links_the_page(
    service: Service, gitlab: tuple[GitLabSim, str], llm: tuple[LLMSimulator, str]
) -> None:
    gl, _ = gitlab
    project = "grp/paged"
    if "dana" not in gl.users:
        gl.add_user("dana")
    gl.add_project(project, script.FILES)
    gl.set_access(project, "dana", 30)
    llm[0].script(script.PLANNER, text("**Change**\n1. on GitLab."))
    iid = gl.add_issue(project, script.ISSUE_TITLE, script.ISSUE_BODY, author="dana")["iid"]
    payload = gl.webhook_note_event(project, "issue", iid, "/agentops plan", "dana")
    headers = gl.webhook_headers("Note Hook", gitlab_token(project))
    headers["Idempotency-Key"] = str(uuid.uuid4())
    answer = service.post_gitlab(payload, headers)
    assert answer.status_code == 202, answer.text
    run_id = int(answer.text.split()[-1])
    run = wait_for(lambda: service.finished(run_id), 60, what="the GitLab plan run")
    assert run["status"] == "succeeded", run["error"]
    sha = gl.head_sha(project, "main")
    assert sha is not None
    statuses = gl.statuses(project, sha)
    assert statuses and {s["target_url"] for s in statuses} == {f"{service.url}/runs/{run_id}"}


def test_the_operator_reads_every_run_with_the_admin_token_and_a_wrong_token_reads_none(
    service: Service, sims: GitHubSim, llm: tuple[LLMSimulator, str]
) -> None:
    gh = sims
    llm[0].script(script.PLANNER, text("**Change**\n1. for the operator."))
    run_id = plan_run(service, gh)
    wait_for(lambda: service.finished(run_id), 60, what="the plan run to end")
    operator = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    page = httpx.get(f"{service.url}/runs/{run_id}", headers=operator)
    assert page.status_code == 200 and "for the operator." in page.text
    stream = httpx.get(f"{service.url}/runs/{run_id}/events", headers=operator, timeout=30)
    seqs = events_in(stream.text)
    assert stream.status_code == 200 and seqs == list(range(1, len(seqs) + 1)) and seqs
    listed = httpx.get(f"{service.url}/runs", params={"repo": REPO}, headers=operator)
    assert f'href="/runs/{run_id}"' in listed.text
    assert httpx.get(f"{service.url}/runs/999999999", headers=operator).status_code == 404

    wrong = {"Authorization": f"Bearer {ADMIN_TOKEN}x"}
    for path in (f"/runs/{run_id}", "/runs"):  # to the sign-in page, no run shown
        answer = httpx.get(f"{service.url}{path}", headers=wrong, follow_redirects=False)
        assert answer.status_code == 303 and "for the operator." not in answer.text
    refused = httpx.get(f"{service.url}/runs/{run_id}/events", headers=wrong)
    assert refused.status_code == 404 and "id: " not in refused.text


def test_one_person_cannot_hold_open_streams_without_end(
    service: Service, sims: GitHubSim, llm: tuple[LLMSimulator, str]
) -> None:
    """Each open stream costs the web process a slot and database reads: one person gets
    a clear 429 past the limit, someone else is not affected, and a closed stream frees
    its place."""
    gh = sims
    llm[0].script(script.PLANNER, slow(6.0, text("**Change**\n1. slowly.")))
    run_id = plan_run(service, gh)
    alice = sign_in(service, gh, "alice")
    url = f"{service.url}/runs/{run_id}/events"
    with contextlib.ExitStack() as open_streams:
        held = []
        for _ in range(STREAMS_PER_PERSON):
            stream = open_streams.enter_context(alice.stream("GET", url))
            assert stream.status_code == 200
            held.append(stream)
        refused = alice.get(url)
        assert refused.status_code == 429
        assert "too many live streams" in refused.text and refused.headers["retry-after"]
        operator = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        with httpx.stream("GET", url, headers=operator, timeout=30) as other:
            assert other.status_code == 200  # another person's streams are their own
        held[0].close()
        assert wait_for(lambda: alice.get(url, timeout=30).status_code == 200, 10)
