"""The run page's HTML, pure: the run's header, its steps with their events, the runs list.

Everything shown from a run is untrusted (model text, test output, file names, the
requester's login, the repository's name) and goes through `esc`; no value ever becomes a
URL but the service's own paths, built from numbers. The live script (static/live.js)
inserts the fragments `event_item` and `group_item` render here, so the page and its live
tail escape in one place.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.forges.registry import wording_for
from app.store.llm_calls import LLMUsageTotal
from app.store.run_events import RunEvent
from app.store.runs import Run
from app.store.steps import Step

RUN_GROUP = "run"  # the group of events outside any step
STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def slug(value: object) -> str:
    """A value as part of a class name: lower-case letters and `_` only."""
    return re.sub(r"[^a-z_]", "", str(value).lower())[:40]


def group_id(step: str | None) -> str:
    """The element id of a step's group: hex, whatever the step's name holds."""
    return "g-" + (step or RUN_GROUP).encode().hex()


@dataclass(frozen=True)
class EventWindow:
    """Which of the run's events the page holds: `earlier`, some come before them (a link
    leads there); `latest`, the newest are among them (the page follows the run live)."""

    earlier: bool = False
    latest: bool = True


@dataclass(frozen=True)
class PageState:
    run: Run
    steps: Sequence[Step]
    events: Sequence[RunEvent]
    usage: Sequence[LLMUsageTotal]
    can_write: bool
    csrf: str
    viewer_login: str
    signout: str  # the sign-out form (app/signin), or ""
    notice: str = ""
    window: EventWindow = EventWindow()


def document(title: str, body: str, live: bool = False, script_name: str = "live.js") -> str:
    script = f'<script src="/runs/static/{script_name}" defer></script>' if live else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title>"
        f'<link rel="stylesheet" href="/runs/static/page.css">{script}</head>'
        f"<body>{body}</body></html>"
    )


def nav(login: str, signout: str) -> str:
    who = f'<span class="who">Signed in as <strong>{esc(login)}</strong></span>' if login else ""
    return (
        '<header class="top"><nav aria-label="Site"><a href="/runs">All runs</a></nav>'
        f"{who}{signout}</header>"
    )


def target_text(run: Run) -> str:
    if run.target_kind != "pull_request":
        return f"issue #{run.target_number}"
    words = wording_for(run.forge)
    return f"{words.change_request} {words.change_ref(run.target_number)}"


def run_page(state: PageState) -> str:
    run = state.run
    cost = sum(u.cost_usd for u in state.usage)
    models = ", ".join(u.model for u in state.usage) or "none yet"
    tokens = sum(u.input_tokens + u.output_tokens for u in state.usage)
    facts = [
        ("Repository", esc(run.repo)),
        ("Target", esc(target_text(run))),
        (
            "Command",
            f"<code>/agentops {esc(run.command)}{' ' + esc(run.args) if run.args else ''}</code>",
        ),
        ("Asked by", "@" + esc(run.requested_by)),
        (
            "Status",
            f'<span id="run-status" class="status s-{slug(run.status)}">{esc(run.status)}</span>',
        ),
        (
            "Cost so far",
            f'<span id="run-cost">${cost:.4f}</span> (<span id="run-tokens">{tokens}</span>'
            " tokens)",
        ),
        ("Models", f'<span id="run-models">{esc(models)}</span>'),
        ("Started", esc(when(run.started_at or run.created_at))),
    ]
    if run.retry_of:
        facts.append(
            ("Retry of", f'<a href="/runs/{int(run.retry_of)}">run {int(run.retry_of)}</a>')
        )
    facts_html = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)
    notice = f'<p class="notice" role="status">{esc(state.notice)}</p>' if state.notice else ""
    body = (
        nav(state.viewer_login, state.signout)
        + f'<main id="run" data-events="/runs/{int(run.id)}/events"'
        f' data-last="{_last_seq(state.events)}"'
        f' data-finished="{"1" if run.finished else "0"}" data-cost="{cost:.6f}">'
        f"<h1>Run {int(run.id)}: {esc(run.repo)} {esc(target_text(run))}</h1>"
        f'{notice}<dl class="facts">{facts_html}</dl>'
        f"{_buttons(state)}"
        '<section aria-labelledby="timeline-h"><h2 id="timeline-h">Timeline</h2>'
        f"{_window_links(state)}"
        f'<ol id="timeline" class="timeline">{_groups(state.steps, state.events)}</ol>'
        "</section></main>"
    )
    return document(f"Run {run.id} · AgentOps", body, live=state.window.latest)


def _window_links(state: PageState) -> str:
    """Links to the events before this page's and, on an earlier page, to the latest; the
    live line only where the page follows the run."""
    run_id, window = int(state.run.id), state.window
    links = []
    if window.earlier and state.events:
        first = int(state.events[0].seq)
        links.append(f'<a href="/runs/{run_id}?before={first}">Earlier events</a>')
    if not window.latest:
        links.append(f'<a href="/runs/{run_id}">Latest events</a>')
    shown = (
        f'<nav class="window" aria-label="Pages of events">{"".join(links)}</nav>' if links else ""
    )
    if not window.latest:
        return shown
    return (
        shown + "<noscript><p>Reload the page to see what happened since.</p></noscript>"
        '<p id="live" class="live" role="status" aria-live="polite"></p>'
    )


def when(at: Any) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at is not None else ""


def _last_seq(events: Sequence[RunEvent]) -> int:
    return max((e.seq for e in events), default=0)


def _buttons(state: PageState) -> str:
    if not state.can_write:
        return ""
    run = state.run
    forms = []
    if not run.finished:
        forms.append(_form(run.id, "cancel", "Cancel this run", state.csrf))
    if run.status in ("failed", "cancelled"):
        forms.append(_form(run.id, "retry", "Retry this run", state.csrf))
    return f'<div class="actions">{"".join(forms)}</div>' if forms else ""


def _form(run_id: int, action: str, label: str, csrf: str) -> str:
    return (
        f'<form method="post" action="/runs/{int(run_id)}/{action}">'
        f'<input type="hidden" name="csrf" value="{esc(csrf)}">'
        f'<button type="submit" class="b-{action}">{esc(label)}</button></form>'
    )


def _groups(steps: Sequence[Step], events: Sequence[RunEvent]) -> str:
    """One list item per step (in the order they started), its events inside."""
    by_step: dict[str, list[RunEvent]] = {}
    order: list[str] = []
    for step in steps:
        if step.shown:
            order.append(step.name)
    for event in events:
        key = event.step or RUN_GROUP
        if key not in order:
            order.append(key)
        by_step.setdefault(key, []).append(event)
    known = {s.name: s for s in steps}
    parts = []
    for name in order:
        items = "".join(event_item(e) for e in by_step.get(name, []))
        parts.append(group_item(name, known.get(name), items))
    return "".join(parts)


def group_item(name: str, step: Step | None = None, items: str = "") -> str:
    """A step's entry of the timeline: its name, status and time, and its events."""
    return (
        f'<li class="group" id="{group_id(name)}">'
        f"{group_heading(name, step.status if step else None, step.seconds if step else None)}"
        f'<ol class="events">{items}</ol></li>'
    )


