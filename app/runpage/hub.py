"""Fan-out of run events inside one web process.

The worker appends an event and PostgreSQL tells every listening session at commit
(`NOTIFY agentops_run_events, '<run>:<seq>'`, migration 0015). Each web process holds one
listening connection; on a notification for a run someone here watches, the hub reads the
new events once (read-only, under row-level security for the run's tenant) and hands them
to every subscriber of that run. Why PostgreSQL and not Redis pub/sub: the notification is
part of the appending transaction, sent only if it commits and after its row is visible,
in commit order, so there is no event without its row and no "published but not stored"
window to reconcile, and no second service on the path (Redis stays the queue).

A notification can still be missed (the listening connection drops and is opened again):
subscribers are then told to catch up from the database, and they also catch up on their
own every `IDLE_CATCH_UP` seconds of silence, so no event is lost for long. Subscribers
deduplicate by sequence number; the stream (routes.py) fills any gap from the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import asyncpg

from app.runpage.stream_quota import StreamQuota
from app.store import DATABASE_ERRORS, Database
from app.store import run_events as event_store
from app.store.run_events import RunEvent

log = logging.getLogger(__name__)

QUEUE_SIZE = 512  # events waiting for one slow viewer before it reads from the database
RECONNECT_SECONDS = 2.0
LISTENER_NAME = "agentops-run-events"  # the listening session's application_name


class CatchUp:
    """Read from the database what came after the last event sent (a notification may
    have been missed, or the viewer fell behind)."""


CATCH_UP = CatchUp()


@dataclass(eq=False)
class Subscription:
    run_id: int
    queue: asyncio.Queue[RunEvent | CatchUp] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE)
    )

    def offer(self, item: RunEvent | CatchUp) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:  # a slow reader: it reads the rest from the database
            with contextlib.suppress(asyncio.QueueEmpty):
                while True:
                    self.queue.get_nowait()
            self.queue.put_nowait(CATCH_UP)


@dataclass(eq=False)
class _Channel:
    tenant_id: int
    subscribers: set[Subscription] = field(default_factory=set)
    last_seq: int | None = None  # the last event read for this run here
    wanted: int = 0  # the highest seq notified
    reading: asyncio.Task[None] | None = None


def _setter(event: asyncio.Event) -> Callable[[object], None]:
    return lambda _conn: event.set()


class RunEventHub:
    def __init__(self, dsn: str, database: Callable[[], Database | None]) -> None:
        self._dsn = dsn
        self._database = database
        self._channels: dict[int, _Channel] = {}
        self._listener: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._closed = False
        self.quota = StreamQuota()  # open streams per person, on this process

    @contextlib.asynccontextmanager
    async def subscribe(self, run_id: int, tenant_id: int) -> AsyncIterator[Subscription]:
        """Events of `run_id` appended from now on, while the block runs."""
        self._start()
        sub = Subscription(run_id)
        channel = self._channels.setdefault(run_id, _Channel(tenant_id))
        channel.subscribers.add(sub)
        try:
            # listening before the caller reads the history: nothing falls in between
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._connected.wait(), 5)
            yield sub
        finally:
            channel.subscribers.discard(sub)
            if not channel.subscribers and self._channels.get(run_id) is channel:
                del self._channels[run_id]
                if channel.reading is not None:
                    channel.reading.cancel()

    @property
    def listening(self) -> bool:
        return self._connected.is_set()

    def subscribers(self) -> int:
        return sum(len(c.subscribers) for c in self._channels.values())

    def _start(self) -> None:
        if self._listener is None and not self._closed:
            self._listener = asyncio.create_task(self._listen(), name="run-events-listener")

    async def _listen(self) -> None:
        """One LISTEN connection, opened again whenever it is lost."""
        while not self._closed:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(
                    self._dsn,
                    timeout=5,
                    server_settings={"application_name": LISTENER_NAME},
                )
                lost = asyncio.Event()
                conn.add_termination_listener(_setter(lost))
                await event_store.listen_run_events(conn, self._heard)
                self._connected.set()
                self._catch_up_all()  # what was appended while no one listened
                await lost.wait()
                log.warning("run events: the listening connection was lost; opening another")
            except asyncio.CancelledError:
                raise
            except (*DATABASE_ERRORS, asyncpg.InterfaceError) as exc:
                log.warning("run events: cannot listen: %s", exc)
            finally:
                self._connected.clear()
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(*DATABASE_ERRORS):
                        await conn.close(timeout=2)
            self._catch_up_all()
            await asyncio.sleep(RECONNECT_SECONDS)

    def _catch_up_all(self) -> None:
        for channel in self._channels.values():
            for sub in channel.subscribers:
                sub.offer(CATCH_UP)

    def _heard(self, run_id: int, seq: int) -> None:
        channel = self._channels.get(run_id)
        if channel is None:
            return
        channel.wanted = max(channel.wanted, seq)
        if channel.reading is None or channel.reading.done():
            channel.reading = asyncio.create_task(self._read(run_id, channel))

    async def _read(self, run_id: int, channel: _Channel) -> None:
        """Read the run's new events once, for all its subscribers here."""
        while channel.subscribers and (channel.last_seq or 0) < channel.wanted:
            after = channel.last_seq if channel.last_seq is not None else channel.wanted - 1
            database = self._database()
            if database is None:
                return
            try:
                async with database.readers([channel.tenant_id]) as rc:
                    events = await event_store.events_after(rc, run_id, after, 500)
            except DATABASE_ERRORS as exc:
                log.warning("run %s: new events not read: %s", run_id, exc)
                for sub in channel.subscribers:
                    sub.offer(CATCH_UP)
                return
            if not events:
                return
            for event in events:
                for sub in channel.subscribers:
                    sub.offer(event)
            channel.last_seq = events[-1].seq

    async def close(self) -> None:
        self._closed = True
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        for channel in self._channels.values():
            if channel.reading is not None:
                channel.reading.cancel()
