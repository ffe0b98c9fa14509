"""Everything the workflows ask of a model: adapters, routing, budgets, usage, replay.

No other module imports a provider SDK. Use `build_router(settings, call_log, repo)` and
`LLMRouter.complete` / `LLMRouter.complete_structured` with an `LLMRequest`.
"""

from app.llm.call_log import CallLog, MemoryCallLog, PostgresCallLog
from app.llm.errors import (
    AllModelsFailed,
    BudgetExhausted,
    ContextTooLong,
    LLMError,
    ProviderConfigError,
    ReplayMiss,
    StructuredOutputError,
)
from app.llm.factory import build_router
from app.llm.prompt_safety import DATA_POLICY, fence_untrusted
from app.llm.router import LLMRouter, RetryPolicy, Structured
from app.llm.routing import RepoLLMConfig
from app.llm.types import (
    Completion,
    LLMRequest,
    LLMResponse,
    Message,
    ToolCall,
    ToolSpec,
    Usage,
)

__all__ = [
    "DATA_POLICY",
    "AllModelsFailed",
    "BudgetExhausted",
    "CallLog",
    "Completion",
    "ContextTooLong",
    "LLMError",
    "LLMRequest",
    "LLMResponse",
    "LLMRouter",
    "MemoryCallLog",
    "Message",
    "PostgresCallLog",
    "ProviderConfigError",
    "ReplayMiss",
    "RepoLLMConfig",
    "RetryPolicy",
    "Structured",
    "StructuredOutputError",
    "ToolCall",
    "ToolSpec",
    "Usage",
    "build_router",
    "fence_untrusted",
]
