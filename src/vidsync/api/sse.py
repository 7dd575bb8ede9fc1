"""Server-Sent Events: one response class that streams a subscription.

Frames are written by one task only, so they never interleave. A silent stream
notices a client that left from the server (``BodyWriter.on_lost``), or else
from a second task that listens for ``http.disconnect``;
a send that does not complete within ``send_timeout`` ends the stream, so a
stuck client cannot hold it forever.

Heartbeats and the send timeout share one timer per stream, re-armed only when
it fires: with thousands of streams, an event costs no timer at all. And while
the stream's task waits with nothing buffered, the fan-out writes an event
straight to the connection when the server offers a ``BodyWriter``
(``direct.py``): no task wakes up, no middleware runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from vidsync.api.direct import EXTENSION, BodyWriter
from vidsync.models import ProgressEvent
from vidsync.progress.subscription import Subscription

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),
    (b"connection", b"keep-alive"),
]


class EventStreamResponse(Response):
    media_type = "text/event-stream"

    def __init__(
        self,
        subscription: Subscription,
        *,
        heartbeat: float,
        retry_ms: int,
        agent_wide: bool = False,
        send_timeout: float = 30.0,
        on_sent: Callable[[ProgressEvent], None] | None = None,
    ) -> None:
        """``agent_wide``: the SSE ids are the agent-wide ``global_id`` (the
        all-projects stream), else the project's own ids."""
        self.subscription = subscription
        self.heartbeat = heartbeat
        self.retry_ms = retry_ms
        self.agent_wide = agent_wide
        self.send_timeout = send_timeout
        self.on_sent = on_sent
        self.status_code = 200
        self.background = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._scope: anyio.CancelScope | None = None
        self._last_write = 0.0
        self._sending_since: float | None = None
        self._ping_due = False
        self._writer: BodyWriter | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        loop = self._loop = asyncio.get_running_loop()
        writer: BodyWriter | None = scope.get("extensions", {}).get(EXTENSION)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
            self._last_write = loop.time()
            self._timer = loop.call_later(self._period(self.heartbeat), self._tick)
            if writer is not None:
                # The server says when the client leaves: no second task (its
                # memory counts with thousands of streams).
                with anyio.CancelScope() as self._scope:
                    writer.on_lost = self.subscription.close
                    await self._stream(send, writer)
                return
            async with anyio.create_task_group() as tg:
                self._scope = tg.cancel_scope

                async def watch_disconnect() -> None:
                    while True:
                        message = await receive()
                        if message["type"] == "http.disconnect":
                            tg.cancel_scope.cancel()
                            return

                tg.start_soon(watch_disconnect)
                await self._stream(send, writer)
                tg.cancel_scope.cancel()
        except* (OSError, TimeoutError):  # the client went away
            pass
        finally:
            if writer is not None:
                writer.on_lost = None
            if self._timer is not None:
                self._timer.cancel()
            self.subscription.sink = None
            self.subscription.close()

    def _tick(self) -> None:
        """The stream's one timer: end a stuck send, or ask for a heartbeat."""
        loop = self._loop
        assert loop is not None
        now = loop.time()
        since = self._sending_since
        if since is not None:
            if now - since >= self.send_timeout:
                if self._scope is not None:
                    self._scope.cancel()  # the client stopped reading
                return
            self._timer = loop.call_later(since + self.send_timeout - now, self._tick)
            return
        idle = now - self._last_write
        if idle >= self.heartbeat * 0.99:
            self._ping_due = True
            self.subscription.poke()
            idle = 0.0
        self._timer = loop.call_later(self._period(self.heartbeat - idle), self._tick)

    def _period(self, until_heartbeat: float) -> float:
        # Never longer than the send timeout, so a send that sticks is seen in time.
        return min(until_heartbeat, self.send_timeout)

    async def _send(self, send: Send, body: bytes, more: bool = True) -> None:
        loop = self._loop
        assert loop is not None
        self._sending_since = loop.time()
        try:
            await send({"type": "http.response.body", "body": body, "more_body": more})
        finally:
            self._sending_since = None
            self._last_write = loop.time()

    def _write_now(self, events: list[ProgressEvent]) -> bool:
        """The fast path (the subscription's sink): write ``events`` now, or say no."""
        writer = self._writer
        if self._ping_due or writer is None:
            return False
        wide = self.agent_wide
        if len(events) == 1:
            body = events[0].sse_frame(wide)
        else:
            body = b"".join([e.sse_frame(wide) for e in events])
        if not writer.write(body):
            return False
        loop = self._loop
        assert loop is not None
        self._last_write = loop.time()
        on_sent = self.on_sent
        if on_sent is not None:
            for event in events:
                on_sent(event)
        return True

    async def _stream(self, send: Send, writer: BodyWriter | None) -> None:
        sub = self.subscription
        await self._send(send, f"retry: {self.retry_ms}\n\n".encode())
        self._writer = writer
        if writer is not None:
            sub.sink = self._write_now
        while True:
            event = await sub.next()
            if event is None:
                if sub.ended:
                    break
                if self._ping_due:
                    self._ping_due = False
                    await self._send(send, b": ping\n\n")
                continue
            self._ping_due = False
            # A reader that fell behind gets all it has in one write, not one per event.
            batch = [event]
            while not sub.ended and (more := sub.get_nowait()) is not None:
                batch.append(more)
            frames = [e.sse_frame(self.agent_wide) for e in batch]
            await self._send(send, frames[0] if len(frames) == 1 else b"".join(frames))
            if self.on_sent is not None:
                for sent in batch:
                    self.on_sent(sent)
            if sub.ended:
                break
        await self._send(send, b"", more=False)
