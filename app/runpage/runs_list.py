"""The runs list (`GET /runs`): the viewer's runs, newest first, with the filters' form."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode

from app.runpage.render import STATUSES, document, esc, nav, slug, target_text, when
from app.store.runs import Run


def runs_page(
    runs: Sequence[Run],
    login: str,
    signout: str,
    repo: str,
    status: str,
    next_before: int | None,
    before: int | None = None,
) -> str:
    options = "".join(
        f'<option value="{s}"{" selected" if s == status else ""}>{s}</option>' for s in STATUSES
    )
    form = (
        '<form method="get" action="/runs" class="filters" role="search">'
        '<label for="f-repo">Repository</label>'
        f'<input id="f-repo" name="repo" value="{esc(repo)}" placeholder="owner/name">'
        '<label for="f-status">Status</label>'
        f'<select id="f-status" name="status"><option value="">any</option>{options}</select>'
        '<button type="submit">Filter</button></form>'
    )
    rows = "".join(
        f'<tr><td><a href="/runs/{int(r.id)}">{int(r.id)}</a></td><td>{esc(r.repo)}</td>'
        f"<td>{esc(target_text(r))}</td><td><code>{esc(r.command)}</code></td>"
        f"<td>@{esc(r.requested_by)}</td>"
        f'<td><span class="status s-{slug(r.status)}">{esc(r.status)}</span></td>'
        f"<td>{esc(when(r.created_at))}</td></tr>"
        for r in runs
    )
    table = (
        '<div class="scroll"><table><caption>Runs, newest first</caption><thead><tr>'
        '<th scope="col">Run</th><th scope="col">Repository</th><th scope="col">Target</th>'
        '<th scope="col">Command</th><th scope="col">Asked by</th><th scope="col">Status</th>'
        f'<th scope="col">Created</th></tr></thead><tbody>{rows}</tbody></table></div>'
        if runs
        else "<p>No runs here.</p>"
    )
    more = ""
    if next_before is not None:
        query = urlencode(
            {k: v for k, v in (("repo", repo), ("status", status)) if v}
            | {"before": str(next_before)}
        )
        more = f'<p><a href="/runs?{esc(query)}">Older runs</a></p>'
    # the first page is live (static/list.js); older pages are history
    note = "<p>Live: new runs and their status appear as they change.</p>" if before is None else ""
    listed = f'<div id="runs-live">{table}{more}</div>'
    body = nav(login, signout) + f"<main><h1>Runs</h1>{form}{note}{listed}</main>"
    return document("Runs · AgentOps", body, live=before is None, script_name="list.js")
