"""An LLM simulator: the Anthropic Messages API and the OpenAI Chat Completions API on loopback.

It plays scripted answers per model (text, tool calls, structured output) and injects
faults (429 with `retry-after`, 500, 529 overloaded, slow answers, context-length errors,
401). Anthropic prompt caching is simulated: a system prefix marked with `cache_control`
is written to the cache the first time and read from it after. Every request it received
is kept in `requests` for assertions.

    sim = LLMSimulator()
    sim.script("claude-x", fault(429, retry_after=0.01), text("hello"))
    with serve_app(sim.app) as base_url: ...
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field, replace
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.sim.faults import DroppedResponse
from tests.sim.llm_replies import (
    Reply,
    context_too_long,
    dropped,
    empty,
    fault,
    from_last_result,
    garbage,
    last_tool_result,
    overloaded,
    quota_exhausted,
    rate_limited_with_reset,
    slow,
    structured,
    text,
    tool_call,
)
from tests.sim.llm_rules import is_mistral, validate_anthropic, validate_chat

LOOKBACK_BLOCKS = 20


def _size(prefix_key: str) -> int:
    return int(prefix_key.split(":", 1)[0]) // 4


def anthropic_blocks(body: dict[str, Any]) -> list[tuple[object, bool]]:
    """System blocks, then each message's content blocks, with whether each is marked."""
    found: list[tuple[object, bool]] = []
    system = body.get("system")
    for block in system if isinstance(system, list) else [system] if system else []:
        found.append((_unmarked(block), isinstance(block, dict) and "cache_control" in block))
    for index, message in enumerate(body.get("messages") or []):
        content = message.get("content")
        for block in content if isinstance(content, list) else [content]:
            marked = isinstance(block, dict) and "cache_control" in block
            found.append(([index, message.get("role"), _unmarked(block)], marked))
    return found


def _unmarked(block: object) -> object:
    if isinstance(block, dict):
        return {k: v for k, v in block.items() if k != "cache_control"}
    return block


def prefix_sizes(tools: object, blocks: list[tuple[object, bool]]) -> list[tuple[str, bool]]:
    """For each block, a key for everything up to it (`LENGTH:SHA256` of its canonical
    text; LENGTH / 4 is its size in tokens), and whether it is marked."""
    keys: list[tuple[str, bool]] = []
    digest = hashlib.sha256()
    text = json.dumps(tools, sort_keys=True)
    digest.update(text.encode())
    length = len(text)
    for block, marked in blocks:
        text = json.dumps(block, sort_keys=True)
        digest.update(text.encode())
        length += len(text)
        keys.append((f"{length}:{digest.hexdigest()}", marked))
    return keys


