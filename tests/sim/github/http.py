"""GitHub's side of the skeleton: its routes, JSON answers, errors, pages and faults."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from tests.sim.github.state import Call, GitHubFault
from tests.sim.skeleton import Router, SimError, page_slice, page_window

if TYPE_CHECKING:
    from tests.sim.github.app import GitHubSim

JSON = "application/json; charset=utf-8"
DOCS = "https://docs.github.com/rest"

Handler = Callable[["GitHubSim", Call], tuple[int, Any] | Response]
ROUTES: Router[Handler] = Router()
route = ROUTES.route


def json_response(status: int, data: Any, headers: dict[str, str] | None = None) -> Response:
    base = {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": "4999",
        "x-ratelimit-reset": str(int(time.time()) + 3600),
        "x-github-media-type": "github.v3",
    }
    base.update(headers or {})
    content = b"" if status == 204 else json.dumps(data).encode()
    return Response(
        content, status_code=status, headers=base, media_type=None if status == 204 else JSON
    )


def error_response(exc: SimError) -> Response:
    body: dict[str, Any] = {
        "message": exc.message,
        "documentation_url": DOCS,
        "status": str(exc.status),
    }
    if exc.errors is not None:
        body["errors"] = exc.errors
    return json_response(exc.status, body, exc.headers)


def paginate(call: Call, items: list[Any]) -> Response:
    page, per_page = page_window(call.query, 30)
    chunk, more = page_slice(items, page, per_page)
    headers = {}
    if more:
        query = {**call.query, "per_page": str(per_page), "page": str(page + 1)}
        encoded = "&".join(f"{k}={v}" for k, v in query.items())
        headers["link"] = f'<{call.api}{call.path}?{encoded}>; rel="next"'
    return json_response(200, chunk, headers)


def body_of(call: Call) -> dict[str, Any]:
    if not isinstance(call.body, dict):
        raise SimError(400, "Problems parsing JSON")
    return call.body


def invalid(
    resource: str, field_name: str, code: str = "invalid", message: str | None = None
) -> SimError:
    error: dict[str, Any] = {"resource": resource, "field": field_name, "code": code}
    if message:
        error = {"resource": resource, "code": "custom", "message": message}
    return SimError(422, "Validation Failed", errors=[error])


def git(bare: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=bare, capture_output=True, text=True)
    if done.returncode:
        raise SimError(404, "Not Found")
    return done.stdout


def fault_response(fault: GitHubFault) -> Response:
    return error_response(fault_error(fault))


def fault_error(fault: GitHubFault) -> SimError:
    kind, wait = fault.kind, fault.retry_after
    if kind in {"500", "502", "503"}:
        return SimError(int(kind), "Server Error")
    if kind == "429":
        return SimError(429, "Too many requests", {"retry-after": f"{wait:g}"})
    if kind == "secondary":
        return SimError(
            403,
            "You have exceeded a secondary rate limit. Please wait a few "
            "minutes before you try again.",
            {"retry-after": f"{wait:g}"},
        )
    if kind == "rate_limit":
        return SimError(
            403,
            "API rate limit exceeded for installation ID 1.",
            {
                "x-ratelimit-limit": "5000",
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": str(int(time.time() + wait)),
            },
        )
    if kind == "not_accessible":
        return SimError(403, "Resource not accessible by integration")
    if kind == "suspended":
        return SimError(403, "This installation has been suspended")
    if kind == "unauthorized":
        return SimError(401, "Bad credentials")
    raise ValueError(f"unknown fault kind {kind!r}")
