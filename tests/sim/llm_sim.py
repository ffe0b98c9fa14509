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
from tests.sim.llm_rules import is_mistral, validate_anthropic, validate_chat


@dataclass(frozen=True)
class Reply:
    text: str = ""
    tool_calls: tuple[tuple[str, dict[str, Any]], ...] = ()
    status: int = 200
    error_type: str = ""
    error_message: str = ""
    retry_after: float | None = None
    delay: float = 0.0
    output_tokens: int = 7
    error_code: str = ""  # OpenAI's `error.code`, e.g. insufficient_quota
    headers: tuple[tuple[str, str], ...] = ()
    raw_body: str | None = None  # a 200 whose body is exactly this (not valid JSON, cut...)
    drop: bool = False  # a 200 whose body stops halfway and the connection closes
    stop: str = ""  # the stop reason to report instead of the natural one


def text(answer: str) -> Reply:
    return Reply(text=answer)


def tool_call(name: str, arguments: dict[str, Any], say: str = "") -> Reply:
    return Reply(text=say, tool_calls=((name, arguments),))


def structured(value: object) -> Reply:
    return Reply(text=json.dumps(value))


def fault(status: int, retry_after: float | None = None, message: str = "") -> Reply:
    kinds = {
        429: "rate_limit_error",
        500: "api_error",
        503: "api_error",
        529: "overloaded_error",
        401: "authentication_error",
        403: "permission_error",
    }
    return Reply(
        status=status,
        error_type=kinds.get(status, "invalid_request_error"),
        error_message=message or f"simulated {status}",
        retry_after=retry_after,
    )


def quota_exhausted(api: str = "openai") -> Reply:
    """The providers' answer when the account has no credit left (not a rate limit)."""
    if api == "anthropic":
        return Reply(
            status=400,
            error_type="invalid_request_error",
            error_message="Your credit balance is too low to access the Anthropic API. "
            "Please go to Plans & Billing to upgrade or purchase credits.",
        )
    return Reply(
        status=429,
        error_type="insufficient_quota",
        error_code="insufficient_quota",
        error_message="You exceeded your current quota, please check your plan and billing "
        "details.",
    )


def rate_limited_with_reset(**resets: str) -> Reply:
    """A 429 without `retry-after`, telling when the limits reset in its own headers."""
    return Reply(
        status=429,
        error_type="rate_limit_error",
        error_message="Rate limit reached",
        headers=tuple(resets.items()),
    )


def garbage(body: str = "<html>502 Bad Gateway</html>") -> Reply:
    return Reply(raw_body=body)


def dropped() -> Reply:
    return Reply(drop=True)


def empty(stop: str = "") -> Reply:
    """No text and no tool call, as at `max_tokens` or from a small local model."""
    return Reply(text="", stop=stop)


def overloaded() -> Reply:
    return fault(529, message="Overloaded")


def context_too_long() -> Reply:
    return Reply(
        status=400,
        error_type="context_length",
        error_message="prompt is too long: 250000 tokens > 200000 maximum",
    )


def slow(seconds: float, then: Reply | None = None) -> Reply:
    base = then or text("slow answer")
    return replace(base, delay=seconds)


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
        """(tokens read from the cache, tokens written to it) for the marked prefix."""
        system = body.get("system")
        if not isinstance(system, list) or not any("cache_control" in b for b in system):
            return 0, 0
        prefix = json.dumps([body.get("tools"), system], sort_keys=True)
        tokens = len(prefix) // 4
        if prefix in self._cache:
            return tokens, 0
        self._cache.add(prefix)
        return 0, tokens

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
                    "prompt_tokens_details": {"cached_tokens": 0},
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