@dataclass
class Received:
    api: str  # "anthropic" | "openai"
    model: str
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass
class LLMSimulator:
    api_key: str | None = None  # when set, other keys get 401
    models: tuple[str, ...] = ()  # listed by GET /v1/models
    requests: list[Received] = field(default_factory=list)
    _scripts: dict[str, deque[Reply]] = field(default_factory=lambda: defaultdict(deque))
    refused: list[str] = field(default_factory=list)  # validation errors it answered
    _cache: set[str] = field(default_factory=set)
    _ids: int = 0

    def script(self, model: str, *replies: Reply) -> None:
        self._scripts[model].extend(replies)

    def requests_for(self, model: str) -> list[Received]:
        return [r for r in self.requests if r.model == model]

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/messages", self._anthropic, methods=["POST"]),
                Route("/v1/chat/completions", self._openai, methods=["POST"]),
                Route("/v1/models", self._models, methods=["GET"]),
            ]
        )

    # --- common ------------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}{self._ids:04d}"

    def _call_id(self, model: str) -> str:
        """Mistral's ids are nine letters and digits; OpenAI's `call_…` are longer."""
        self._ids += 1
        if is_mistral(model):
            return f"Mc{self._ids:07d}"
        return f"call_{self._ids:04d}"

    def _authorised(self, request: Request) -> bool:
        if self.api_key is None:
            return True
        given = request.headers.get("x-api-key") or request.headers.get(
            "authorization", ""
        ).removeprefix("Bearer ")
        return given == self.api_key

    async def _take(self, api: str, request: Request) -> tuple[dict[str, Any], Reply]:
        body: dict[str, Any] = await request.json()
        model = str(body.get("model"))
        self.requests.append(Received(api, model, body, dict(request.headers)))
        if not self._authorised(request):
            return body, fault(401, message="invalid x-api-key")
        # What the real APIs refuse is refused before a scripted answer is spent.
        check = validate_anthropic if api == "anthropic" else validate_chat
        problem = check(body)
        if problem:
            self.refused.append(problem)
            return body, Reply(
                status=400, error_type="invalid_request_error", error_message=problem
            )
        queue = self._scripts[model]
        reply = queue.popleft() if queue else text(f"simulated answer from {model}")
        if reply.derive is not None:
            reply = replace(reply.derive(last_tool_result(body)), delay=reply.delay)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        return body, reply

    @staticmethod
    def _headers(reply: Reply) -> dict[str, str]:
        headers = dict(reply.headers)
        if reply.retry_after is not None:
            headers["retry-after"] = f"{reply.retry_after:g}"
        return headers

    @staticmethod
    def _broken(reply: Reply) -> Response | None:
        if reply.drop:
            return DroppedResponse()
        if reply.raw_body is not None:
            return Response(reply.raw_body, 200, media_type="application/json")
        return None

    # --- Anthropic Messages API -------------------------------------------------------

    async def _anthropic(self, request: Request) -> Response:
        body, reply = await self._take("anthropic", request)
        broken = self._broken(reply)
        if broken is not None:
            return broken
        if reply.status != 200:
            kind = (
                "invalid_request_error"
                if reply.error_type == "context_length"
                else (reply.error_type)
            )
            return JSONResponse(
                {"type": "error", "error": {"type": kind, "message": reply.error_message}},
                status_code=reply.status,
                headers=self._headers(reply),
            )
        content: list[dict[str, Any]] = []
        if reply.text:
            content.append({"type": "text", "text": reply.text})
        for name, arguments in reply.tool_calls:
            content.append(
                {
                    "type": "tool_use",
                    "id": self._next_id("toolu_"),
                    "name": name,
                    "input": arguments,
                }
            )
        cached, written = self._anthropic_cache(body)
        total_input = len(json.dumps(body)) // 4
        return JSONResponse(
            {
                "id": self._next_id("msg_"),
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": content,
                "stop_reason": reply.stop or ("tool_use" if reply.tool_calls else "end_turn"),
                "stop_sequence": None,
                "usage": {
                    "input_tokens": max(1, total_input - cached - written),
                    "output_tokens": reply.output_tokens,
                    "cache_read_input_tokens": cached,
                    "cache_creation_input_tokens": written,
                },
            }
        )

    def _anthropic_cache(self, body: dict[str, Any]) -> tuple[int, int]:
        """(tokens read from the cache, tokens written to it), as Anthropic counts them:
        each `cache_control` block ends a prefix (tools, system, messages) that is
        written; a request reads the longest cached prefix ending at one of its
        breakpoints or at one of the 20 blocks before each."""
        prefixes = prefix_sizes(body.get("tools"), anthropic_blocks(body))
        marks = [k for k, (_, marked) in enumerate(prefixes) if marked]
        if not marks:
            return 0, 0
        hit = 0
        for mark in marks:
            for k in range(mark, max(-1, mark - LOOKBACK_BLOCKS), -1):
                if prefixes[k][0] in self._cache:
                    hit = max(hit, _size(prefixes[k][0]))
                    break
        for mark in marks:
            self._cache.add(prefixes[mark][0])
        return hit, max(0, _size(prefixes[marks[-1]][0]) - hit)

    def _openai_cache(self, body: dict[str, Any]) -> int:
        """Tokens of the longest earlier prefix (message by message), as OpenAI's automatic
        cache gives them: from 1024 tokens on, in steps of 128."""
        blocks = [(m, False) for m in body.get("messages") or []]
        prefixes = prefix_sizes(body.get("tools"), blocks)
        hit = 0
        for key, _ in reversed(prefixes):
            if key in self._cache:
                hit = _size(key)
                break
        for key, _ in prefixes:
            self._cache.add(key)
        return 0 if hit < 1024 else hit - hit % 128

    # --- OpenAI Chat Completions API --------------------------------------------------

    async def _openai(self, request: Request) -> Response:
        body, reply = await self._take("openai", request)
        broken = self._broken(reply)
        if broken is not None:
            return broken
        if reply.status != 200:
            error: dict[str, Any] = {"message": reply.error_message, "type": reply.error_type}
            if reply.error_code:
                error["code"] = reply.error_code
            if reply.error_type == "context_length":
                error = {
                    "message": "This model's maximum context length is 128000 tokens. "
                    "However, your messages resulted in 250000 tokens.",
                    "type": "invalid_request_error",
                    "code": "context_length_exceeded",
                }
            return JSONResponse(
                {"error": error}, status_code=reply.status, headers=self._headers(reply)
            )
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if reply.tool_calls:
            message["tool_calls"] = [
                {
                    "id": self._call_id(body["model"]),
                    "type": "function",
                    "function": {"name": name, "arguments": json.dumps(arguments)},
                }
                for name, arguments in reply.tool_calls
            ]
        prompt = len(json.dumps(body)) // 4
        return JSONResponse(
            {
                "id": self._next_id("chatcmpl-"),
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": reply.stop
                        or ("tool_calls" if reply.tool_calls else "stop"),
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": reply.output_tokens,
                    "total_tokens": prompt + reply.output_tokens,
                    "prompt_tokens_details": {"cached_tokens": self._openai_cache(body)},
                },
            }
        )

    async def _models(self, request: Request) -> JSONResponse:
        if not self._authorised(request):
            return JSONResponse(
                {
                    "type": "error",
                    "error": {"type": "authentication_error", "message": "invalid x-api-key"},
                },
                status_code=401,
            )
        if "anthropic-version" in request.headers:
            data = [
                {"id": m, "type": "model", "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
                for m in self.models
            ]
            return JSONResponse(
                {"data": data, "has_more": False, "first_id": None, "last_id": None}
            )
        return JSONResponse(
            {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": 0, "owned_by": "sim"}
                    for m in self.models
                ],
            }
        )


__all__ = [
    "LLMSimulator",
    "Reply",
    "context_too_long",
    "dropped",
    "empty",
    "fault",
    "from_last_result",
    "garbage",
    "overloaded",
    "quota_exhausted",
    "rate_limited_with_reset",
    "slow",
    "structured",
    "text",
    "tool_call",
]
