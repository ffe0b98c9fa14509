"""Who sees what: a run is shown to the operator, and to people who can read its
repository, asked of the forge with the person's own token and kept for minutes
(`ACCESS_CACHE_SECONDS`); its Cancel and Retry buttons to people the forge gives write
access, through the same check a comment command passes (`Forge.has_write_access`, the
bot's own view of the repository's collaborators), as the signed-in person."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from app.forges.base import ForgeError
from app.signin.forge_client import ForgeUnreachable, Workspace
from app.signin.service import SignIn, Viewer
from app.store import tenants as tenant_store
from app.store.runs import Run

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scope:
    """The runs a viewer may list: every run (`everything`), or those of `pairs`
    (tenant id, repository) inside the tenants `tenant_ids`."""

    everything: bool
    tenant_ids: frozenset[int] = frozenset()
    pairs: frozenset[tuple[int, str]] = frozenset()
    # (tenant id, repository) → the repository's id now: a run of an older repository of
    # that name (renamed or deleted since) is not listed
    repo_ids: Mapping[tuple[int, str], int] = field(default_factory=dict)


async def can_read(signin: SignIn, viewer: Viewer, run: Run) -> bool:
    """Whether `viewer` may see `run`. The forge not answering counts as no (not kept)."""
    if viewer.operator:
        return True
    if viewer.forge != run.forge or viewer.forge not in signin.forges:
        return False
    question = _read_question(run)
    found, answer = signin.cache.get(viewer.person, question)
    if found:
        return bool(answer)
    token = await signin.token_of(viewer)
    if token is None:
        return False
    try:
        readable = await signin.forges[run.forge].can_read(token, run)
    except ForgeUnreachable as exc:
        log.warning("access of %s to %s unknown: %s", viewer.login, run.repo, exc)
        return False
    signin.cache.put(viewer.person, question, readable)
    return readable


def _read_question(run: Run) -> tuple[str, ...]:
    """What a read answer is kept under: the repository's name and, where the webhook gave
    it, its id (forges are asked by id: a name can pass to another repository)."""
    ids = (str(run.context.get(key, "")) for key in ("repo_id", "project_id"))
    return ("read", run.forge, run.repo.lower(), *ids)


async def can_write(signin: SignIn, viewer: Viewer, run: Run) -> bool:
    """Whether `viewer` may cancel or retry `run`: they can read it, and the forge gives
    them write access to its repository (the comment commands' check). Operators too: a
    press files a control run as their login, and the worker asks the forge again."""
    if viewer.forge != run.forge:  # the admin token, or a login of the other forge
        return False
    if not await can_read(signin, viewer, run):
        return False
    question = ("write", run.forge, run.repo.lower())
    found, answer = signin.cache.get(viewer.person, question)
    if found:
        return bool(answer)
    try:
        # the registry's forges are shared by the process: closed with it, not here
        forge = await signin.registry.for_run(run)
        writable = await forge.has_write_access(run.repo, viewer.login)
    except ForgeError as exc:
        log.warning("write access of %s to %s unknown: %s", viewer.login, run.repo, exc)
        return False
    signin.cache.put(viewer.person, question, writable)
    return writable


async def readable_scope(signin: SignIn, viewer: Viewer) -> Scope:
    """The workspaces (installations, projects) the viewer can access, as this service's
    tenants, and the repositories inside them; for a runs list under row-level security
    (`Database.readers(scope.tenant_ids)`, narrowed to `scope.pairs`)."""
    if viewer.operator:
        return Scope(everything=True)
    forge = signin.forges.get(viewer.forge or "")
    if forge is None:
        return Scope(everything=False)
    # what the forge said is cached; which of them are tenants here is read each time (a
    # workspace becomes a tenant with its first run, and the live list must show it)
    found, answer = signin.cache.get(viewer.person, ("workspaces",))
    if found:
        return await _as_tenants(signin, forge.kind, answer)
    token = await signin.token_of(viewer)
    if token is None:
        return Scope(everything=False)
    try:
        workspaces = await forge.workspaces(token)
    except ForgeUnreachable as exc:
        log.warning("workspaces of %s unknown: %s", viewer.login, exc)
        return Scope(everything=False)
    signin.cache.put(viewer.person, ("workspaces",), workspaces)
    return await _as_tenants(signin, forge.kind, workspaces)


async def _as_tenants(signin: SignIn, kind: str, workspaces: list[Workspace]) -> Scope:
    async with signin.db.admin() as conn:
        ids = await tenant_store.tenant_ids_for_keys(
            conn, kind, [w.external_key for w in workspaces]
        )
    known = [w for w in workspaces if w.external_key in ids]
    pairs = frozenset((ids[w.external_key], repo) for w in known for repo in w.repos)
    repo_ids = {
        (ids[w.external_key], repo): repo_id for w in known for repo, repo_id in w.repo_ids.items()
    }
    return Scope(False, frozenset(t for t, _ in pairs), pairs, repo_ids)