def group_heading(name: str, status: str | None, seconds: float | None) -> str:
    shown = "The run" if name == RUN_GROUP else f"Step {name}"
    status_html = f' <span class="status s-{slug(status)}">{esc(status)}</span>' if status else ""
    timing = f' <span class="time">{seconds:.1f} s</span>' if seconds is not None else ""
    return f'<h3 class="gh">{esc(shown)}{status_html}{timing}</h3>'


def event_item(event: RunEvent) -> str:
    """One event of the log, escaped."""
    body = _EVENT_BODIES.get(event.kind, _other)(event.payload)
    return (
        f'<li class="ev k-{slug(event.kind)}" id="e-{int(event.seq)}">'
        f'<span class="seq" aria-hidden="true">{int(event.seq)}</span> '
        f'<time datetime="{esc(event.created_at.isoformat())}">'
        f"{esc(event.created_at.strftime('%H:%M:%S'))}</time> {body}</li>"
    )


def _pre(text: object, label: str, tail: bool = False) -> str:
    """`text` as preformatted text; `tail`: its end is what matters (a test run's output),
    shown first in its scroll box by the live script."""
    kind = ' class="tail"' if tail else ""
    return f'<pre{kind} aria-label="{esc(label)}">{esc(text)}</pre>' if text else ""


