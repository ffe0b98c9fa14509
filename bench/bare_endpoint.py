"""The yardstick of bench/intake_throughput.py: a Starlette endpoint that reads the body
and answers 202, served by the same uvicorn as `agentops serve`."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route


async def webhook(request: Request) -> Response:
    await request.body()
    return PlainTextResponse("accepted\n", status_code=202)


app = Starlette(routes=[Route("/webhooks/github", webhook, methods=["POST"])])
