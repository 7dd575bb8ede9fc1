"""EventStreamResponse on a real event loop, with ASGI callables standing in for the server."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from vidsync.api.sse import EventStreamResponse
from vidsync.models import ProgressEvent, Step
from vidsync.progress.tracker import ProgressTracker


def ev(progress: int) -> ProgressEvent:
    return ProgressEvent(project_id="p", step=Step.BROWSING, step_number=3, progress=progress,
                         message="m", timestamp=0.0, snapshot_id="s")


async def never_disconnects() -> dict[str, Any]:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


@pytest.mark.anyio
async def test_a_client_that_stops_reading_is_dropped_after_the_send_timeout() -> None:
    tracker = ProgressTracker()
    tracker.attach_loop(asyncio.get_running_loop())
    sub = tracker.subscribe("p")
    sent: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body" and b"data:" in message["body"]:
            await asyncio.Event().wait()  # the socket buffer is full, forever
        sent.append(message.get("body", b""))

    response = EventStreamResponse(sub, heartbeat=60, retry_ms=1000, send_timeout=0.3)
    task = asyncio.create_task(response({"type": "http"}, never_disconnects, send))
    tracker.publish(ev(10))
    async with asyncio.timeout(10):  # the stream ends by itself, well before
        await task
    assert sub.ended
    assert tracker.subscriber_count == 0


@pytest.mark.anyio
async def test_an_idle_stream_sends_a_ping_every_heartbeat() -> None:
    tracker = ProgressTracker()
    tracker.attach_loop(asyncio.get_running_loop())
    sub = tracker.subscribe("p")
    pings = asyncio.Queue[float]()
    loop = asyncio.get_running_loop()

    async def send(message: dict[str, Any]) -> None:
        if message.get("body") == b": ping\n\n":
            pings.put_nowait(loop.time())

    response = EventStreamResponse(sub, heartbeat=0.2, retry_ms=1000)
    task = asyncio.create_task(response({"type": "http"}, never_disconnects, send))
    try:
        async with asyncio.timeout(10):
            times = [await pings.get() for _ in range(3)]
        tracker.publish(ev(10))  # an event in between: the next ping waits a full beat again
        async with asyncio.timeout(10):
            times.append(await pings.get())
    finally:
        task.cancel()
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(g >= 0.15 for g in gaps), gaps
