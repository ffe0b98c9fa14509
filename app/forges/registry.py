"""The forges AgentOps knows, one `ForgeSpec` each, and which `Forge` serves a run.

Adding a forge: a package `app/forges/<kind>/` with its `spec.py`, its simulator in
`tests/sim/`, and its `SPEC` in `FORGES` below. Everything else reads this list.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from app.config import Settings
from app.forges.base import Forge, ForgeError
from app.forges.github.spec import SPEC as GITHUB
from app.forges.gitlab.spec import SPEC as GITLAB
from app.forges.spec import KIND_FORMAT, ForgeConnection, ForgeSpec, ForgeWording

if TYPE_CHECKING:
    from app.store.runs import Run

FORGES: tuple[ForgeSpec, ...] = (GITHUB, GITLAB)

_BY_KIND = {spec.kind: spec for spec in FORGES}
assert len(_BY_KIND) == len(FORGES) and all(KIND_FORMAT.fullmatch(kind) for kind in _BY_KIND)

KINDS = frozenset(_BY_KIND)


def spec_for(kind: str) -> ForgeSpec:
    """The spec of a registered forge; `ForgeError` for any other kind."""
    spec = _BY_KIND.get(kind)
    if spec is None:
        raise ForgeError(f"unknown forge {kind!r}")
    return spec


def wording_for(kind: str) -> ForgeWording:
    return spec_for(kind).wording


def display_name(kind: str, unknown: str = "The forge") -> str:
    spec = _BY_KIND.get(kind)
    return spec.display_name if spec is not None else unknown


class ForgeRegistry:
    """One connection per configured forge, opened on first use and shared by all runs
    of the process (GitHub: the App and its token cache; GitLab: the bot's client)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._connections: dict[str, ForgeConnection] = {}

    async def for_run(self, run: Run) -> Forge:
        return self._forge(run.forge, run.context, f"run {run.id}")

    async def for_context(self, forge: str, context: Mapping[str, Any]) -> Forge:
        """The forge for a repository named in an event's context (a label check)."""
        return self._forge(forge, context, "the event")

    def _forge(self, kind: str, context: Mapping[str, Any], what: str) -> Forge:
        if kind not in _BY_KIND:
            raise ForgeError(f"{what} is for an unknown forge {kind!r}")
        return self.connection(kind).forge_for(context, what)

    def connection(self, kind: str) -> ForgeConnection:
        """The process-wide connection to forge `kind` (opened now if need be)."""
        connection = self._connections.get(kind)
        if connection is None:
            connection = self._connections[kind] = spec_for(kind).connect(self.settings)
        return connection

    async def aclose(self) -> None:
        for connection in self._connections.values():
            await connection.aclose()
        self._connections.clear()
