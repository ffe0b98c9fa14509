"""A run's log and diff as MCP resources (`agentops://runs/{id}/log`, `…/diff`), and an
update event for both each time the run records an event, while it runs.

Reading a resource of a run that has not ended starts one watcher of that run in this
process (on the run page's event hub); it publishes `ResourceUpdated` to the clients that
listen (`subscriptions/listen` with those URIs) until the run ends or `WATCH_SECONDS`."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Callable

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ResourceUpdated
from mcp.types import INVALID_PARAMS

from app.llm.prompt_safety import fence_untrusted
from app.mcp import run_tools
from app.mcp.errors import ToolRefusal
from app.mcp.gate import principal_in
from app.runpage.hub import CatchUp, RunEventHub
from app.store import DATABASE_ERRORS
from app.store import run_events as event_store
from app.store import steps as step_store
from app.store.runs import Run
from app.web_service import Service

log = logging.getLogger(__name__)
WATCH_SECONDS = 6 * 3600.0  # a watcher's longest life, whatever the run does
MAX_EVENTS = 10_000
_URI = re.compile(r"agentops://runs/(\d{1,18})/(?:log|diff)")


def log_uri(run_id: int) -> str:
    return f"agentops://runs/{run_id}/log"


def diff_uri(run_id: int) -> str:
    return f"agentops://runs/{run_id}/diff"


class RunResources:
    def __init__(self, service: Service, hub: RunEventHub) -> None:
        self.service = service
        self.hub = hub
        self.bus = InMemorySubscriptionBus()
        self._watchers: dict[int, asyncio.Task[None]] = {}
        self._unwatched: list[Callable[[int], None]] = []

    def register(self, server: MCPServer) -> None:
        @server.resource(
            "agentops://runs/{run_id}/log",
            mime_type="text/plain",
            description="a run's events, one a line, oldest first; updated while it runs",
        )
        async def run_log(run_id: str, ctx: Context) -> str:
            run = await self._run(run_id, ctx)
            assert self.service.db is not None
            try:
                async with self.service.db.readers([run.tenant_id]) as rc:
                    events = await event_store.events_after(rc, run.id, 0, MAX_EVENTS)
            except DATABASE_ERRORS:
                raise ResourceError("the database is unreachable: try again") from None
            lines = [
                f"{e.seq} {e.created_at.isoformat()} {e.kind} {e.step or '-'} "
                + json.dumps(e.payload, ensure_ascii=False, sort_keys=True)
                for e in events
            ]
            # issue text, model turns, repository content: data for the client's model,
            # never instructions (the same session can start and cancel runs)
            return fence_untrusted(f"run {run.id}'s log", "\n".join(lines))

        @server.resource(
            "agentops://runs/{run_id}/diff",
            mime_type="text/plain",
            description="the change a run made (or the pull request's diff it reviewed), as a"
            " unified diff inside an untrusted-data fence",
        )
        async def run_diff(run_id: str, ctx: Context) -> str:
            run = await self._run(run_id, ctx)
            assert self.service.db is not None
            try:
                async with self.service.db.readers([run.tenant_id]) as rc:
                    steps = await step_store.list_steps(rc.conn, run.id)
            except DATABASE_ERRORS:
                raise ResourceError("the database is unreachable: try again") from None
            diffs = [d for s in steps if isinstance(d := getattr(s.record, "diff", None), str)]
            if not diffs:
                raise ResourceError(f"run {run.id} has no diff (yet)")
            return fence_untrusted(f"run {run.id}'s diff", diffs[-1])

    def when_unwatched(self, listener: Callable[[int], None]) -> None:
        """Call `listener(run_id)` when a run's watcher stops (the run ended, or the
        watcher's time ran out): no more updates come for its resources."""
        self._unwatched.append(listener)

    async def watch_uri(self, uri: str) -> bool:
        """For `resources/subscribe`: follow the run `uri` names, if it still runs
        (False: it has ended, no update will come)."""
        found = _URI.fullmatch(uri)
        if found is None:
            raise MCPError(code=INVALID_PARAMS, message=f"no such resource: {uri}")
        try:
            run = await run_tools.find_run(self.service, int(found.group(1)))
        except ToolRefusal as exc:
            raise MCPError(code=INVALID_PARAMS, message=str(exc)) from None
        if run.finished:
            return False
        self._watch(run)
        return True

    async def _run(self, raw: str, ctx: Context) -> Run:
        if principal_in(getattr(ctx.request_context.request, "scope", {})) is None:
            raise ResourceError("no bearer token: send Authorization: Bearer <token>")
        if not raw.isdigit() or len(raw) > 18:
            raise ResourceError("the run id must be a whole number")
        try:
            run = await run_tools.find_run(self.service, int(raw))
        except ToolRefusal as exc:
            raise ResourceError(str(exc)) from None
        if not run.finished:
            self._watch(run)
        return run

    def _watch(self, run: Run) -> None:
        if run.id in self._watchers and not self._watchers[run.id].done():
            return
        task = asyncio.create_task(self._follow(run), name=f"mcp-watch-run-{run.id}")
        self._watchers[run.id] = task
        task.add_done_callback(lambda _t: self._watchers.pop(run.id, None))

    async def _follow(self, run: Run) -> None:
        deadline = time.monotonic() + WATCH_SECONDS
        try:
            async with self.hub.subscribe(run.id, run.tenant_id) as sub:
                while time.monotonic() < deadline:
                    try:
                        item = await asyncio.wait_for(sub.queue.get(), 30)
                    except TimeoutError:
                        if await self._ended(run.id):
                            return
                        continue
                    await self.bus.publish(ResourceUpdated(uri=log_uri(run.id)))
                    await self.bus.publish(ResourceUpdated(uri=diff_uri(run.id)))
                    if not isinstance(item, CatchUp) and item.kind == "run_ended":
                        return
        except Exception:
            log.exception("run %s: watching its events for MCP clients failed", run.id)
        finally:
            for listener in self._unwatched:
                listener(run.id)

    async def _ended(self, run_id: int) -> bool:
        try:
            return (await run_tools.find_run(self.service, run_id)).finished
        except ToolRefusal:
            return True

    async def close(self) -> None:
        for task in list(self._watchers.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
