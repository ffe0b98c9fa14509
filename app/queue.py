"""The ARQ queue: enqueueing runs (and label checks) under job ids derived from their
ids, and aborting runs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import (
    abort_jobs_ss,
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
)
from arq.jobs import Job, serialize_job
from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

RUN_WORKFLOW = "run_workflow"
CHECK_LABELS = "check_labels"


# Whatever a Redis call raises when Redis is away, hung or refusing: the one list the
# rest of the service catches (this module is the one that imports redis).
REDIS_ERRORS: tuple[type[Exception], ...] = (RedisError, OSError, TimeoutError)
ENQUEUE_SECONDS = 1.0  # then the run waits for the sweep, which enqueues what was not


# ARQ's enqueue_job for many jobs in one round trip: each job is written (and queued)
# unless a job or a result of its id is already there, as ARQ does for one job. With
# ARGV[5] = "1" (the sweep's requeue of runs still queued) a result is no reason: a
# job that ended and left its run queued never started it (its worker was stopping), so
# its result, kept an hour, is lifted when no job of that id is there.
_ENQUEUE_MANY = """
local enqueued = {}
for i = 6, #ARGV, 2 do
  local job_key = ARGV[3] .. ARGV[i]
  if ARGV[5] == '1' and redis.call('EXISTS', job_key) == 0 then
    redis.call('DEL', ARGV[4] .. ARGV[i])
  end
  if redis.call('EXISTS', job_key, ARGV[4] .. ARGV[i]) == 0 then
    redis.call('PSETEX', job_key, ARGV[2], ARGV[i + 1])
    redis.call('ZADD', KEYS[1], ARGV[1], ARGV[i])
    enqueued[#enqueued + 1] = ARGV[i]
  end
end
return enqueued
"""


def redis_client(redis_url: str, timeout: float = 2.0) -> Redis:
    """A plain Redis client (text answers) with bounded connect and command times."""
    client: Redis = Redis.from_url(
        redis_url, socket_connect_timeout=timeout, socket_timeout=timeout, decode_responses=True
    )
    return client


def job_id_for_run(queue_name: str, run_id: int) -> str:
    """ARQ keys jobs by id alone (`arq:job:<id>`), so the id names the queue too: two
    deployments (or test sessions) sharing one Redis never shadow each other's runs."""
    return f"{queue_name}:run:{run_id}"


def job_id_for_label_check(queue_name: str, check_id: int) -> str:
    return f"{queue_name}:label-check:{check_id}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def redis_settings(redis_url: str) -> RedisSettings:
    settings = RedisSettings.from_dsn(redis_url)
    settings.conn_timeout = 2
    settings.conn_retries = 0
    return settings


BACKLOG_MAX_AGE = 1.0  # seconds a scrape may show an older read of the backlog


class RunQueue:
    """Connects lazily, so the web process starts (and accepts runs) while Redis is down."""

    def __init__(self, redis_url: str, queue_name: str) -> None:
        self._settings = redis_settings(redis_url)
        self.queue_name = queue_name
        self._pool: ArqRedis | None = None
        self._backlog_lock = asyncio.Lock()
        self._backlog_read: tuple[float, tuple[int, float] | None] | None = None

    async def _redis(self) -> ArqRedis:
        if self._pool is None:
            self._pool = await create_pool(self._settings, default_queue_name=self.queue_name)
        return self._pool

    async def enqueue_run(self, run_id: int, defer_seconds: float | None = None) -> bool:
        """True when the job is in Redis (now or from an earlier enqueue)."""
        return await self.enqueue_runs([run_id], defer_seconds)

    async def enqueue_runs(self, run_ids: list[int], defer_seconds: float | None = None) -> bool:
        """True when every one of the runs' jobs is in Redis (now or from before)."""
        jobs = [(job_id_for_run(self.queue_name, run_id), run_id) for run_id in run_ids]
        return await self._enqueue(RUN_WORKFLOW, jobs, "run", defer_seconds)

    async def requeue_queued_runs(self, run_ids: list[int]) -> list[int] | None:
        """The sweep's enqueue of runs still queued (never started), those whose job is
        not in Redis: as `enqueue_runs`, except that a result of an ended job of the same
        id does not stop it. Such a job began as its worker stopped and handed the run back
        untouched; when that hand-back failed, ARQ's result (kept an hour) would make the
        enqueue a silent no-op. The runs enqueued now, or None when Redis was not reached."""
        jobs = [(job_id_for_run(self.queue_name, run_id), run_id) for run_id in run_ids]
        return await self._enqueue_missing(RUN_WORKFLOW, jobs, "run", lift_results=True)

    async def enqueue_label_check(self, check_id: int) -> bool:
        """True when the label check's job is in Redis (now or from an earlier enqueue)."""
        return await self.enqueue_label_checks([check_id])

    async def enqueue_label_checks(self, check_ids: list[int]) -> bool:
        jobs = [(job_id_for_label_check(self.queue_name, n), n) for n in check_ids]
        return await self._enqueue(CHECK_LABELS, jobs, "label check", None)

    async def requeue_label_checks(self, check_ids: list[int]) -> list[int] | None:
        """The sweep's enqueue of pending label checks whose job is not in Redis: those
        enqueued now, or None when Redis was not reached."""
        jobs = [(job_id_for_label_check(self.queue_name, n), n) for n in check_ids]
        return await self._enqueue_missing(CHECK_LABELS, jobs, "label check")

    async def _enqueue(
        self, function: str, jobs: list[tuple[str, int]], what: str, defer_seconds: float | None
    ) -> bool:
        return await self._enqueue_missing(function, jobs, what, defer_seconds) is not None

    async def _enqueue_missing(
        self,
        function: str,
        jobs: list[tuple[str, int]],
        what: str,
        defer_seconds: float | None = None,
        *,
        lift_results: bool = False,
    ) -> list[int] | None:
        """All `jobs` (job id, the item's id) in one round trip, ARQ's format and keys, each
        unless its job (or its result) is there already; `lift_results`: an ended job's
        result is deleted rather than kept (see `requeue_queued_runs`). The items whose job
        was written, or None when Redis was not reached."""
        if not jobs:
            return []
        now_ms = int(time.time() * 1000)
        score = now_ms + int((defer_seconds or 0) * 1000)
        lift = "1" if lift_results else "0"
        args: list[str | int | bytes] = [score, 0, job_key_prefix, result_key_prefix, lift]
        try:
            # a Redis that hangs (stopped, overloaded) must not hold the webhook's answer
            async with asyncio.timeout(ENQUEUE_SECONDS):
                redis = await self._redis()
                args[1] = score - now_ms + redis.expires_extra_ms
                for job_id, item_id in jobs:
                    args += [job_id, serialize_job(function, (item_id,), {}, None, now_ms)]
                written = await redis.register_script(_ENQUEUE_MANY)(
                    keys=[self.queue_name], args=args
                )
        except (RedisError, OSError, TimeoutError) as exc:
            items = ", ".join(str(item_id) for _, item_id in jobs[:10])
            log.warning(
                "%s %s%s not enqueued, Redis unreachable (%s); the sweep will retry",
                what,
                items,
                " …" if len(jobs) > 10 else "",
                type(exc).__name__,
            )
            await self._reset()
            return None
        item_of = dict(jobs)
        return [item_of[_text(job_id)] for job_id in written]

    async def abort_run(self, run_id: int) -> None:
        """Ask the worker running this run's job to cancel it (best effort)."""
        try:
            redis = await self._redis()
            job = Job(job_id_for_run(self.queue_name, run_id), redis, _queue_name=self.queue_name)
            await job.abort(timeout=0)
        except TimeoutError:
            pass  # abort requested; the worker acts on it on its next poll
        except (RedisError, OSError) as exc:
            log.warning("could not ask the worker to abort run %s: %s", run_id, exc)

    async def release_abandoned(self, run_id: int) -> bool:
        """Let another worker take a run whose worker died mid-job or whose job ended
        without recording the run's end (the database was down on its last try).

        ARQ keeps a dead worker's job locked (`arq:in-progress:<id>`) until the job
        timeout passes, and an ended job's result (`arq:result:<id>`) for an hour, which
        makes a new job of that id a silent no-op; the run's stopped heartbeat is proof
        enough to lift both. True once the job is checked to be in the queue; otherwise
        the reason is logged and the next sweep tries again.
        """
        job_id = job_id_for_run(self.queue_name, run_id)
        return await self._requeue(
            run_id,
            always=(f"arq:in-progress:{job_id}", f"arq:result:{job_id}"),
            if_absent=(f"arq:job:{job_id}", f"arq:retry:{job_id}"),
            unabort=True,
        )

    async def hand_back(self, run_id: int, job_try: int) -> bool:
        """Put back in the queue the job of a run that its stopping worker handed over,
        once ARQ has ended that job (its result, kept an hour, would make a new job of the
        id a no-op); the new job goes on as try `job_try`. True once the job is checked
        to be in the queue (a job left in it, as a cancelled one is, stays as it is)."""
        job_id = job_id_for_run(self.queue_name, run_id)
        return await self._requeue(
            run_id, if_absent=(f"arq:result:{job_id}", f"arq:job:{job_id}"), job_try=job_try
        )

    async def _requeue(
        self,
        run_id: int,
        *,
        always: tuple[str, ...] = (),
        if_absent: tuple[str, ...] = (),
        job_try: int | None = None,
        unabort: bool = False,
    ) -> bool:
        """The run's job back in the queue: `always` deleted first, `if_absent` deleted and
        the job enqueued again when it is not in the queue. True once it is checked there.
        `unabort`: an abort asked of the dead job is withdrawn, so that the new job runs
        (and closes a run whose cancel was asked as cancelled) instead of ARQ dropping it
        unstarted."""
        job_id = job_id_for_run(self.queue_name, run_id)
        try:
            redis = await self._redis()
            if always:
                await redis.delete(*always)
            if unabort:
                await redis.zrem(abort_jobs_ss, job_id)
            if await redis.zscore(self.queue_name, job_id) is None:
                await redis.delete(*if_absent)
                await redis.enqueue_job(RUN_WORKFLOW, run_id, _job_id=job_id, _job_try=job_try)
            queued = await redis.zscore(self.queue_name, job_id) is not None
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("could not hand over run %s, Redis unreachable: %s", run_id, exc)
            await self._reset()
            return False
        if not queued:
            log.warning("could not hand over run %s: its job is not in the queue", run_id)
        return queued

    async def backlog(self, sample: int = 1000) -> tuple[int, float] | None:
        """The jobs due now and not yet taken by a worker, and how long the oldest of them
        has been due (seconds); None while Redis is unreachable. ARQ keeps a job in the
        queue while a worker runs it (`arq:in-progress:<id>`): those are told apart among
        the oldest `sample` due jobs, where workers take them from, so the cost is bounded.
        """
        try:
            async with asyncio.timeout(ENQUEUE_SECONDS):
                redis = await self._redis()
                now_ms = int(time.time() * 1000)
                due = await redis.zcount(self.queue_name, "-inf", now_ms)
                oldest = await redis.zrangebyscore(
                    self.queue_name, "-inf", now_ms, start=0, num=sample, withscores=True
                )
                taken = (
                    await redis.mget(
                        [in_progress_key_prefix + _text(job_id) for job_id, _ in oldest]
                    )
                    if oldest
                    else []
                )
        except (RedisError, OSError, TimeoutError):
            await self._reset()
            return None
        waiting = [score for (_, score), busy in zip(oldest, taken, strict=True) if busy is None]
        depth = max(0, due - (len(oldest) - len(waiting)))
        age = max(0.0, (now_ms - waiting[0]) / 1000) if waiting else 0.0
        return depth, age

    async def recent_backlog(self, max_age: float = BACKLOG_MAX_AGE) -> tuple[int, float] | None:
        """`backlog()` as read at most `max_age` seconds ago: what a scrape of `/metrics`
        shows, so that scrapes (however many, however often) cost Redis one read a second.
        Concurrent callers share one read."""
        async with self._backlog_lock:
            read = self._backlog_read
            if read is not None and time.monotonic() - read[0] < max_age:
                return read[1]
            backlog = await self.backlog()
            self._backlog_read = (time.monotonic(), backlog)
            return backlog

    async def ping(self) -> bool:
        try:
            redis = await self._redis()
            return bool(await redis.ping())
        except (RedisError, OSError, TimeoutError):
            await self._reset()
            return False

    async def _reset(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            with contextlib.suppress(RedisError, OSError):
                await pool.aclose()

    async def close(self) -> None:
        await self._reset()
