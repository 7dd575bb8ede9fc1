"""Server-Sent Events: one response class that streams a subscription.

Frames are written by one task only, so they never interleave; a second task
listens for ``http.disconnect`` so a silent stream notices a client that left;
each send has a timeout so a stuck client cannot hold the stream forever.
"""

from __future__ import annotations

import asyncio

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

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
    ) -> None:
        """``agent_wide``: the SSE ids are the agent-wide ``global_id`` (the
        all-projects stream), else the project's own ids."""
        self.subscription = subscription
        self.heartbeat = heartbeat
        self.retry_ms = retry_ms
        self.agent_wide = agent_wide
        self.send_timeout = send_timeout
        self.status_code = 200
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
            async with anyio.create_task_group() as tg:

                async def watch_disconnect() -> None:
                    while True:
                        message = await receive()
                        if message["type"] == "http.disconnect":
                            tg.cancel_scope.cancel()
                            return

                tg.start_soon(watch_disconnect)
                await self._stream(send)
                tg.cancel_scope.cancel()
        except* (OSError, TimeoutError):  # the client went away, or stopped reading
            pass
        finally:
            self.subscription.close()

    async def _send(self, send: Send, body: bytes, more: bool = True) -> None:
        # asyncio's own timeout: one timer, far cheaper than a cancel scope per frame.
        async with asyncio.timeout(self.send_timeout):
            await send({"type": "http.response.body", "body": body, "more_body": more})

    async def _stream(self, send: Send) -> None:
        sub = self.subscription
        await self._send(send, f"retry: {self.retry_ms}\n\n".encode())
        while True:
            event = await sub.next(timeout=self.heartbeat)
            if event is None:
                if sub.ended:
                    break
                await self._send(send, b": ping\n\n")
                continue
            # A reader that fell behind gets all it has in one write, not one per event.
            frames = [event.sse_frame(self.agent_wide)]
            while not sub.ended and (more := sub.get_nowait()) is not None:
                frames.append(more.sse_frame(self.agent_wide))
            await self._send(send, frames[0] if len(frames) == 1 else b"".join(frames))
            if sub.ended:
                break
        await self._send(send, b"", more=False)
