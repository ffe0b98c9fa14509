"""Prices and context windows per model, read from a data file (`prices.json`)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from app.llm.model_ids import INLINE_COMPATIBLE, ModelId
from app.llm.types import LLMRequest, Usage

DEFAULT_PRICES_PATH = Path(__file__).with_name("prices.json")
PER_MILLION = 1_000_000
CHARS_PER_TOKEN = 3  # on the high side: code and JSON run at 3-4 characters per token


class PriceEntry(BaseModel):
    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)
    context_window: int = Field(default=32768, gt=0)


class PriceFile(BaseModel):
    models: dict[str, PriceEntry]


@dataclass(frozen=True)
class Price:
    """USD per million tokens, and the model's context window in tokens."""

    input: float
    output: float
    cached_input: float
    cache_write: float
    context_window: int
    key: str  # the entry of the price file that matched


class PriceTable:
    def __init__(self, entries: dict[str, PriceEntry]) -> None:
        self._entries = entries

    def price_for(self, model_id: ModelId) -> Price:
        """Exact key, else the longest key that prefixes the id, else `PROVIDER:*`."""
        text = f"{model_id.provider}:{model_id.model}"
        key = text if text in self._entries else None
        if key is None:
            prefixes = [k for k in self._entries if not k.endswith("*") and text.startswith(k)]
            key = max(prefixes, key=len) if prefixes else None
        if key is None:
            for wildcard in (f"{model_id.provider}:*", f"{INLINE_COMPATIBLE}:*"):
                if wildcard in self._entries:
                    key = wildcard
                    break
        if key is None:
            return Price(0.0, 0.0, 0.0, 0.0, 32768, key="(unpriced)")
        entry = self._entries[key]
        return Price(
            input=entry.input,
            output=entry.output,
            cached_input=entry.input if entry.cached_input is None else entry.cached_input,
            cache_write=entry.input if entry.cache_write is None else entry.cache_write,
            context_window=entry.context_window,
            key=key,
        )


def load_price_table(path: Path | None = None) -> PriceTable:
    source = path or DEFAULT_PRICES_PATH
    try:
        parsed = PriceFile.model_validate(json.loads(source.read_text()))
    except (OSError, json.JSONDecodeError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        raise ValueError(f"cannot read the LLM price file {source}: {first}") from None
    return PriceTable(parsed.models)


def cost_usd(usage: Usage, price: Price) -> float:
    return (
        usage.input_tokens * price.input
        + usage.output_tokens * price.output
        + usage.cached_tokens * price.cached_input
        + usage.cache_write_tokens * price.cache_write
    ) / PER_MILLION


def estimate_input_tokens(request: LLMRequest) -> int:
    chars = len(request.system) + len(request.context)
    for message in request.messages:
        chars += len(message.text) + sum(
            len(call.name) + len(json.dumps(call.arguments)) for call in message.tool_calls
        )
    for tool in request.tools:
        chars += len(tool.name) + len(tool.description) + len(json.dumps(tool.parameters))
    if request.json_schema is not None:
        chars += len(json.dumps(request.json_schema))
    return math.ceil(chars / CHARS_PER_TOKEN) + 8 * len(request.messages)


def estimate_cost_usd(request: LLMRequest, price: Price) -> float:
    """An upper estimate before the call: all input uncached, `max_tokens` of output."""
    usage = Usage(input_tokens=estimate_input_tokens(request), output_tokens=request.max_tokens)
    return cost_usd(usage, price)
