"""`/setup/gitlab-secret`: the operator looks up one GitLab project's (or group's) webhook
token, as `agentops gitlab-secret PATH` prints it.

A token lets its holder speak for that project, so the page answers only with the admin
token (`AGENTOPS_ADMIN_TOKEN`) in the form; without one configured it points at the CLI.
"""

from __future__ import annotations

import hmac
import html
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response

from app.config import Settings
from app.html_page import html_page
from app.webhooks import gitlab_webhook_secret, normalized_gitlab_path

PATH = "/setup/gitlab-secret"
_FORM_LIMIT = 4096
_FORM = f"""<h1>GitLab webhook secret</h1>
<p>Each GitLab project (or group) has its own webhook secret token, derived from
<code>AGENTOPS_GITLAB_WEBHOOK_SECRET</code>. Put it in the project's (or group's)
Settings &rarr; Webhooks &rarr; Secret token. A delivery with another project's token is
refused. Renaming or moving the project changes its token.</p>
<form action="{PATH}" method="post">
<p><label>Project or group path <input name="path" size="40"
placeholder="group/sub/project" required></label></p>
<p><label><input type="checkbox" name="group" value="1"> this is a group (a group hook,
valid for every project under it)</label></p>
<p><label>Admin token <input name="admin_token" type="password" size="40"
required></label></p>
<button type="submit">Show the secret token</button></form>"""


def link_html() -> str:
    """A line for another page that points here."""
    return f'<p>GitLab webhook secret of a project or group: <a href="{PATH}">{PATH}</a>.</p>'


def secret_body(settings: Settings, path: str, group: bool) -> str:
    """The page's answer for `path` (HTML), once the visitor is known to be the operator."""
    operator = settings.gitlab_webhook_secret
    if operator is None or not operator.get_secret_value().strip():
        return "<p>GitLab is not configured: set <code>AGENTOPS_GITLAB_WEBHOOK_SECRET</code>.</p>"
    clean = normalized_gitlab_path(path)
    token = gitlab_webhook_secret(operator.get_secret_value(), clean, group=group)
    what = "group" if group else "project"
    return (
        f"<h1>Secret token of {what} <code>{html.escape(clean)}</code></h1>"
        f"<pre>{html.escape(token)}</pre>"
        f"<p>Same as <code>agentops gitlab-secret {'--group ' if group else ''}"
        f"{html.escape(clean)}</code>.</p>"
    )


def _page(body: str, status: int = 200) -> Response:
    return html_page(
        body, status, form_action="'self'", secret=True, title="AgentOps: GitLab webhook secret"
    )


def _admin_token(request: Request) -> str | None:
    settings: Settings = request.app.state.service.settings
    token = settings.admin_token
    return token.get_secret_value() if token is not None and token.get_secret_value() else None


async def gitlab_secret(request: Request) -> Response:
    settings: Settings = request.app.state.service.settings
    if _admin_token(request) is None:
        return _page(
            "<p>This page needs <code>AGENTOPS_ADMIN_TOKEN</code>. Without it, run"
            " <code>agentops gitlab-secret PROJECT_PATH</code> on the server.</p>",
            403,
        )
    if request.method != "POST":
        return _page(_FORM)
    raw = await request.body()
    if len(raw) > _FORM_LIMIT:
        return _page("<p>Form too large.</p>", 413)
    form = parse_qs(raw.decode("utf-8", "replace"))
    given = form.get("admin_token", [""])[0]
    expected = _admin_token(request) or ""
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return _page("<p>Wrong admin token.</p>" + _FORM, 401)
    path = form.get("path", [""])[0]
    if not normalized_gitlab_path(path):
        return _page("<p>Give a project or group path.</p>" + _FORM, 400)
    return _page(secret_body(settings, path, form.get("group", [""])[0] == "1"))