def _text(payload: dict[str, Any], key: str) -> str:
    value = payload.get(key)
    return "" if value is None else str(value)


def _num(payload: dict[str, Any], key: str) -> float:
    value = payload.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _step_started(p: dict[str, Any]) -> str:
    again = " (again, after an earlier try)" if p.get("again") else ""
    return f"Started <strong>{esc(_text(p, 'name'))}</strong>{esc(again)}"


def _step_ended(p: dict[str, Any]) -> str:
    status = _text(p, "status")
    failure = f": {esc(_text(p, 'failure'))}" if p.get("failure") else ""
    return (
        f"Ended <strong>{esc(_text(p, 'name'))}</strong>: "
        f'<span class="status s-{slug(status)}">{esc(status)}</span> '
        f"in {_num(p, 'seconds'):.1f} s{failure}"
    )


def _plan(p: dict[str, Any]) -> str:
    return f"The plan ({esc(_text(p, 'model'))}, ${_num(p, 'cost_usd'):.4f})" + _pre(
        _text(p, "plan"), "plan"
    )


def _files(p: dict[str, Any]) -> str:
    files = p.get("files") if isinstance(p.get("files"), list) else []
    items = "".join(
        f"<li><code>{esc(f.get('path', ''))}</code>: "
        f"{esc('; '.join(str(r) for r in (f.get('reasons') or [])[:3]) or 'content')}</li>"
        for f in files or []
        if isinstance(f, dict)
    )
    return (
        f"The code map chose {len(files or [])} files of {int(_num(p, 'indexed'))} indexed"
        f"<ul>{items}</ul>"
    )


def _model_turn(p: dict[str, Any]) -> str:
    calls = p.get("tool_calls") if isinstance(p.get("tool_calls"), list) else []
    asked = f"; asked for {esc(', '.join(str(c) for c in calls or []))}" if calls else ""
    return (
        f"Model turn: {esc(_text(p, 'model'))}, {int(_num(p, 'input_tokens'))} tokens in, "
        f"{int(_num(p, 'output_tokens'))} out, ${_num(p, 'cost_usd'):.4f}{asked}"
        + _pre(_text(p, "text"), "model text")
    )


def _model_call(p: dict[str, Any]) -> str:
    outcome = _text(p, "outcome")
    status = "succeeded" if outcome == "ok" else "failed"
    detail = f": {esc(_text(p, 'detail'))}" if p.get("detail") else ""
    return (
        f"Model call ({esc(_text(p, 'role'))}, try {int(_num(p, 'attempt'))}): "
        f"{esc(_text(p, 'model'))} "
        f'<span class="status s-{status}">{esc(outcome)}</span>{detail}, '
        f"{int(_num(p, 'input_tokens'))} tokens in, {int(_num(p, 'output_tokens'))} out"
        f" ({int(_num(p, 'cached_tokens'))} cached), ${_num(p, 'cost_usd'):.4f}, "
        f"{int(_num(p, 'latency_ms'))} ms"
    )


