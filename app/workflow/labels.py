"""Labels a repository maps in `.agentops.yml`: looked up by the worker, never at intake.

The intake maps the operator's labels (`AGENTOPS_LABELS`) itself and makes no forge call,
so any other label becomes a label check (`LabelCheck`). Here the worker reads `labels:`
from `.agentops.yml` on the default branch and either starts the run the label asks for
(the very run an operator label starts: same trigger, key, acknowledgement and
write-access check) or drops the check without a trace on the forge and without a run:
people add unrelated labels all the time.

Precedence: a label the operator's map names, in any case, is the operator's and the
repository cannot redefine it; the file comes from the default branch only, never from a
pull request's head.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from app import git, git_tip
from app.commands import repository_label_command
from app.forges.base import Forge, ForgeError, ForgeTransientError
from app.repo_config import REPO_CONFIG_FILE, repo_config_labels
from app.repo_files import RepositoryFileRefused
from app.store import label_checks as label_check_store
from app.store.label_checks import StoredLabelCheck
from app.workflow.context import WorkflowDeps
from app.workflow.runner import TransientRunError

log = logging.getLogger(__name__)

ForgeForRepo = Callable[[str, Mapping[str, Any]], Awaitable[Forge]]


class RepoLabelCache:
    """`labels:` per repository commit. A commit's file never changes, so on a busy
    repository an unrelated label usually costs one `ls-remote` and no clone."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, str], dict[str, str]] = OrderedDict()

    def get(self, url: str, sha: str) -> dict[str, str] | None:
        found = self._entries.get((url, sha))
        if found is not None:
            self._entries.move_to_end((url, sha))
        return found

    def put(self, url: str, sha: str, labels: dict[str, str]) -> None:
        self._entries[(url, sha)] = labels
        self._entries.move_to_end((url, sha))
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


_cache = RepoLabelCache()


async def repository_labels(
    forge: Forge, repo: str, workdir: Path, cache: RepoLabelCache = _cache
) -> dict[str, str]:
    """`labels:` of `.agentops.yml` on the default branch; empty when there is none."""
    info = await forge.get_repo(repo)
    remote = await forge.git_remote(repo)
    tip = await git_tip.branch_tip(remote, info.default_branch)
    if tip is None:
        return {}
    cached = cache.get(remote.url, tip)
    if cached is not None:
        return cached
    scratch = workdir / "label-checks" / uuid.uuid4().hex
    await asyncio.to_thread(scratch.parent.mkdir, parents=True, exist_ok=True)
    try:
        sha, text = await git_tip.read_file_at_tip(
            remote, info.default_branch, REPO_CONFIG_FILE, scratch
        )
    except RepositoryFileRefused as refused:
        # A link (or a submodule) maps no label; an implement run names the problem.
        log.info("%s: %s on %s maps no label: %s", repo, REPO_CONFIG_FILE, tip[:12], refused)
        sha, text = tip, None
    finally:
        await asyncio.to_thread(shutil.rmtree, scratch, True)
    labels = repo_config_labels(text)
    cache.put(remote.url, sha, labels)
    return labels


async def check_labels(
    deps: WorkflowDeps, check_id: int, forge_for: ForgeForRepo, last_try: bool = False
) -> str:
    """Decide one label check: "started" (a run is queued), "ignored", or "missing"
    (decided before). Raises `TransientRunError` while the forge may answer later."""
    async with deps.db.admin() as conn:
        tenant_id = await label_check_store.check_tenant_all_tenants(conn, check_id)
    if tenant_id is None:
        return "missing"
    async with deps.db.tenant(tenant_id) as tc:
        stored = await label_check_store.get_label_check(tc, check_id)
    if stored is None:
        return "missing"
    check = stored.check
    try:
        forge = await forge_for(check.tenant.forge, check.context)
        repo_labels = await repository_labels(forge, check.repo, deps.settings.workdir)
    except (ForgeTransientError, git.GitError) as exc:
        if not last_try:
            defer = getattr(exc, "retry_after", None)
            raise TransientRunError(str(exc), float(defer or 5.0)) from exc
        return await _drop(
            deps, tenant_id, stored, f"{REPO_CONFIG_FILE} unreadable: {exc}", warn=True
        )
    except ForgeError as exc:
        return await _drop(
            deps, tenant_id, stored, f"{REPO_CONFIG_FILE} unreadable: {exc}", warn=True
        )
    found = repository_label_command(
        check.labels, check.target_kind, repo_labels, deps.settings.labels
    )
    if found is None:
        return await _drop(deps, tenant_id, stored, "no label maps to a command here")
    label, command = found
    async with deps.db.tenant(tenant_id) as tc:
        run_id = await label_check_store.start_run(tc, stored, check.run_request(label, command))
    if run_id is None:
        return "ignored"
    await deps.queue.enqueue_run(run_id)  # if Redis is away, the sweep enqueues it
    log.info(
        "label check %s: %r on %s#%s starts run %s (%s, from %s)",
        check_id,
        label,
        check.repo,
        check.target_number,
        run_id,
        command.name,
        REPO_CONFIG_FILE,
    )
    return "started"


async def _drop(
    deps: WorkflowDeps, tenant_id: int, stored: StoredLabelCheck, why: str, warn: bool = False
) -> str:
    async with deps.db.tenant(tenant_id) as tc:
        await label_check_store.drop(tc, stored.id)
    check = stored.check
    log.log(
        logging.WARNING if warn else logging.INFO,
        "label check %s (%s on %s#%s): %s; nothing started",
        stored.id,
        ", ".join(repr(label) for label in check.labels),
        check.repo,
        check.target_number,
        why,
    )
    return "ignored"
