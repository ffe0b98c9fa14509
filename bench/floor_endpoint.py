"""The floor of bench/intake_throughput.py: a bare Starlette endpoint that reads the body,
stores it with one INSERT committed on its own (one round trip, one write-ahead-log flush,
as PostgreSQL's defaults have it) and answers 202, on the same uvicorn and PostgreSQL as
`agentops serve`. What no intake that stores a delivery before answering can beat here.

`FLOOR_DATABASE_URL` names the database; the table `bench_floor` is made at start-up."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

import asyncpg
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

_pool: asyncpg.Pool | None = None


async def webhook(request: Request) -> Response:
    body = await request.body()
    assert _pool is not None
    await _pool.execute(
        "INSERT INTO bench_floor (delivery_id, body) VALUES ($1, $2)",
        request.headers.get("x-github-delivery", ""),
        body.decode("utf-8", "replace"),
    )
    return PlainTextResponse("accepted\n", status_code=202)


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    global _pool
    # the service's pool size (app/web.py)
    _pool = await asyncpg.create_pool(os.environ["FLOOR_DATABASE_URL"], min_size=1, max_size=10)
    await _pool.execute(
        "CREATE TABLE IF NOT EXISTS bench_floor"
        " (id bigserial PRIMARY KEY, delivery_id text NOT NULL, body text NOT NULL,"
        " created_at timestamptz NOT NULL DEFAULT now())"
    )
    try:
        yield
    finally:
        await _pool.close()


app = Starlette(routes=[Route("/webhooks/github", webhook, methods=["POST"])], lifespan=lifespan)
