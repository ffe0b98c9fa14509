"""The shell of the service's few HTML pages (set-up, GitLab webhook token): one style,
allowed by its hash in a strict Content-Security-Policy; no script anywhere."""

from __future__ import annotations

import base64
import hashlib

from starlette.responses import HTMLResponse

from app.security_headers import SAME_ORIGIN_FORMS_REFERRER_POLICY

STYLE = (
    "body{font:16px system-ui;max-width:46rem;margin:3rem auto;padding:0 1rem}"
    "pre{background:#f4f4f4;padding:1rem;overflow:auto}"
)
_STYLE_SOURCE = "'sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
_STYLE_SOURCE += "'"


def content_security_policy(form_action: str = "'none'") -> str:
    return (
        f"default-src 'none'; style-src {_STYLE_SOURCE}; form-action {form_action}; "
        "base-uri 'none'; frame-ancestors 'none'"
    )


def html_page(
    body: str,
    status: int = 200,
    form_action: str = "'none'",
    secret: bool = False,
    title: str = "AgentOps",
) -> HTMLResponse:
    """`body` in the page shell; `form_action` is where its forms may post, `secret` (or an
    error status) keeps the answer out of every cache."""
    document = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{STYLE}</style></head><body>{body}</body></html>"
    )
    headers = {"Content-Security-Policy": content_security_policy(form_action)}
    if form_action == "'self'":
        headers["Referrer-Policy"] = SAME_ORIGIN_FORMS_REFERRER_POLICY
    if secret or status != 200:
        headers["Cache-Control"] = "no-store"
    return HTMLResponse(document, status_code=status, headers=headers)
