"""uvicorn for `agentops dev`, without its own signal handling.

uvicorn raises a signal it caught again once its server is down, which ends the process
before the worker sharing it has handed its runs over; `agentops dev` handles SIGINT and
SIGTERM itself, for web and worker together (app/cli/service.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import uvicorn


class DevServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
