"""The run page's HTML from untrusted values (model text, test output, file names, the
requester's login, the repository's name): every one shown as text, none an element, an
attribute, a handler or a link; and the live messages carry the same escaped fragments."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser

from app.runpage import render
from app.runpage.runs_list import runs_page
from app.store.llm_calls import LLMUsageTotal
from app.store.run_events import RunEvent
from app.workflow.recorder import sanitized, tool_payload
from app.workflow.tools import ToolResult
from tests.unit.workflow.made_runs import made_run

HOSTILE = (
    "<script>alert(1)</script></script><script>alert(2)</script>"
    '[x](javascript:alert(3)) <a href="javascript:alert(4)">y</a> <img src=x onerror=alert(5)>'
    '"\' onmouseover=alert(6) x="'
)
AT = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def event(seq: int, kind: str, payload: dict[str, object], step: str | None = "plan") -> RunEvent:
    return RunEvent(1, seq, kind, step, payload, AT)


EVENTS = [
    event(1, "step_started", {"name": "plan"}),
    event(2, "plan", {"plan": HOSTILE, "model": HOSTILE, "cost_usd": 0.1}),
    event(3, "files", {"files": [{"path": HOSTILE, "reasons": [HOSTILE]}], "indexed": 3}),
    event(
        4, "model_call", {"role": HOSTILE, "model": HOSTILE, "outcome": HOSTILE, "detail": HOSTILE}
    ),
    event(5, "model_turn", {"text": HOSTILE, "tool_calls": [HOSTILE], "model": "m"}),
    event(6, "tool_call", {"tool": "run_tests", "output": HOSTILE, "test_ids": [HOSTILE]}),
    event(7, "tool_call", {"tool": "apply_edits", "diff": HOSTILE}),
    event(8, "tool_call", {"tool": HOSTILE, "arguments": {HOSTILE: HOSTILE}, "result": HOSTILE}),
    event(9, "verdict", {"proven": False, "report": HOSTILE}),
    event(10, "error", {"text": HOSTILE}, None),
    event(11, HOSTILE, {HOSTILE: HOSTILE}, HOSTILE),
    event(12, "step_ended", {"name": HOSTILE, "status": HOSTILE, "failure": HOSTILE}, HOSTILE),
]


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


ALLOWED = {
    "html",
    "head",
    "meta",
    "title",
    "link",
    "script",
    "body",
    "header",
    "nav",
    "a",
    "span",
    "strong",
    "form",
    "input",
    "button",
    "main",
    "h1",
    "h2",
    "h3",
    "p",
    "dl",
    "dt",
    "dd",
    "code",
    "section",
    "noscript",
    "ol",
    "ul",
    "li",
    "time",
    "pre",
    "label",
    "select",
    "option",
    "div",
    "table",
    "caption",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}


def assert_inert(html: str) -> None:
    """As a browser parses it: only our own elements; no handler attribute; every link
    and source one of the service's own paths; one script, ours."""
    assert "<script>alert" not in html and "</script><script>" not in html
    parser = Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert tag in ALLOWED, tag
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)
            assert name in {
                "lang",
                "charset",
                "name",
                "content",
                "rel",
                "href",
                "src",
                "defer",
                "class",
                "id",
                "method",
                "action",
                "type",
                "value",
                "data-events",
                "data-last",
                "data-finished",
                "data-cost",
                "aria-label",
                "aria-labelledby",
                "aria-hidden",
                "role",
                "aria-live",
                "datetime",
                "for",
                "placeholder",
                "selected",
                "scope",
            }, (tag, name)
            if name in ("href", "src", "action"):
                assert value is not None and value.startswith("/"), (tag, name, value)
        if tag == "script":
            assert attrs in (  # our own scripts only, never one the data could name
                [("src", "/runs/static/live.js"), ("defer", None)],
                [("src", "/runs/static/list.js"), ("defer", None)],
            )


def test_the_whole_page_shows_hostile_text_as_text() -> None:
    run = made_run(repo=HOSTILE, requested_by=HOSTILE, command="plan", args=HOSTILE)
    usage = [LLMUsageTotal(HOSTILE, 1, 1, 10, 5, 0, 0.25)]
    state = render.PageState(run, [], EVENTS, usage, True, HOSTILE, HOSTILE, "")
    html = render.run_page(state)
    assert_inert(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "$0.2500" in html and f'data-last="{len(EVENTS)}"' in html
    # every event is there, once
    assert sorted(int(n) for n in re.findall(r'id="e-(\d+)"', html)) == list(
        range(1, len(EVENTS) + 1)
    )


def test_live_messages_carry_escaped_fragments_and_safe_ids() -> None:
    for item in EVENTS:
        message = json.loads(render.live_message(item))
        for key in ("html", "group_html", "heading_html"):
            if key in message:
                assert_inert(message[key])
        assert re.fullmatch(r"g-[0-9a-f]+", message["group"])


def test_the_runs_list_escapes_and_keeps_filters_in_the_form() -> None:
    runs = [made_run(repo=HOSTILE, requested_by=HOSTILE)]
    html = runs_page(runs, HOSTILE, "", HOSTILE, "failed", 5)
    assert_inert(html)
    assert '<option value="failed" selected>' in html
    assert '<label for="f-repo">' in html and '<label for="f-status">' in html
    assert "<main>" in html and 'aria-label="Site"' in html


def test_payloads_are_redacted_and_capped_before_they_are_stored() -> None:
    token = "ghs_" + "A1b2C3d4" * 5
    stored = sanitized({"text": f"token={token} " + "x" * 20_000, "n": [1] * 500}, ())
    assert token not in json.dumps(stored)
    assert len(stored["text"]) < 6_200 and "more characters" in stored["text"]
    assert len(stored["n"]) == 50
    ran = tool_payload("run_tests", {}, ToolResult("FAILED\n" + "y" * 9000 + "\nE  boom"), 1.0)
    assert ran["passed"] is False and ran["output"].endswith("E  boom")
    secret = "my-very-own-configured-secret-value"
    assert secret not in json.dumps(sanitized({"a": f"leak {secret}"}, (secret,)))


def test_a_model_call_tells_the_live_header_its_cost_tokens_and_model() -> None:
    call = event(
        7,
        "model_call",
        {"model": "anthropic:m", "input_tokens": 40, "output_tokens": 2, "cost_usd": 0.5},
    )
    message = json.loads(render.live_message(call))
    assert (message["cost_usd"], message["tokens"], message["model"]) == (0.5, 42, "anthropic:m")
    state = render.PageState(made_run(), [], [], [], False, "", "", "")
    html = render.run_page(state)
    assert '<span id="run-tokens">0</span> tokens' in html
    assert '<span id="run-models">none yet</span>' in html


def test_a_page_of_a_long_run_links_the_events_before_it_and_only_the_latest_is_live() -> None:
    later = [event(n, "note", {"text": f"e{n}"}) for n in range(101, 106)]
    latest = render.PageState(
        made_run(), [], later, [], False, "", "", "", window=render.EventWindow(earlier=True)
    )
    html = render.run_page(latest)
    assert '<a href="/runs/7?before=101">Earlier events</a>' in html
    assert "live.js" in html and 'id="live"' in html
    older = render.PageState(
        made_run(),
        [],
        later,
        [],
        False,
        "",
        "",
        "",
        window=render.EventWindow(earlier=False, latest=False),
    )
    html = render.run_page(older)
    assert '<a href="/runs/7">Latest events</a>' in html and "Earlier events" not in html
    assert "live.js" not in html and 'id="live"' not in html
