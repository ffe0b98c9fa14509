"""Prices and context windows per model, read from a data file (`prices.json`)."""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from app.llm.model_ids import ModelId
from app.llm.provider_specs import INLINE_COMPATIBLE
from app.llm.types import LLMRequest, Usage

logger = logging.getLogger(__name__)
DEFAULT_PRICES_PATH = Path(__file__).with_name("prices.json")
# A dated or versioned snapshot of a priced model costs what the model does
# (claude-sonnet-4-5-20250929, gpt-4o-2024-08-06, claude-opus-4-1@20250805,
# mistral-large-2411, mistral-small-latest); an exact entry for a snapshot wins.
_SNAPSHOT = re.compile(r"(?:-\d{8}|-\d{4}-\d{2}-\d{2}|@\d{8}|-\d{4}|-latest)$")
UNPRICED = "(unpriced)"
PER_MILLION = 1_000_000
CHARS_PER_TOKEN = 3  # on the high side: code and JSON run at 3-4 characters per token


class PriceEntry(BaseModel):
    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)
    context_window: int = Field(default=32768, gt=0)
    input_limit: int | None = Field(default=None, gt=0)  # when less than the window
    aliases: list[str] = Field(default_factory=list)  # other names of the same model


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
    input_limit: int = 0  # the longest prompt it takes; 0: the whole window

    @property
    def prompt_limit(self) -> int:
        return self.input_limit or self.context_window

    @property
    def guessed(self) -> bool:
        """Not the model's own price: a provider's conservative default, or none."""
        return self.key.endswith("*") or self.key == UNPRICED


class PriceTable:
    """Exact entries and their aliases, dated snapshots of them, else the provider's
    conservative `PROVIDER:*` price (warned about once per model): a model that is not
    in the file is never priced as a cheaper one whose name it starts with."""

    def __init__(self, entries: dict[str, PriceEntry]) -> None:
        self._entries = entries
        self._names: dict[str, str] = {}
        for key, entry in entries.items():
            provider = key.split(":", 1)[0]
            for alias in entry.aliases:
                self._names[f"{provider}:{alias}"] = key
        self._names.update({key: key for key in entries})
        self._warned: set[str] = set()

    def _key_for(self, model_id: ModelId) -> str | None:
        text = f"{model_id.provider}:{model_id.model}"
        if text in self._names:
            return self._names[text]
        base = _SNAPSHOT.sub("", text)
        if base != text and base in self._names:
            return self._names[base]
        for wildcard in (f"{model_id.provider}:*", f"{INLINE_COMPATIBLE}:*"):
            if wildcard in self._entries:
                return wildcard
        return None

    def price_for(self, model_id: ModelId) -> Price:
        key = self._key_for(model_id)
        if key is None or key.endswith("*"):
            self._warn_once(model_id, key)
        if key is None:
            return Price(0.0, 0.0, 0.0, 0.0, 32768, key=UNPRICED)
        entry = self._entries[key]
        return Price(
            input=entry.input,
            output=entry.output,
            cached_input=entry.input if entry.cached_input is None else entry.cached_input,
            cache_write=entry.input if entry.cache_write is None else entry.cache_write,
            context_window=entry.context_window,
            key=key,
            input_limit=entry.input_limit or 0,
        )

    def _warn_once(self, model_id: ModelId, key: str | None) -> None:
        name = str(model_id)
        if name in self._warned:
            return
        self._warned.add(name)
        entry = self._entries.get(key or "")
        if entry is None:
            logger.warning("model %s has no price: its calls are recorded at $0", name)
        elif entry.input or entry.output:
            logger.warning(
                "model %s is not in the price file: priced as %s ($%g in, $%g out per "
                "million tokens), which may be more than it costs; add it to "
                "AGENTOPS_LLM_PRICES_PATH to count it exactly",
                name,
                key,
                entry.input,
                entry.output,
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


def billed_tokens(usage: Usage, price: Price) -> int:
    """Tokens as they are billed: cache reads at their discount, cache writes at their
    premium, relative to an uncached input token; output tokens as they are."""
    if not price.input:
        return (
            usage.input_tokens
            + usage.cached_tokens
            + usage.cache_write_tokens
            + (usage.output_tokens)
        )
    return (
        usage.input_tokens
        + usage.output_tokens
        + math.ceil(usage.cached_tokens * price.cached_input / price.input)
        + math.ceil(usage.cache_write_tokens * price.cache_write / price.input)
    )


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
