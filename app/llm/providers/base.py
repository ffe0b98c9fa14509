"""The one thing every provider adapter does: answer a normalised request with one model."""

from __future__ import annotations

from typing import Protocol

from app.llm.types import LLMRequest, LLMResponse


class Provider(Protocol):
    """An adapter. It makes exactly one HTTP call per `complete` (the SDK's own retries
    are off: the router retries) and raises `ProviderError` already classified."""

    name: str

    async def complete(self, request: LLMRequest, model: str) -> LLMResponse: ...

    async def check(self, model: str) -> str:
        """Reach the provider (list models, no tokens spent); returns a short status line
        and raises `ProviderError` when it cannot."""
        ...

    async def close(self) -> None: ...


def structured_output_instruction(schema_json: str) -> str:
    return (
        "Answer with exactly one JSON object, with no prose around it, that matches this "
        f"JSON schema:\n{schema_json}"
    )
