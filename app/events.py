"""What a webhook means once verified and parsed: start a run, check labels against the
repository's `.agentops.yml`, record a tenant, or ignore.

Handlers produce these values; the intake stores them. Plain dataclasses, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from app.commands import Command, TargetKind

# A forge of the registry (`app/forges/registry.py: KINDS`); the intake refuses others.
ForgeKind = str
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class TenantKey:
    """Who a forge says owns an event: a GitHub App installation, a GitLab instance +
    project (`external_key` is the forge's own)."""

    forge: ForgeKind
    external_key: str
    account: str = ""


@dataclass(frozen=True)
class RunRequest:
    tenant: TenantKey
    repo: str
    target_kind: TargetKind
    target_number: int
    command: Command
    requested_by: str
    trigger: Literal["comment", "label", "check_run", "web"]  # web: the run page's buttons
    trigger_key: str  # the same command occurrence always has the same key
    comment_id: int | None = None
    context: dict[str, Any] = field(default_factory=dict)
    refers_to_run: int | None = None  # check run buttons name the run they belong to


@dataclass(frozen=True)
class LabelCheck:
    """Labels added that the operator's label map does not name.

    They may mean something in the repository's `.agentops.yml` (`labels:`), which only
    the worker can read: it starts the run `run_request` describes, or nothing at all.
    """

    tenant: TenantKey
    repo: str
    target_kind: TargetKind
    target_number: int
    labels: tuple[str, ...]  # in the order they were added
    requested_by: str
    trigger_key: str  # the run's key, as an operator label's run would have it
    context: dict[str, Any] = field(default_factory=dict)

    def run_request(self, label: str, command: Command) -> RunRequest:
        return RunRequest(
            tenant=self.tenant,
            repo=self.repo,
            target_kind=self.target_kind,
            target_number=self.target_number,
            command=command,
            requested_by=self.requested_by,
            trigger="label",
            trigger_key=self.trigger_key,
            context={**self.context, "label": label, "label_source": "repository"},
        )


@dataclass(frozen=True)
class TenantChange:
    tenant: TenantKey
    action: Literal["created", "deleted", "suspend", "unsuspend", "repositories"]


@dataclass(frozen=True)
class Ignored:
    reason: str


Outcome = RunRequest | LabelCheck | TenantChange | Ignored


class PayloadError(Exception):
    """The payload lacks what the event needs; the message is returned with a 400."""


def parse_payload(model: type[M], data: Any) -> M:
    """`data` as `model` (the subset of a payload a handler reads), or a `PayloadError`
    naming the first missing or malformed field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PayloadError(f"payload field {where}: {first['msg'].lower()}") from None
