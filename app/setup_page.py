"""`GET /`: status when configured, else the GitHub App manifest flow to create the App."""

from __future__ import annotations

import html
import json
import re

import httpx
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from app import gitlab_secret_page
from app.config import Settings
from app.forges.github_manifest import convert_manifest_code, github_web_url, load_manifest

_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>AgentOps</title>
<style>body{{font:16px system-ui;max-width:46rem;margin:3rem auto;padding:0 1rem}}
pre{{background:#f4f4f4;padding:1rem;overflow:auto}}</style></head><body>{body}</body></html>"""


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.service.settings
    return settings


async def index(request: Request) -> Response:
    settings = _settings(request)
    if settings.github_enabled or settings.gitlab_enabled:
        forges = [
            name
            for name, on in (
                ("GitHub", settings.github_enabled),
                ("GitLab", settings.gitlab_enabled),
            )
            if on
        ]
        body = (
            f"<h1>AgentOps is running</h1><p>Forges: {', '.join(forges)}.</p>"
            "<p>Webhooks: <code>/webhooks/github</code>, <code>/webhooks/gitlab</code>."
            " Health: <code>/readyz</code>.</p>"
        )
        if settings.gitlab_enabled:
            body += gitlab_secret_page.link_html()
        return HTMLResponse(_PAGE.format(body=body))
    manifest = json.dumps(load_manifest(settings.public_url))
    action = f"{github_web_url(settings.github_api_url)}/settings/apps/new"
    body = (
        "<h1>Set up AgentOps</h1><p>No GitHub App is configured yet. The button below asks "
        "GitHub to create one from <code>app.yml</code>, with webhooks pointing at "
        f"<code>{html.escape(settings.public_url)}/webhooks/github</code>.</p>"
        f'<form action="{html.escape(action)}" method="post">'
        f'<input type="hidden" name="manifest" value="{html.escape(manifest)}">'
        '<button type="submit">Create the GitHub App</button></form>'
        "<p>For GitLab, set <code>AGENTOPS_GITLAB_URL</code>, <code>AGENTOPS_GITLAB_TOKEN</code>"
        " and <code>AGENTOPS_GITLAB_WEBHOOK_SECRET</code> instead (see README.md); each"
        " project's hook then gets its own token (<code>agentops gitlab-secret PATH</code>).</p>"
    )
    return HTMLResponse(_PAGE.format(body=body))


async def callback(request: Request) -> Response:
    settings = _settings(request)
    if settings.github_enabled:
        return HTMLResponse(
            _PAGE.format(body="<p>A GitHub App is configured already.</p>"), status_code=409
        )
    code = request.query_params.get("code", "")
    if not re.fullmatch(r"[A-Za-z0-9_\-]{1,200}", code):
        return HTMLResponse(_PAGE.format(body="<p>Missing or malformed code.</p>"), status_code=400)
    try:
        app = await convert_manifest_code(settings.github_api_url, code)
    except httpx.HTTPError as exc:
        return HTMLResponse(
            _PAGE.format(body=f"<p>GitHub refused the code: {html.escape(type(exc).__name__)}</p>"),
            status_code=502,
        )
    lines = [
        f"AGENTOPS_GITHUB_APP_ID={app.get('id', '')}",
        f"AGENTOPS_GITHUB_APP_SLUG={app.get('slug', '')}",
        f"AGENTOPS_GITHUB_WEBHOOK_SECRET={app.get('webhook_secret', '')}",
        "AGENTOPS_GITHUB_PRIVATE_KEY_PATH=/path/to/agentops.pem",
    ]
    body = (
        "<h1>GitHub App created</h1><p>Save the private key below to a file, put these "
        "settings in the service's environment and restart it. This page is shown once.</p>"
        f"<pre>{html.escape(chr(10).join(lines))}</pre>"
        f"<pre>{html.escape(str(app.get('pem', '')))}</pre>"
    )
    return HTMLResponse(_PAGE.format(body=body), headers={"Cache-Control": "no-store"})
