"""respx for the adapters' unit tests.

The SDKs (anthropic 2.x, openai 3.x) send through `httpx2`, which respx does not patch;
a `httpx2.MockTransport` hands each request to a respx router instead, so the routes,
`route.calls` and their assertions are respx's own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import httpx2
import pytest
import respx


def respx_http_client(router: respx.MockRouter) -> httpx2.AsyncClient:
    async def handle(request: httpx2.Request) -> httpx2.Response:
        mirrored = httpx.Request(
            request.method,
            str(request.url),
            headers=list(request.headers.multi_items()),
            content=await request.aread(),
        )
        answer = await router.async_handler(mirrored)
        headers = [
            (k, v) for k, v in answer.headers.multi_items() if k.lower() != "content-encoding"
        ]
        return httpx2.Response(answer.status_code, headers=headers, content=answer.content)

    return httpx2.AsyncClient(transport=httpx2.MockTransport(handle))


@pytest.fixture
async def mocked() -> AsyncIterator[tuple[respx.MockRouter, httpx2.AsyncClient]]:
    router = respx.MockRouter(assert_all_called=False)
    client = respx_http_client(router)
    yield router, client
    await client.aclose()


@pytest.fixture(autouse=True)
def _no_llm_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings() in these tests sees no operator's LLM keys or models."""
    import os

    for name in list(os.environ):
        if name.startswith("AGENTOPS_") and name not in (
            "AGENTOPS_DATABASE_URL",
            "AGENTOPS_REDIS_URL",
        ):
            monkeypatch.delenv(name)
