"""The GitHub App manifest flow: the manifest to post, and the code-for-credentials swap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import yaml

# Beside the package in a checkout; in the working directory for an installed copy.
MANIFEST_CANDIDATES = (Path(__file__).resolve().parents[2] / "app.yml", Path("app.yml"))


def load_manifest(
    public_url: str, path: Path | None = None, *, workflows: bool = False
) -> dict[str, Any]:
    """`app.yml` for this server; with `workflows`, the App may also change CI workflow
    files, which GitHub refuses to any App without that permission (even when a
    repository's `.agentops.yml` sets `allow_workflow_edits`)."""
    if path is None:
        path = next((p for p in MANIFEST_CANDIDATES if p.exists()), MANIFEST_CANDIDATES[0])
    manifest: dict[str, Any] = yaml.safe_load(path.read_text())
    base = public_url.rstrip("/")
    manifest["url"] = base
    manifest.setdefault("hook_attributes", {})["url"] = f"{base}/webhooks/github"
    manifest["redirect_url"] = f"{base}/setup/callback"
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
