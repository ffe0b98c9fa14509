"""What both forge simulators do the same way, done once.

Each forge (`tests/sim/github/`, `tests/sim/gitlab/`) is a `ForgeServer`: it is served on
loopback by `serve()`, keeps a log of the requests it answered (`requests`), and plays the
faults a test asked for (`_faults`, matched by `"METHOD /path"` and optionally by a piece
of the request body). Its API routes are registered on a `Router` by the resource modules
(`@ROUTES.route("GET", "/repos/{owner}/{repo}")`); a handler that refuses a request raises
`SimError`, which the forge turns into its own JSON error shape.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from starlette.responses import Response

from tests.sim.faults import DroppedResponse
from tests.sim.serve import serve_app


class SimError(Exception):
    """A request refused with `status`; the forge renders `message` (and `errors`)."""

    def __init__(
        self,
        status: int,
        message: Any,
        headers: dict[str, str] | None = None,
        errors: list[Any] | None = None,
    ) -> None:
        super().__init__(str(message))
        self.status, self.message = status, message
        self.headers, self.errors = headers or {}, errors


@dataclass(frozen=True)
class LoggedRequest:
    """One answered request: `path` as the forge logs it, never a credential."""

    method: str
    path: str
    query: str
    status: int
    auth: str | None = None  # GitHub: "token" | "jwt" | "basic" | None
    user: str | None = None  # GitLab: the username the token belongs to
    body: Any = None  # GitLab: the request's parameters


# --- routes ----------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{(\w+)(?::(\w+))?\}")
_CONVERTERS = {"": "[^/]+", "path": ".+", "int": r"\d+", "hex": "[0-9a-fA-F]+"}

H = TypeVar("H")


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """`/repos/{owner}/{repo}/contents/{path:path}` as an anchored regex; the rest of the
    pattern is a regex too (e.g. `(?:/notes/{nid:int})?`)."""

    def group(match: re.Match[str]) -> str:
        return f"(?P<{match[1]}>{_CONVERTERS[match[2] or '']})"

    return re.compile("^" + _PLACEHOLDER.sub(group, pattern) + "$")


@dataclass(frozen=True)
class RouteEntry(Generic[H]):
    method: str
    regex: re.Pattern[str]
    handler: H
    auth: str


class Router(Generic[H]):
    """The API routes of one forge, first match wins, in registration order."""

    def __init__(self) -> None:
        self.routes: list[RouteEntry[H]] = []

    def route(self, method: str, pattern: str, auth: str = "token") -> Callable[[H], H]:
        regex = compile_pattern(pattern)

        def register(handler: H) -> H:
            self.routes.append(RouteEntry(method, regex, handler, auth))
            return handler

        return register

    def match(self, method: str, path: str) -> tuple[RouteEntry[H], dict[str, str]] | None:
        for entry in self.routes:
            found = entry.regex.match(path)
            if found is not None and entry.method == method:
                params = {k: v for k, v in found.groupdict().items() if v is not None}
                return entry, params
        return None


# --- pagination ------------------------------------------------------------------


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


def page_window(query: dict[str, str], default_per_page: int) -> tuple[int, int]:
    """`(page, per_page)` from `?page=&per_page=` (1-based, at most 100 a page)."""
    per_page = min(100, max(1, _int(query.get("per_page"), default_per_page)))
    return max(1, _int(query.get("page"), 1)), per_page


def page_slice(items: list[Any], page: int, per_page: int) -> tuple[list[Any], bool]:
    """The items of one page, and whether a later page has any."""
    return items[(page - 1) * per_page : page * per_page], page * per_page < len(items)


# --- faults ----------------------------------------------------------------------


@dataclass
class Fault:
    """The next `remaining` requests matching `pattern` (searched in "METHOD /path") fail.

    Not `applied`: the request is not carried out (after `delay`, if any, it is). Applied:
    it is carried out first and then answered late (`delay`), cut (`drop`) or with the
    forge's error for this fault.
    """

    pattern: re.Pattern[str]
    remaining: int
    method: str = "*"
    applied: bool = False
    drop: bool = False
    delay: float = 0.0
    body_contains: str | None = None

    def matches(self, method: str, path: str, body: Iterable[str]) -> bool:
        return (
            self.remaining > 0
            and self.method in ("*", method)
            and self.pattern.search(f"{method} {path}") is not None
            and (self.body_contains is None or any(self.body_contains in b for b in body))
        )


F = TypeVar("F", bound=Fault)


class ForgeServer(Generic[F]):
    """Lifecycle, request log and fault book of a forge simulator."""

    app: Any  # the ASGI application

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url  # set by serve(); used in webhook payloads
        self.requests: list[LoggedRequest] = []
        self._lock = threading.RLock()
        self._faults: list[F] = []

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve the simulator on loopback; yields (and remembers) its base URL."""
        with serve_app(self.app) as base:
            self.base_url = base
            yield base

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def clear_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    def _record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.requests.append(entry)

    def _take_fault(self, method: str, path: str, body: Iterable[str]) -> F | None:
        body = list(body)
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path, body):
                    fault.remaining -= 1
                    return fault
        return None


async def answer_with_fault(
    fault: F | None,
    handle: Callable[[], Awaitable[Response]],
    fault_answer: Callable[[F], Response],
) -> Response:
    """Carry out a request under `fault` (see `Fault`); the answer to send and log."""
    if fault is None:
        return await handle()
    if fault.applied:
        response = await handle()
        if fault.delay:
            await asyncio.sleep(fault.delay)
            return response
    elif fault.delay:
        await asyncio.sleep(fault.delay)
        return await handle()
    if fault.drop:
        return DroppedResponse()
    return fault_answer(fault)


def logged_status(response: Response) -> int:
    """The status a request log shows: a cut answer had started as a 200."""
    return 200 if isinstance(response, DroppedResponse) else response.status_code


# --- git over HTTP ---------------------------------------------------------------


def basic_password(header: str) -> str | None:
    """The password of an HTTP Basic `Authorization` header (git sends the token there)."""
    scheme, _, credential = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credential.strip()).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2] or None
