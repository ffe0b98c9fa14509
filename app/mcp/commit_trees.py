"""The code map, for `/mcp`, of a repository the service has worked on, at a commit.

Only a repository with a run stored in the service is served: that run names the tenant
(proven by the forge when the run came in) and the installation to reach the forge with.
The commit is the one asked for, or the one the newest run there checked out. Its tree is
fetched with the installation token through app/git.py (git with the service's
neutralised config: no hook, filter or configured program runs) into a bare repository,
listed, and only the files the code map reads are written, by Python, from the raw
blobs (app/git_export.py, app/mcp/tree_select.py): no link, no submodule, no file over
the code map's size limit, no path out of the folder or into a `.git`. The bare
repository is then removed; the written tree stays in `<WORKDIR>/codemap-trees` (the
most recently used few) and is indexed into the process's resident indexes over the blob
cache the worker shares (app/codemap/resident.py), so a known commit ranks at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from app import git
from app.codemap.resident import (
    RepositoryIdentity,
    ResidentIndexes,
    TreeSource,
    shared_indexes,
)
from app.config import ConfigError, Settings
from app.forges.base import ForgeError, GitRemote
from app.forges.registry import KINDS, ForgeRegistry
from app.git_export import export_blobs, iter_listed_tree
from app.mcp.errors import ToolRefusal
from app.mcp.repo_map import Indexed, RepoMap
from app.mcp.tree_select import Selection, TreeRefused, select_files
from app.store import DATABASE_ERRORS
from app.store import tenants as tenant_store
from app.store.readers import (
    RepositoryCheckout,
    checked_out_all_tenants,
    latest_checkout_all_tenants,
)
from app.web_service import Service

log = logging.getLogger(__name__)

TREES_FOLDER = "codemap-trees"
FETCH_SECONDS = 300.0
LIST_SECONDS = 60.0
LISTING_SECONDS = 120.0
MAX_WRITES_AT_ONCE = 2  # trees fetched and written at once: each may hold the limits on disk
WATCH_SECONDS = 1.0  # how often a fetch's size on disk is measured while it runs
MAX_FETCHED_BYTES = 2 * 1024 * 1024 * 1024
_REPOSITORY = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+")
_FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


class CommitMap(RepoMap):
    """The code map of one written tree: its commit is known, so its index is looked up in
    the resident indexes directly (no `git status`: the folder holds no git)."""

    def __init__(self, tree: Path, source: TreeSource, resident: ResidentIndexes) -> None:
        super().__init__(tree, None, resident, source.repository)
        identity = source.repository
        self.label = f"{identity.forge}:{identity.repository}@{source.commit}"
        self._source = source
        self._opened_at = time.monotonic()

    def indexed(self) -> Indexed:
        assert self.resident is not None
        locator = self.resident.locator(self._source, self.root)
        return Indexed(locator.index, locator, self._opened_at, self._source.commit)


class KeyedLocks:
    """One lock per key, held only while someone holds or waits on it: a client asking for
    many distinct commits leaves nothing behind (a lock per commit ever asked for grew
    without bound)."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[asyncio.Lock, int]] = {}  # key -> (lock, users)

    def __len__(self) -> int:
        return len(self._entries)

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._entries.get(key) or (asyncio.Lock(), 0)
        self._entries[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:  # also when cancelled while waiting
            lock, users = self._entries[key]
            if users == 1:
                del self._entries[key]
            else:
                self._entries[key] = (lock, users - 1)


class CommitTrees:
    """The written trees of the web process and its resident indexes."""

    def __init__(self, settings: Settings, service: Service, registry: ForgeRegistry) -> None:
        self.settings = settings
        self.service = service
        self.registry = registry
        self.folder = settings.workdir / TREES_FOLDER
        self.keep = settings.codemap_resident_indexes + 2
        self._locks = KeyedLocks()
        self._writing = asyncio.Semaphore(MAX_WRITES_AT_ONCE)
        self._resident: ResidentIndexes | None = None

    @property
    def resident(self) -> ResidentIndexes:
        if self._resident is None:
            self._resident = shared_indexes(
                self.settings.workdir / "codemap-cache",
                max_indexes=self.settings.codemap_resident_indexes,
                max_bytes=self.settings.codemap_cache_mb * 1_000_000,
            )
        return self._resident

    async def open(self, repository: str, forge: str | None, commit: str | None) -> CommitMap:
        """The code map of `repository` at `commit` (default: the newest run's); a tool
        error with the reason for a repository the service has not worked on, a commit
        that is not there, or a tree beyond the limits."""
        name = repository.strip().strip("/")
        parts = name.split("/")
        if len(name) > 200 or not _REPOSITORY.fullmatch(name) or {".", ".."} & set(parts):
            raise ToolRefusal("repository must be a full name: owner/name (GitLab: group/project)")
        if forge is not None and forge not in KINDS:
            raise ToolRefusal(f"forge must be one of {', '.join(sorted(KINDS))}")
        wanted = commit.strip().lower() if commit else None
        if wanted is not None and not _FULL_SHA.fullmatch(wanted):
            raise ToolRefusal("commit must be a full commit SHA (40 hexadecimal digits)")
        known = await self._checkout(name, forge)
        run = known.run
        where = f"{run.forge}:{run.repo}"
        sha = wanted or known.commit
        if sha is None:
            raise ToolRefusal(f"no run on {where} has checked out a commit yet: give `commit`")
        source = TreeSource(RepositoryIdentity(run.tenant_id, run.forge, run.repo), sha)
        key = f"{run.tenant_id}-{run.forge}-{_digest(run.repo)}-{sha}"
        async with self._locks.hold(key):
            tree = self.folder / key / "tree"
            if tree.is_dir():
                os.utime(self.folder / key)  # recently used: evicted last
            else:
                await self._write(known, sha, key, where)
        return CommitMap(tree, source, self.resident)

    async def _checkout(self, name: str, forge: str | None) -> RepositoryCheckout:
        async with self._admin() as conn:
            known = await latest_checkout_all_tenants(conn, forge, name)
            tenant = await tenant_store.get_tenant(conn, known.run.tenant_id) if known else None
        shown = f"{forge}:{name}" if forge else name
        if known is None or tenant is None:
            raise ToolRefusal(
                f"AgentOps has had no run on {shown}: the code map serves only the "
                "repositories it has worked on"
            )
        if not tenant.active:
            raise ToolRefusal(f"AgentOps is no longer installed on {shown}")
        return known

    @asynccontextmanager
    async def _admin(self) -> AsyncIterator[asyncpg.Connection]:
        db = self.service.db
        if db is None:
            raise ToolRefusal("the database is not connected yet: try again in a moment")
        try:
            async with db.admin() as conn:
                yield conn
        except DATABASE_ERRORS:
            raise ToolRefusal("the database is unreachable: try again in a moment") from None

    async def _checked_out(self, known: RepositoryCheckout, sha: str) -> bool:
        async with self._admin() as conn:
            return await checked_out_all_tenants(
                conn, known.run.tenant_id, known.run.forge, known.run.repo, sha
            )

    async def _write(self, known: RepositoryCheckout, sha: str, key: str, where: str) -> None:
        """Fetch `sha` into a bare repository, write the chosen files, keep the tree (a
        few at a time: each may hold MAX_FETCHED_BYTES and MAX_KEPT_BYTES on disk)."""
        async with self._writing:
            await self._fetch_and_write(known, sha, key, where)

    async def _fetch_and_write(
        self, known: RepositoryCheckout, sha: str, key: str, where: str
    ) -> None:
        work = self.folder / f".{key}.{uuid.uuid4().hex[:8]}"
        bare = work / "git"
        try:
            await asyncio.to_thread(bare.mkdir, parents=True)
            await git.run_git(["init", "--quiet", "--bare", str(bare)])
            try:
                forge = await self.registry.for_run(known.run)
                remote = await forge.git_remote(known.run.repo)
                if sha != known.commit and not await self._checked_out(known, sha):
                    await _require_branch_tip(remote, sha, where)
                fetched = await _fetch_within(bare, remote, sha)
            except (ForgeError, ConfigError) as exc:
                raise ToolRefusal(f"cannot reach {where}: {exc}") from None
            except git.GitTimeout:
                raise ToolRefusal(
                    f"fetching {where} took longer than {FETCH_SECONDS:.0f} s"
                ) from None
            except git.GitError:
                raise ToolRefusal(
                    f"{where} gave no commit {sha} (not in that repository, or AgentOps's "
                    "access to it ended)"
                ) from None
            if not fetched or await asyncio.to_thread(_folder_bytes, bare) > MAX_FETCHED_BYTES:
                raise ToolRefusal(
                    f"commit {sha} of {where} is over the size limit "
                    f"({MAX_FETCHED_BYTES >> 20} MB of git objects)"
                )
            env = await git.repository_env(bare)
            try:
                chosen = await asyncio.to_thread(_select_listed, bare, sha, env)
                await export_blobs(bare, chosen.blobs, work / "tree")
            except TreeRefused as exc:
                raise ToolRefusal(f"commit {sha} of {where}: {exc}") from None
            except (git.GitError, OSError):
                log.warning("mcp: cannot write the tree of %s at %s", where, sha, exc_info=True)
                raise ToolRefusal(f"cannot write the files of commit {sha} of {where}") from None
            log.info(
                "mcp: wrote %d files of %s at %s (%d links, %d too large, %d bad paths left out)",
                len(chosen.blobs),
                where,
                sha,
                chosen.links,
                chosen.too_large,
                chosen.bad_paths,
            )
            await asyncio.to_thread(shutil.rmtree, bare)
            # another process may have written it meanwhile: the same commit, the same files
            with contextlib.suppress(OSError):
                await asyncio.to_thread(os.rename, work, self.folder / key)
        finally:
            await asyncio.to_thread(shutil.rmtree, work, True)
        await asyncio.to_thread(self._evict, key)

    def _evict(self, kept: str) -> None:
        """The least recently used trees beyond `keep`, and work folders left by a crash."""
        trees: list[tuple[float, Path]] = []
        for entry in os.scandir(self.folder):
            try:
                age = time.time() - entry.stat(follow_symlinks=False).st_mtime
            except FileNotFoundError:
                continue  # removed by another web process meanwhile
            if entry.name.startswith("."):
                if age > 2 * FETCH_SECONDS:
                    shutil.rmtree(entry.path, ignore_errors=True)
            elif entry.name != kept:
                trees.append((age, Path(entry.path)))
        trees.sort()
        for _age, path in trees[max(0, self.keep - 1) :]:
            shutil.rmtree(path, ignore_errors=True)


async def _fetch_within(bare: Path, remote: GitRemote, sha: str) -> bool:
    """Fetch `sha` into `bare`, measuring what is on disk every WATCH_SECONDS: False, git
    stopped and nothing more written, once it is past MAX_FETCHED_BYTES (a commit of many
    gigabytes would fill the disk before it ended). The fetch's pack is also under that
    file size limit, which stops git at once, between two looks."""
    fetching = asyncio.create_task(
        git.fetch_commit(bare, remote, sha, time_limit=FETCH_SECONDS, max_bytes=MAX_FETCHED_BYTES)
    )
    try:
        while True:
            done, _ = await asyncio.wait({fetching}, timeout=WATCH_SECONDS)
            if done:
                try:
                    await fetching
                except git.TransferTooLarge:
                    return False  # its one pack passed the limit: the kernel stopped git
                return True
            if await asyncio.to_thread(_folder_bytes, bare) > MAX_FETCHED_BYTES:
                return False
    finally:
        if not fetching.done():
            fetching.cancel()  # run_git kills git's process group
            with contextlib.suppress(asyncio.CancelledError):
                await fetching


def _select_listed(bare: Path, sha: str, env: dict[str, str]) -> Selection:
    """`select_files` over `git ls-tree -r -l -z` of `sha`, read as git writes it: a tree
    beyond the limits is refused after MAX_ENTRIES entries (git is stopped then), never
    held whole in memory. `GitError` when git fails or outlasts LISTING_SECONDS."""
    with contextlib.closing(iter_listed_tree(bare, sha, env, LISTING_SECONDS)) as entries:
        return select_files(entries)


async def _require_branch_tip(remote: GitRemote, sha: str, where: str) -> None:
    """A forge serves any commit it holds by its id, on GitHub also those of every fork of
    the repository (private ones too): a commit asked for by id must be the tip of one of
    the repository's own branches (or one AgentOps checked out there, see the caller)."""
    listed = await git.run_git(
        ["ls-remote", "--heads", remote.url], remote=remote, time_limit=LIST_SECONDS
    )
    if sha not in {line.split("\t", 1)[0] for line in listed.splitlines()}:
        raise ToolRefusal(
            f"commit {sha} is neither the tip of a branch of {where} nor a commit AgentOps "
            "checked out there"
        )


def _digest(repository: str) -> str:
    return hashlib.sha256(repository.lower().encode()).hexdigest()[:16]


def _folder_bytes(folder: Path) -> int:
    return sum(
        (Path(top) / name).lstat().st_size
        for top, _dirs, files in os.walk(folder)
        for name in files
    )
