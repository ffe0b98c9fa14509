"""The GitHub App manifest flow: the manifest to post, and the code-for-credentials swap."""

from __future__ import annotations

from typing import Any

import httpx
import yaml

from app.forges.github.spec import SPEC
from app.resources import app_manifest


def load_manifest(public_url: str, *, workflows: bool = False) -> dict[str, Any]:
    """`app.yml` (shipped with the package) for this server; with `workflows`, the App may
    also change CI workflow files, which GitHub refuses to any App without that permission
    (even when a repository's `.agentops.yml` sets `allow_workflow_edits`)."""
    manifest: dict[str, Any] = yaml.safe_load(app_manifest().read_text(encoding="utf-8"))
    base = public_url.rstrip("/")
    manifest["url"] = base
    manifest.setdefault("hook_attributes", {})["url"] = f"{base}{SPEC.webhook_path}"
    manifest["redirect_url"] = f"{base}/setup/callback"
    # the App's user authorization: sign-in with GitHub on the run pages (app/signin)
    manifest["callback_urls"] = [f"{base}/signin/github/callback"]
    if workflows:
        manifest.setdefault("default_permissions", {})["workflows"] = "write"
    return manifest


def github_web_url(api_url: str) -> str:
    """https://api.github.com → https://github.com; GHES https://h/api/v3 → https://h."""
    api_url = api_url.rstrip("/")
    if api_url == "https://api.github.com":
        return "https://github.com"
    return api_url.removesuffix("/api/v3")


async def convert_manifest_code(api_url: str, code: str) -> Any:
    """Exchange the one-time code GitHub redirects with for the new App's credentials."""
    async with httpx.AsyncClient(base_url=api_url.rstrip("/"), timeout=15.0) as client:
        response = await client.post(
            f"/app-manifests/{code}/conversions", headers={"Accept": "application/vnd.github+json"}
        )
        response.raise_for_status()
        data: Any = response.json()  # a ValueError when it is not JSON
        return data
