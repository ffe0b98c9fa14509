"""The live run page in a real browser (Debian's Chromium, driven by Playwright; no browser
is ever downloaded), through the real web and worker processes and the simulators.

A person with write access signs in with the GitHub simulator's OAuth, opens the Details
link of the check run of a running `implement` (the scripted model answers slowly, so the
worker's steps and tool calls come one by one), and sees them appear without reloading.
The web process is restarted mid-run (every connection lost): the page comes back by
itself, and shows every event once, with no gap, including those recorded while it was
away. Cancel ends the run as cancelled. A person of another installation gets the 404 page
and does not find the run in the list.

Screenshots of three moments (early, mid-run, cancelled) at desktop width, and mid-run at
phone width, go to `AGENTOPS_TEST_SCREENSHOTS` when it is set (`docs/` holds the ones
README shows), else to the module's scratch directory.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, sync_playwright

from tests.e2e import implement_script as script
from tests.e2e.conftest import forge_env
from tests.e2e.harness import RedisServer, Service, base_env, running, wait_for
from tests.sim.github import GitHubSim
from tests.sim.gitlab import GitLabSim
from tests.sim.llm_sim import LLMSimulator, slow, text, tool_call

pytestmark = pytest.mark.e2e
CHROMIUM = os.environ.get("AGENTOPS_TEST_CHROMIUM", "/usr/bin/chromium")
SESSION_SECRET = "e2e-session-secret-" + "00ff11ee22dd33cc" * 2
REPO, OTHER = "acme/live-page", "beta/elsewhere"
DESKTOP: ViewportSize = {"width": 1200, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
TURN_SECONDS = 1.5  # each of the coder's answers takes this long: the page fills in steps
SEQ = re.compile(r"^e-(\d+)$")


@pytest.fixture(scope="module")
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: install Debian's (`bash .ci/system-deps`, package "
            "`chromium`) or point AGENTOPS_TEST_CHROMIUM at one; this test never downloads "
            "a browser",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium: str, service: Service) -> Iterator[Browser]:
    """After the service: Playwright's sync API keeps an event loop running in this
    thread, and the database fixtures' `asyncio.run` must come before it."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def shots(workdir: Path) -> Path:
    where = Path(os.environ.get("AGENTOPS_TEST_SCREENSHOTS") or workdir / "screenshots")
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture(scope="module")
def sims(github: tuple[GitHubSim, str]) -> GitHubSim:
    gh, _ = github
    gh.add_repo(REPO, script.FILES)
    gh.add_repo(OTHER)
    gh.set_permission(REPO, "alice", "write")
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
    env = base_env(e2e_database_url, redis_server.url, workdir)
    env |= forge_env(*github, *gitlab) | script.llm_env(llm[1])
    with running(env, workdir, sign_in=sims, session_secret=SESSION_SECRET) as svc:
        yield svc


def script_slow_resolution(llm: LLMSimulator) -> None:
    """A plan after a few seconds, then the coder's tool calls one every TURN_SECONDS, and
    a last answer that does not come before the run is cancelled."""
    llm.script(script.PLANNER, slow(3.0, text("**Change**\n1. `calc.py`: raise ValueError.")))
    turn = TURN_SECONDS
    llm.script(
        script.CODER,
        slow(turn, tool_call("read_file", {"path": "calc.py"}, say="Let me look at calc.py.")),
        slow(turn, tool_call("apply_edits", {"edits": script.MALFORMED})),
        slow(turn, tool_call("apply_edits", {"edits": script.CHANGE}, say="Again.")),
        slow(turn, tool_call("read_file", {"path": "tests/test_divide.py"})),
        slow(turn, tool_call("run_tests", {})),
        slow(turn, tool_call("read_file", {"path": "pyproject.toml"})),
        slow(turn, tool_call("read_file", {"path": "tests/test_calc.py"})),
        slow(120.0, tool_call("finish", {"summary": "never seen", "tests": []})),
    )


def sign_in(browser: Browser, service: Service, gh: GitHubSim, who: str) -> BrowserContext:
    """`who` signs in as a person would: the runs list sends them to sign in, GitHub's
    authorize page (the simulator, where they are signed in) sends them back."""
    gh.sign_in_browser(who)
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(f"{service.url}/runs")
    assert page.url == f"{service.url}/signin?next=/runs"
    page.get_by_role("link", name="Sign in with GitHub").click()
    page.wait_for_url(f"{service.url}/runs")
    assert page.get_by_text(f"Signed in as {who}").is_visible()
    page.close()
    return context


