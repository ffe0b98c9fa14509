"""GitLab's side of the skeleton: its routes, request parameters, pages and fault answers."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.sim.gitlab.state import GitLabFault, SimProject, SimUser
from tests.sim.skeleton import Router, page_slice, page_window

if TYPE_CHECKING:
    from tests.sim.gitlab.app import GitLabSim


@dataclass
class Call:
    """What a handler sees: the request, its user, its parameters (query and body), the
    base URL it came to, the path's parameters, and the project it names (if any)."""

    request: Request
    user: SimUser
    data: dict[str, Any]
    base: str
    params: dict[str, str]
    found_project: SimProject | None = None

    @property
    def proj(self) -> SimProject:
        assert self.found_project is not None, "a route without /projects/:id"
        return self.found_project

    @property
    def iid(self) -> int:
        return int(self.params["iid"])


Handler = Callable[["GitLabSim", Call], Response]
ROUTES: Router[Handler] = Router()
route = ROUTES.route
PROJECT = "/projects/{pid}"
KINDS = PROJECT + "/(?P<kind>issues|merge_requests)/{iid:int}"  # an issue or an MR


async def params_of(request: Request) -> dict[str, Any]:
    """The query parameters, overlaid by a JSON or form body's."""
    data: dict[str, Any] = {k: v for k, v in request.query_params.items()}
    raw = await request.body()
    if not raw:
        return data
    ctype = request.headers.get("content-type", "")
    if "json" in ctype:
        try:
            loaded = json.loads(raw)
        except ValueError:
            loaded = None
        if isinstance(loaded, dict):
            data.update(loaded)
    elif "form" in ctype:
        data.update({k: v[-1] for k, v in parse_qs(raw.decode()).items()})
    return data


def labels_of(data: dict[str, Any]) -> list[str]:
    labels = data.get("labels") or []
    if isinstance(labels, str):
        labels = [x for x in labels.split(",") if x]
    return list(labels)


def page(request: Request, items: list[Any]) -> Response:
    """One page of `items`, with GitLab's X-* headers and its Link header."""
    number, per_page = page_window(dict(request.query_params), 20)
    total = len(items)
    pages = max(1, math.ceil(total / per_page))
    chunk, _ = page_slice(items, number, per_page)
    headers = {
        "X-Page": str(number),
        "X-Per-Page": str(per_page),
        "X-Total": str(total),
        "X-Total-Pages": str(pages),
        "X-Next-Page": str(number + 1) if number < pages else "",
        "X-Prev-Page": str(number - 1) if number > 1 else "",
    }
    base_query = {k: v for k, v in request.query_params.items() if k not in ("page", "per_page")}
    raw = request.scope.get("raw_path") or request.url.path.encode()
    here = str(request.base_url).rstrip("/") + raw.decode("latin-1").split("?", 1)[0]

    def link(n: int) -> str:
        return f"{here}?{urlencode({**base_query, 'page': n, 'per_page': per_page})}"

    links = []
    if number < pages:
        links.append(f'<{link(number + 1)}>; rel="next"')
    if number > 1:
        links.append(f'<{link(number - 1)}>; rel="prev"')
    links.append(f'<{link(1)}>; rel="first"')
    links.append(f'<{link(pages)}>; rel="last"')
    headers["Link"] = ", ".join(links)
    return JSONResponse(chunk, headers=headers)


def status_message(status: int) -> str:
    return {
        403: "403 Forbidden",
        404: "404 Not Found",
        429: "Retry later",
        500: "500 Internal Server Error",
        502: "502 Bad Gateway",
        503: "503 Service Unavailable",
    }.get(status, f"{status} Error")


def fault_response(fault: GitLabFault) -> Response:
    headers = dict(fault.headers)
    if fault.status == 429:
        wait = fault.retry_after if fault.retry_after is not None else 60
        headers.setdefault("Retry-After", str(math.ceil(wait)))
        headers.setdefault("RateLimit-Reset", str(int(datetime.now(UTC).timestamp() + wait)))
        headers.setdefault("RateLimit-Remaining", "0")
    message = fault.message or status_message(fault.status)
    return JSONResponse({"message": message}, fault.status, headers=headers)
