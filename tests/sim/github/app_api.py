"""The App's own endpoints: the manifest flow, installations and their tokens, and the
webhook's delivery log (`GET /app/hook/deliveries`, `POST .../{id}/attempts`)."""

from __future__ import annotations

import json
import re
import secrets
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import Response

from tests.sim.github.auth import issue_token
from tests.sim.github.http import json_response, paginate, route
from tests.sim.github.shapes import repo_json
from tests.sim.github.state import Call, generate_app_key, iso, user_json
from tests.sim.skeleton import LoggedRequest, SimError

if TYPE_CHECKING:
    from tests.sim.github.app import GitHubSim


async def new_app_from_manifest(sim: GitHubSim, request: Request) -> Response:
    """GitHub's web form of the manifest flow (`POST /settings/apps/new`), confirmed at once."""

    def log(status: int) -> None:
        sim._record(LoggedRequest(request.method, "/settings/apps/new", request.url.query, status))

    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    try:
        manifest = json.loads(form.get("manifest", [""])[0])
        redirect = str(manifest["redirect_url"])
    except (ValueError, KeyError, TypeError):
        log(422)
        return Response("Invalid GitHub App configuration\n", status_code=422)
    private_pem, _ = generate_app_key()
    slug = re.sub(r"[^a-z0-9]+", "-", str(manifest.get("name", "app")).lower()).strip("-")
    app = {
        "id": sim._next_id(),
        "slug": slug or "app",
        "name": manifest.get("name", slug),
        "owner": user_json("acme"),
        "client_id": "Iv1." + secrets.token_hex(8),
        "client_secret": secrets.token_hex(20),
        "webhook_secret": secrets.token_hex(20),
        "pem": private_pem,
        "manifest": manifest,
        "converted": 0,
    }
    code = secrets.token_hex(10)
    with sim._lock:
        sim.manifest_apps.append(app)
        sim._manifest_codes[code] = (app, time.time())
    query = {"code": code}
    if request.query_params.get("state") is not None:
        query["state"] = request.query_params["state"]
    log(302)
    return Response(status_code=302, headers={"location": f"{redirect}?{urlencode(query)}"})


@route("POST", "/app-manifests/{code}/conversions", auth="none")
def _convert_manifest(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    made = sim._manifest_codes.pop(call.params["code"], None)
    if made is None or time.time() - made[1] > 3600:
        raise SimError(404, "Not Found")
    app, _ = made
    app["converted"] += 1
    return 201, {k: v for k, v in app.items() if k not in {"manifest", "converted"}}


@route("GET", "/app", auth="jwt")
def _get_app(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    return 200, {"id": sim.app_id, "slug": sim.slug, "name": sim.slug, "owner": user_json("acme")}


@route("GET", "/app/installations", auth="jwt")
def _list_installations(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    return 200, [
        {
            "id": i.id,
            "account": user_json(i.account),
            "suspended_at": iso() if i.suspended else None,
        }
        for i in sim._installations.values()
    ]


@route("POST", "/app/installations/{installation_id}/access_tokens", auth="jwt")
def _create_token(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    installation = sim._installations.get(int(call.params["installation_id"]))
    if installation is None:
        raise SimError(404, "Not Found")
    if installation.suspended:
        raise SimError(403, "This installation has been suspended")
    return 201, issue_token(sim, installation.id)


@route("GET", "/repos/{owner}/{repo}/installation", auth="jwt")
def _repo_installation(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    repo = sim._named_repo(call.params["owner"], call.params["repo"])
    if repo is None:
        raise SimError(404, "Not Found")
    installation = sim._installations[repo.installation_id]
    return 200, {
        "id": installation.id,
        "account": user_json(installation.account),
        "suspended_at": iso() if installation.suspended else None,
    }


@route("GET", "/installation/repositories")
def _installation_repos(sim: GitHubSim, call: Call) -> Response:
    assert call.installation is not None
    repos = [
        repo_json(r, call.web, call.api)
        for r in sim._repos.values()
        if r.installation_id == call.installation.id
    ]
    response = paginate(call, repos)
    response.body = json.dumps(
        {"total_count": len(repos), "repositories": json.loads(bytes(response.body))}
    ).encode()
    response.headers["content-length"] = str(len(response.body))
    return response


@route("GET", "/app/hook/deliveries", auth="jwt")
def _deliveries(sim: GitHubSim, call: Call) -> Response:
    per_page = max(1, min(100, int(call.query.get("per_page", 30))))
    items, cursor = sim.hooks.page(per_page, call.query.get("cursor"))
    headers = {}
    if cursor is not None:
        headers["link"] = f'<{call.api}{call.path}?per_page={per_page}&cursor={cursor}>; rel="next"'
    return json_response(200, items, headers)


@route("POST", "/app/hook/deliveries/{delivery_id}/attempts", auth="jwt")
def _redeliver(sim: GitHubSim, call: Call) -> tuple[int, Any]:
    if not call.params["delivery_id"].isdigit():
        raise SimError(404, "Not Found")
    if sim.hooks.redeliver(int(call.params["delivery_id"])) is None:
        raise SimError(404, "Not Found")
    return 202, {}
