"""What a forge is to the rest of AgentOps: its identity, its words and its parts.

Each forge package (`app/forges/github/`, `app/forges/gitlab/`) describes itself with one
`ForgeSpec` in its `spec.py`; `app/forges/registry.py` lists them. Webhook routes, the
`Forge` of a run, `agentops doctor`, failure texts and the workflows' forge-specific words
are all read from there, so a new forge is a new package, its simulator and one line of
the registry. The spec modules are light: what imports a forge's SDK is loaded on use.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from app.config import Settings
from app.forges.base import Forge

if TYPE_CHECKING:
    import httpx

    from app.signin.forge_client import ForgeSignIn
    from app.web_service import Service
    from app.webhook_endpoints import Answer, Delivery

# What the database accepts as a forge kind (migration 0011): the registry says which exist.
KIND_FORMAT = re.compile(r"[a-z][a-z0-9-]{0,31}")


@dataclass(frozen=True)
class ForgeWording:
    """How a forge names things, for texts people read."""

    display_name: str  # "GitHub"
    change_request: str  # what a proposed change is called: "pull request", "merge request"
    progress_display: str  # where a run's progress shows: "check run", "commit status"
    noreply_domain: str  # e-mail domain of addresses that stand for an account, no mailbox
    change_request_sigil: str  # how text links one by number: "#" (GitHub), "!" (GitLab)

    def noreply_email(self, login: str) -> str:
        return f"{login}@{self.noreply_domain}"

    def change_ref(self, number: int) -> str:
        """A proposed change by number, as the forge links it in text: `#7`, `!7`."""
        return f"{self.change_request_sigil}{number}"

    @property
    def change_request_title(self) -> str:
        """`change_request` at the start of a sentence: "Pull request", "Merge request"."""
        return self.change_request[:1].upper() + self.change_request[1:]


class ForgeConnection(Protocol):
    """A forge's process-wide client (credentials, token cache), opened on first use."""

    def forge_for(self, context: Mapping[str, Any], what: str) -> Forge:
        """The `Forge` for an event's stored `context` (the run's, or a label check's);
        `ForgeError` naming `what` when the context does not say enough."""
        ...

    async def aclose(self) -> None: ...


class WebhookReceiver(Protocol):
    """Verifies one forge's deliveries and turns them into the intake's outcomes."""

    async def __call__(self, service: Service, delivery: Delivery) -> Answer: ...


@dataclass(frozen=True)
class ForgeParts:
    """A forge's parts that load its SDK: imported only when first used."""

    connect: Callable[[Settings], ForgeConnection]
    receiver: Callable[[Settings], WebhookReceiver]  # made once when the web process starts
    doctor: Callable[[Settings], Awaitable[tuple[bool, str]]]  # can we authenticate?
    # people's sign-in to the run page through this forge (None: its OAuth app is not set)
    sign_in: Callable[[Settings, httpx.AsyncClient], ForgeSignIn | None]


@dataclass(frozen=True)
class ForgeSpec:
    kind: str  # stored with every tenant, delivery and run; matches `KIND_FORMAT`
    wording: ForgeWording
    enabled: Callable[[Settings], bool]  # the operator's settings turn it on
    how_to_enable: str  # for `agentops doctor` when no forge is on
    bot_name: Callable[[Settings], str]  # the account its commits are made as
    # Whether a verified delivery proves who wrote a comment or added a label. GitLab's
    # hook token proves only the project, so its runs read the author back from the API.
    webhook_proves_author: bool
    parts_module: str  # the module whose `PARTS` are this forge's `ForgeParts`

    @property
    def webhook_path(self) -> str:
        return f"/webhooks/{self.kind}"

    @property
    def display_name(self) -> str:
        return self.wording.display_name

    def parts(self) -> ForgeParts:
        parts = importlib.import_module(self.parts_module).PARTS
        assert isinstance(parts, ForgeParts), self.parts_module
        return parts

    def bot_identity(self, settings: Settings) -> tuple[str, str]:
        """Name and e-mail of the commits the bot makes here."""
        name = self.bot_name(settings)
        return name, self.wording.noreply_email(name)

    def connect(self, settings: Settings) -> ForgeConnection:
        return self.parts().connect(settings)

    def receiver(self, settings: Settings) -> WebhookReceiver:
        return self.parts().receiver(settings)

    async def doctor(self, settings: Settings) -> tuple[bool, str]:
        return await self.parts().doctor(settings)