def seqs_shown(page: Page) -> list[int]:
    """The numbers of the events in the page's timeline, in document order."""
    ids: list[str] = page.eval_on_selector_all("#timeline li.ev", "els => els.map(e => e.id)")
    found = [SEQ.match(i) for i in ids]
    assert all(found), ids
    return [int(m.group(1)) for m in found if m]


def times_shown(page: Page) -> list[float]:
    stamps: list[str] = page.eval_on_selector_all(
        "#timeline li.ev time", "els => els.map(e => e.getAttribute('datetime'))"
    )
    return [datetime.fromisoformat(s).timestamp() for s in stamps]


def count(page: Page, selector: str) -> int:
    return page.locator(selector).count()


def test_a_person_watches_an_implement_run_live_loses_the_connection_and_cancels_it(
    chromium: str,
    browser: Browser,
    service: Service,
    sims: GitHubSim,
    llm: tuple[LLMSimulator, str],
    shots: Path,
) -> None:
    gh = sims
    began = time.monotonic()
    alice = sign_in(browser, service, gh, "alice")
    script_slow_resolution(llm[0])
    # the runs list, open before the run exists: the run appears in it without a reload
    listing = alice.new_page()
    listing.goto(f"{service.url}/runs")
    listing.get_by_text("Live: new runs and their status appear as they change.").wait_for()
    listing_navigations: list[str] = []
    listing.on("framenavigated", lambda frame: listing_navigations.append(frame.url))
    _, run_id = script.start_implement(service, gh, REPO)
    row = listing.locator(f'#runs-live tr:has(a[href="/runs/{run_id}"])')
    row.wait_for(timeout=15_000)

    # the check run's Details link is the page
    def details() -> str | None:
        found = [c for c in gh.check_runs(REPO) if c["external_id"] == str(run_id)]
        return found[0]["details_url"] if found and found[0]["details_url"] else None

    details_url = wait_for(details, 30, what="the check run's details_url")
    assert details_url == f"{service.url}/runs/{run_id}"
    page = alice.new_page()
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))
    page.goto(details_url)
    assert page.title() == f"Run {run_id} · AgentOps"
    assert page.locator("#run-status").inner_text() in ("queued", "running")
    page.get_by_text("Live: new events appear as they happen.").wait_for()
    first = seqs_shown(page)
    assert count(page, "li.ev.k-tool_call") == 0, "the tool loop began before the page opened"
    page.screenshot(path=shots / "run-page-early.png")

    # steps and tool calls appear while the worker works, without a reload
    page.locator("li.group h3", has_text="Step implement").wait_for(timeout=30_000)
    page.locator("li.ev.k-tool_call").first.wait_for(timeout=30_000)
    page.get_by_text("Tool read_file").first.wait_for()
    assert len(seqs_shown(page)) > len(first)
    assert navigations == [details_url], navigations

    # every connection lost: the web process restarts while the worker goes on
    shown_before = max(seqs_shown(page))
    down_from = time.time()
    service.web.stop(signal.SIGKILL)
    page.get_by_text("Connection lost; reconnecting…").wait_for(timeout=10_000)
    time.sleep(2 * TURN_SECONDS)  # the worker records events no one receives
    down_until = time.time()
    service.start(worker=False)
    page.get_by_text("Live: new events appear as they happen.").wait_for(timeout=20_000)
    wait_for(
        lambda: any(down_from < t < down_until for t in times_shown(page)),
        20,
        what="the events recorded while the page was away to appear",
    )
    page.locator("li.ev.k-tool_call", has_text="apply_edits").first.wait_for(timeout=20_000)
    shown = seqs_shown(page)
    assert max(shown) > shown_before
    assert sorted(shown) == list(range(1, len(shown) + 1)), shown  # no gap, no duplicate
    assert navigations == [details_url], navigations
    # the header follows: cost, tokens and models of the calls made since the page opened
    assert page.locator("#run-cost").inner_text() != "$0.0000"
    assert int(page.locator("#run-tokens").inner_text()) > 0
    assert "anthropic:sim-coder" in page.locator("#run-models").inner_text().split(", ")
    # a test run's output shows its end (where the verdict is) in its scroll box
    tested = page.locator("li.ev.k-tool_call", has_text="run_tests")
    tested.wait_for(timeout=30_000)
    at_end: bool = tested.locator("pre").evaluate(
        "p => p.scrollHeight > p.clientHeight && p.scrollTop + p.clientHeight >= p.scrollHeight - 2"
    )
    assert at_end, "the test output's end is not in view"
    page.locator("li.ev.k-tool_call").last.scroll_into_view_if_needed()
    page.screenshot(path=shots / "run-page-mid-run.png")
    phone = browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, storage_state=alice.storage_state()
    )
    small = phone.new_page()
    small.goto(details_url)
    small.locator("li.ev.k-tool_call").first.wait_for()
    wide: int = small.evaluate("document.documentElement.scrollWidth")
    assert wide <= PHONE["width"], f"the page is {wide} px wide on a {PHONE['width']} px phone"
    small.screenshot(path=shots / "run-page-phone.png")
    phone.close()

    # Cancel, as alice (write access): the run ends as cancelled, on the page
    assert service.finished(run_id) is None, "the run ended before Cancel was pressed"
    with page.expect_response(f"{details_url}/cancel") as pressed:
        page.get_by_role("button", name="Cancel this run").click()
    assert pressed.value.status == 303, pressed.value.text()
    page.wait_for_url(f"{details_url}?asked=cancel")
    assert page.get_by_role("status").filter(has_text="Cancel asked.").is_visible()
    page.get_by_text("The run has ended.").wait_for(timeout=30_000)
    assert page.locator("#run-status").inner_text() == "cancelled"
    assert page.locator("li.ev.k-run_ended", has_text="cancelled").count() == 1
    assert page.get_by_role("button", name="Cancel this run").count() == 0
    run = service.finished(run_id)
    assert run is not None and run["status"] == "cancelled"
    row.locator(".status", has_text="cancelled").wait_for(timeout=15_000)  # the list too
    assert listing_navigations == [], "the runs list reloaded"
    # the page's events are the run's, each once: as the whole history has them
    shown = seqs_shown(page)
    history = alice.request.get(f"{service.url}/runs/{run_id}/events")
    assert history.ok
    stored = [int(i) for i in re.findall(r"^id: (\d+)$", history.text(), re.M)]
    assert sorted(shown) == stored == list(range(1, len(stored) + 1))
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.screenshot(path=shots / "run-page-cancelled.png")
    alice.close()

    # bob, of another installation: the 404 page, and not in his list
    bob = sign_in(browser, service, gh, "bob")
    other = bob.new_page()
    answer = other.goto(details_url)
    assert answer is not None and answer.status == 404
    assert other.get_by_role("heading", name="Not found").is_visible()
    assert REPO not in other.content()
    other.goto(f"{service.url}/runs")
    assert other.locator(f'a[href="/runs/{run_id}"]').count() == 0
    assert REPO not in other.content()
    bob.close()
    assert time.monotonic() - began < 90, "the browser test should stay well under a minute"