def _tool_call(p: dict[str, Any]) -> str:
    tool = _text(p, "tool")
    error = ' <span class="status s-failed">error</span>' if p.get("error") else ""
    head = f"Tool <strong>{esc(tool)}</strong>{error} ({_num(p, 'seconds'):.2f} s)"
    if tool == "apply_edits":
        return head + _pre(_text(p, "diff"), "the edit")
    if tool == "run_tests":
        verdict = "passed" if p.get("passed") else "failed"
        ids = p.get("test_ids") if isinstance(p.get("test_ids"), list) else []
        which = f" {esc(', '.join(str(i) for i in ids or []))}" if ids else " all"
        return (
            f"{head}: tests{which} "
            f'<span class="status s-{"succeeded" if verdict == "passed" else "failed"}">'
            f"{verdict}</span>" + _pre(_text(p, "output"), "test output (its end)", tail=True)
        )
    arguments = p.get("arguments") if isinstance(p.get("arguments"), dict) else {}
    args = ", ".join(f"{k}={json.dumps(v)[:200]}" for k, v in (arguments or {}).items())
    return f"{head} <code>{esc(args)}</code>" + _pre(_text(p, "result"), "tool result")


def _mcp_tools(p: dict[str, Any]) -> str:
    """The tools the operator's MCP servers lent the run, and what was left out."""
    tools = p.get("tools") if isinstance(p.get("tools"), list) else []
    notices = p.get("notices") if isinstance(p.get("notices"), list) else []
    items = "".join(f"<li>{esc(str(n))}</li>" for n in notices or [])
    return f"MCP tools: {esc(', '.join(str(t) for t in tools or []) or 'none')}" + (
        f"<ul>{items}</ul>" if items else ""
    )


def _verdict(p: dict[str, Any]) -> str:
    proven = bool(p.get("proven"))
    verdict = "red → green: proven" if proven else "not proven"
    status = "succeeded" if proven else "failed"
    return f'Verdict: <span class="status s-{status}">{esc(verdict)}</span>' + _pre(
        _text(p, "report"), "verification report"
    )


def _change(p: dict[str, Any]) -> str:
    return f"The change: {esc(_text(p, 'summary'))}" + _pre(
        _text(p, "diff"), "the change as a diff"
    )


def _said(label: str) -> Any:
    def body(p: dict[str, Any]) -> str:
        return f'<strong class="said">{esc(label)}</strong>' + _pre(_text(p, "text"), label)

    return body


def _run_started(p: dict[str, Any]) -> str:
    return f"Run started (try {int(_num(p, 'attempt'))})"


def _run_ended(p: dict[str, Any]) -> str:
    status = _text(p, "status")
    return f'Run ended: <span class="status s-{slug(status)}">{esc(status)}</span>'


def _other(p: dict[str, Any]) -> str:
    return _pre(json.dumps(p, indent=1)[:4000], "event")


_EVENT_BODIES = {
    "step_started": _step_started,
    "step_ended": _step_ended,
    "plan": _plan,
    "files": _files,
    "model_call": _model_call,
    "model_turn": _model_turn,
    "tool_call": _tool_call,
    "mcp_tools": _mcp_tools,
    "verdict": _verdict,
    "change": _change,
    "refusal": _said("Refused"),
    "error": _said("Error"),
    "run_started": _run_started,
    "run_ended": _run_ended,
}


def live_message(event: RunEvent) -> str:
    """The data of one Server-Sent Event: the event's fragment and where it goes."""
    data: dict[str, Any] = {
        "seq": event.seq,
        "kind": event.kind,
        "group": group_id(event.step),
        "group_html": group_item(event.step or RUN_GROUP),
        "html": event_item(event),
    }
    if event.kind in ("step_started", "step_ended") and event.step:
        status = "running" if event.kind == "step_started" else _text(event.payload, "status")
        seconds = _num(event.payload, "seconds") if event.kind == "step_ended" else None
        data["heading_html"] = group_heading(event.step, status, seconds)
    if event.kind == "run_ended":
        data["status"] = _text(event.payload, "status")
    if event.kind == "model_call":
        data["cost_usd"] = _num(event.payload, "cost_usd")
        data["tokens"] = int(
            _num(event.payload, "input_tokens") + _num(event.payload, "output_tokens")
        )
        data["model"] = _text(event.payload, "model")[:200]  # set as text by the script
    return json.dumps(data)


def message_page(title: str, text: str, login: str = "", signout: str = "") -> str:
    body = nav(login, signout) + f"<main><h1>{esc(title)}</h1><p>{esc(text)}</p></main>"
    return document(f"{title} · AgentOps", body)
