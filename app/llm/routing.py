"""Which models serve which role, in which order: settings, then the repository's overrides.

A role's chain comes from, first to last: the repository's `.agentops.yml` `models:`,
`AGENTOPS_LLM_MODELS`, `AGENTOPS_LLM_DEFAULT_MODEL` when it is set explicitly, defaults
implied by the first configured API key (in the order of `provider_specs.PROVIDERS`), and
at last `AGENTOPS_LLM_DEFAULT_MODEL`'s default (a local model).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.config import Settings
from app.llm.model_ids import ModelId, ModelIdError, parse_model_id
from app.llm.provider_specs import INLINE_COMPATIBLE, PROVIDERS, api_key
from app.llm.types import ROLES, Role


class RepoBudgets(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run_usd: float | None = Field(default=None, gt=0)


class RepoLLMConfig(BaseModel):
    """The LLM part of `.agentops.yml`: `models:` per role and `budgets:`."""

    model_config = ConfigDict(extra="ignore")
    models: dict[Role, list[str]] = Field(default_factory=dict)
    budgets: RepoBudgets = Field(default_factory=RepoBudgets)

    @field_validator("models", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        if isinstance(value, dict):
            return {k: [v] if isinstance(v, str) else v for k, v in value.items()}
        return value


@dataclass(frozen=True)
class Routes:
    chains: dict[str, tuple[ModelId, ...]]

    def chain(self, role: str) -> tuple[ModelId, ...]:
        return self.chains[role]


def _parse_chain(
    ids: list[str], endpoints: frozenset[str], source: str, allow_inline: bool
) -> tuple[ModelId, ...]:
    chain: list[ModelId] = []
    for text in ids:
        try:
            model_id = parse_model_id(text, endpoints)
        except ModelIdError as exc:
            raise ModelIdError(f"{source}: {exc}") from None
        if model_id.provider == INLINE_COMPATIBLE and not allow_inline:
            raise ModelIdError(
                f"{source}: {text!r}: a repository may not name its own server; "
                "ask the operator to add it to AGENTOPS_LLM_ENDPOINTS"
            )
        chain.append(model_id)
    if not chain:
        raise ModelIdError(f"{source}: the model list is empty")
    return tuple(chain)


def default_chain(settings: Settings, role: str) -> list[str]:
    if "llm_default_model" in settings.model_fields_set:
        return [settings.llm_default_model]
    for spec in PROVIDERS:
        implied = spec.implied_model(role)
        if implied and api_key(settings, spec):
            return [implied]
    return [settings.llm_default_model]


def resolve_routes(settings: Settings, repo: RepoLLMConfig | None = None) -> Routes:
    """Every role's ordered model chain; raises `ModelIdError` naming the bad setting."""
    endpoints = frozenset(settings.llm_endpoints)
    unknown = set(settings.llm_models) - set(ROLES)
    if unknown:
        raise ModelIdError(
            f"AGENTOPS_LLM_MODELS: unknown role(s) {', '.join(sorted(unknown))} "
            f"(roles: {', '.join(ROLES)})"
        )
    chains: dict[str, tuple[ModelId, ...]] = {}
    for role in ROLES:
        if repo is not None and role in repo.models:
            chains[role] = _parse_chain(
                repo.models[role], endpoints, f".agentops.yml models.{role}", allow_inline=False
            )
        elif role in settings.llm_models:
            chains[role] = _parse_chain(
                settings.llm_models[role], endpoints, f"AGENTOPS_LLM_MODELS[{role}]", True
            )
        else:
            chains[role] = _parse_chain(
                default_chain(settings, role), endpoints, "AGENTOPS_LLM_DEFAULT_MODEL", True
            )
    return Routes(chains)