def test_the_links_between_pages_of_events_are_targets_a_finger_can_hit(
    browser: Browser,
    service: Service,
    sims: GitHubSim,
    llm: tuple[LLMSimulator, str],
    shots: Path,
) -> None:
    """On a phone, the earlier page's link back to the latest events is a 44-pixel target
    (as the page's buttons), and it leads there."""
    gh = sims
    llm[0].script(script.PLANNER, text("**Change**\n1. fine."))
    number = gh.add_issue(REPO, script.ISSUE_TITLE, script.ISSUE_BODY, user="alice")
    run_id = script.comment_command(service, gh, REPO, number, "/agentops plan")
    wait_for(lambda: service.finished(run_id), 60, what="the plan run to end")
    alice = sign_in(browser, service, gh, "alice")
    page = alice.new_page()
    page.set_viewport_size(PHONE)
    page.goto(f"{service.url}/runs/{run_id}?before=4")
    assert sorted(seqs_shown(page)) == [1, 2, 3]
    link = page.get_by_role("navigation", name="Pages of events").get_by_role(
        "link", name="Latest events"
    )
    box = link.bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] >= 44, box
    page.screenshot(path=shots / "run-page-earlier-events.png")
    link.click()
    page.wait_for_url(f"{service.url}/runs/{run_id}")
    latest = sorted(seqs_shown(page))
    assert latest[:3] == [1, 2, 3] and len(latest) > 3
    alice.close()
