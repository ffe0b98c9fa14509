"""uvicorn with `agentops serve`'s protocol (`app/http_protocol.py`) on a loopback port:
answers intact over one kept-alive connection, a long streamed body whole, and a stream's
first part at the client while the app still waits to send the rest."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from app.http_protocol import JoinedWritesHttpTools
from tests.sim.serve import serve_app

CHUNK = b"0123456789abcdef" * 4096  # 64 KiB
CHUNKS = 80  # 5 MiB: far past any socket buffer, so the writer must wait for the reader
first_part_seen = threading.Event()


async def echo(request: Request) -> Response:
    return PlainTextResponse(f"{request.path_params['n']}:{len(await request.body())}\n")


async def long_body(request: Request) -> Response:
    async def parts() -> AsyncIterator[bytes]:
        for _ in range(CHUNKS):
            yield CHUNK

    return StreamingResponse(parts(), media_type="application/octet-stream")


async def waits_for_the_reader(request: Request) -> Response:
    async def parts() -> AsyncIterator[bytes]:
        yield b"first\n"
        # the rest only once the client has the first part: held writes would hang here
        while not first_part_seen.is_set():
            await asyncio.sleep(0.01)
        yield b"second\n"

    return StreamingResponse(parts(), media_type="text/plain")


APP = Starlette(
    routes=[
        Route("/echo/{n}", echo, methods=["POST"]),
        Route("/long", long_body),
        Route("/stream", waits_for_the_reader),
    ]
)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve_app(APP, http=JoinedWritesHttpTools) as url:
        yield url


def test_answers_over_one_kept_alive_connection(base_url: str) -> None:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        for n in range(20):
            answer = client.post(f"/echo/{n}", content=b"x" * n)
            assert answer.status_code == 200 and answer.text == f"{n}:{n}\n"
            assert answer.headers["content-length"] == str(len(answer.content))
        assert client.get("/missing").status_code == 404


def test_a_long_streamed_body_arrives_whole(base_url: str) -> None:
    digest, size = hashlib.sha256(), 0
    with (
        httpx.Client(base_url=base_url, timeout=30) as client,
        client.stream("GET", "/long") as answer,
    ):
        for piece in answer.iter_bytes():
            digest.update(piece)
            size += len(piece)
    assert size == len(CHUNK) * CHUNKS
    assert digest.hexdigest() == hashlib.sha256(CHUNK * CHUNKS).hexdigest()


def test_a_streams_first_part_arrives_before_the_rest_is_sent(base_url: str) -> None:
    first_part_seen.clear()
    with (
        httpx.Client(base_url=base_url, timeout=10) as client,
        client.stream("GET", "/stream") as answer,
    ):
        lines = answer.iter_lines()
        assert next(lines) == "first"
        first_part_seen.set()
        assert next(lines) == "second"
