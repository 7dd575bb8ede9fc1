"""The Redis Streams bus (``VIDSYNC_PROGRESS_BUS=redis://host:port/db``).

Every event of this agent is XADDed to its project's stream
(``vidsync:project:{projectId}``, stream id ``0-{id}``) and to the agent-wide
stream (``vidsync:agent:{name}``, stream id ``0-{globalId}``). The ids are the
SSE ids, issued by the SQLite journal, so a Redis restarted empty never
brings an id back. Each stream keeps at most ``maxlen`` entries and expires
``retention`` seconds after its last event.

Per process, three connections at most: a writer (events and heartbeats, in
pipelines), a reader (one XREAD BLOCK over the agent-wide streams of every
other agent) and nothing per SSE client. Other agents' events go into the
local tracker, which shows them on the all-projects stream.

When Redis is down the agent goes on: its own clients are served by the local
tracker, events wait in a bounded queue (``max_pending``; the oldest are
dropped beyond it, which costs the team view nothing since every event
carries the whole state) and go out when Redis is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError
from redis.retry import Retry

from vidsync.models import ProgressEvent
from vidsync.progress.team import AgentInfo, running_summary
from vidsync.progress.tracker import ProgressTracker

log = logging.getLogger(__name__)

REGISTRY = "vidsync:agents"
_ALREADY_THERE = "equal or smaller"  # XADD of an id a retried pipeline had written


def project_stream(project_id: str) -> str:
    return f"vidsync:project:{project_id}"


def agent_stream(name: str) -> str:
    return f"vidsync:agent:{name}"


class RedisBus:
    def __init__(
        self,
        url: str,
        tracker: ProgressTracker,
        *,
        name: str,
        agent_url: str,
        clock: Callable[[], float],
        retention: float,
        heartbeat: float = 2.0,
        maxlen: int = 1000,
        max_pending: int = 10_000,
    ) -> None:
        self.url = url
        self.name = name
        self.agent_url = agent_url
        self._tracker = tracker
        self._time = clock
        self._ttl = max(60, int(retention))
        self._heartbeat = heartbeat
        self._maxlen = maxlen
        self._max_pending = max_pending
        self._pending: deque[ProgressEvent] = deque()
        self.dropped = 0
        self._wake = asyncio.Event()
        self._closing = False
        self._down: set[str] = set()
        self._ever_ok = False
        self._others: dict[str, AgentInfo] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._writer = self._client(socket_timeout=3.0)
        self._reader = self._client(socket_timeout=5.0)  # > the 1 s XREAD BLOCK

    def _client(self, socket_timeout: float) -> aioredis.Redis:
        # No retries inside redis-py: the loops here retry, and say the bus is down.
        return aioredis.Redis.from_url(
            self.url,
            decode_responses=True,
            socket_connect_timeout=1.0,
            socket_timeout=socket_timeout,
            retry=Retry(NoBackoff(), 0),
        )

    # -- status ----------------------------------------------------------------

    @property
    def status(self) -> str | None:
        if self._down:
            return "down"
        return "ok" if self._ever_ok else "starting"

    def _ok(self, part: str) -> None:
        if part in self._down:
            self._down.discard(part)
            if not self._down:
                log.warning("progress bus: Redis is back (%s)", self.url)
        self._ever_ok = True

    def _failed(self, part: str, exc: BaseException) -> None:
        if not self._down:
            log.warning("progress bus: Redis unreachable (%s): %s", self.url, exc)
        self._down.add(part)

    # -- life ------------------------------------------------------------------

    async def start(self) -> None:
        self._tracker.set_forward(self.forward)
        self._tasks = [
            asyncio.create_task(self._write_loop(), name="bus-writer"),
            asyncio.create_task(self._read_loop(), name="bus-reader"),
            asyncio.create_task(self._heartbeat_loop(), name="bus-heartbeat"),
        ]

    async def stop(self, flush_timeout: float = 2.0) -> None:
        """Send what is queued (for at most ``flush_timeout`` s), leave the team, close."""
        self._tracker.set_forward(None)
        self._closing = True
        self._wake.set()
        writer, *others = self._tasks
        for task in others:
            task.cancel()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(writer), flush_timeout)
        writer.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            async with asyncio.timeout(1.0):
                await self._writer.hdel(REGISTRY, self.name)
        await self._writer.aclose()
        await self._reader.aclose()

    # -- writing ---------------------------------------------------------------

    def forward(self, events: list[ProgressEvent]) -> None:
        """Queue this agent's events for Redis (on the loop; never waits)."""
        self._pending.extend(events)
        while len(self._pending) > self._max_pending:
            self._pending.popleft()
            self.dropped += 1
        self._wake.set()

    async def _write_loop(self) -> None:
        delay = 0.2
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = [self._pending.popleft() for _ in range(min(len(self._pending), 500))]
            try:
                await self._write(batch)
            except (RedisError, OSError, TimeoutError) as exc:
                self._pending.extendleft(reversed(batch))
                self._failed("writer", exc)
                if self._closing:
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            else:
                self._ok("writer")
                delay = 0.2

    async def _write(self, batch: list[ProgressEvent]) -> None:
        pipe = self._writer.pipeline(transaction=False)
        mine = agent_stream(self.name)
        for event in batch:
            fields: dict[Any, Any] = {"e": event.json_text()}
            key = project_stream(event.project_id)
            pipe.xadd(key, fields, id=f"0-{event.id}", maxlen=self._maxlen, approximate=True)
            pipe.expire(key, self._ttl)
            pipe.xadd(mine, fields, id=f"0-{event.global_id}", maxlen=self._maxlen,
                      approximate=True)
        pipe.expire(mine, self._ttl)
        for result in await pipe.execute(raise_on_error=False):
            if isinstance(result, ResponseError) and _ALREADY_THERE in str(result):
                continue
            if isinstance(result, BaseException):
                raise result

    # -- reading other agents ----------------------------------------------------

    async def _read_loop(self) -> None:
        last: dict[str, str] = {}
        delay = 0.2
        while True:
            keys = [agent_stream(name) for name in self._others]
            if not keys:
                await asyncio.sleep(min(self._heartbeat, 0.5))
                continue
            try:
                for key in keys:
                    if key not in last:
                        last[key] = await self._seed(key)
                answer: Any = await self._reader.xread({k: last[k] for k in keys}, count=1000,
                                                  block=1000)
            except (RedisError, OSError, TimeoutError) as exc:
                self._failed("reader", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            self._ok("reader")
            delay = 0.2
            for key, entries in answer or []:
                for entry_id, fields in entries:
                    self._ingest(fields)
                    last[key] = entry_id

    async def _seed(self, key: str) -> str:
        """The latest events of an agent we just met (its running snapshots); returns
        the id to read on from (never ``$``: nothing between is lost)."""
        entries: Any = await self._reader.xrevrange(key, count=200)
        for _, fields in reversed(entries):
            self._ingest(fields)
        return str(entries[0][0]) if entries else "0-0"

    def _ingest(self, fields: Any) -> None:
        try:
            event = ProgressEvent.from_json(json.loads(fields["e"]))
        except (KeyError, ValueError, TypeError):
            log.warning("progress bus: skipped a malformed entry")
            return
        self._tracker.ingest(event)

    # -- the team registry -------------------------------------------------------

    async def _heartbeat_loop(self) -> None:
        while True:
            try:
                await self._beat()
            except (RedisError, OSError, TimeoutError) as exc:
                self._failed("heartbeat", exc)
            else:
                self._ok("heartbeat")
            await asyncio.sleep(self._heartbeat)

    async def _beat(self) -> None:
        now = self._time()
        me = {"name": self.name, "url": self.agent_url, "time": now,
              "running": running_summary(self._tracker)}
        pipe = self._writer.pipeline(transaction=False)
        pipe.hset(REGISTRY, self.name, json.dumps(me))
        pipe.hgetall(REGISTRY)
        _, registry = await pipe.execute()
        others: dict[str, AgentInfo] = {}
        for name, raw in registry.items():
            if name == self.name:
                continue
            try:
                data = json.loads(raw)
                info = AgentInfo.from_json(data, float(data["time"]))
            except (ValueError, KeyError, TypeError):
                continue
            if now - info.last_heartbeat > self._ttl:  # long gone: forget it
                await self._writer.hdel(REGISTRY, name)
                continue
            others[name] = info
        self._others = others

    def agents(self) -> list[AgentInfo]:
        now = self._time()
        me = AgentInfo(self.name, self.agent_url, now, running_summary(self._tracker),
                       this=True)
        listed = [me]
        for info in sorted(self._others.values(), key=lambda i: i.name):
            info.alive = now - info.last_heartbeat <= 3 * self._heartbeat
            listed.append(info)
        return listed
