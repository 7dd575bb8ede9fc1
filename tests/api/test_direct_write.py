"""The fan-out's fast path (api/direct.py) on a real uvicorn server and real sockets.

Events written straight to the connection must reach a reading client exactly
as the ordinary path would send them, and a client that stops reading must
move its stream back to the ordinary path (buffered, coalesced) without losing
order or the terminal event.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from support.agent import free_port, wait_until
from vidsync.api import direct
from vidsync.api.server import serving_stack
from vidsync.api.sse import EventStreamResponse
from vidsync.models import ProgressEvent, Step
from vidsync.progress.tracker import ProgressTracker

_ID = re.compile(rb"^id: (\d+)\r?$", re.MULTILINE)
_STEP = re.compile(rb'"step":"(\w+)"')


class Writes:
    """Counts the fast path's answers."""

    def __init__(self) -> None:
        self.done = 0
        self.refused = 0


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> Writes:
    counts = Writes()
    original = direct.BodyWriter.write

    def counting(self: direct.BodyWriter, body: bytes) -> bool:
        ok = original(self, body)
        if ok:
            counts.done += 1
        else:
            counts.refused += 1
        return ok

    monkeypatch.setattr(direct.BodyWriter, "write", counting)
    return counts


class Served:
    loop: asyncio.AbstractEventLoop | None = None


@pytest.fixture
def server() -> Iterator[tuple[int, ProgressTracker]]:
    tracker = ProgressTracker(buffer_size=10)

    async def stream(request: Request) -> EventStreamResponse:
        return EventStreamResponse(tracker.subscribe("p"), heartbeat=60, retry_ms=1000)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tracker.attach_loop(asyncio.get_running_loop())
        Served.loop = asyncio.get_running_loop()
        yield

    app = Starlette(routes=[Route("/stream", stream)], lifespan=lifespan)
    loop, http = serving_stack()
    assert http is direct.DirectWriteProtocol
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, loop=loop, http=http,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    wait_until(lambda: srv.started, timeout=20)
    yield port, tracker
    srv.should_exit = True
    thread.join(20)


def event(progress: int, message: str = "m", step: Step = Step.BROWSING) -> ProgressEvent:
    return ProgressEvent(project_id="p", step=step, step_number=3 if step is Step.BROWSING else 6,
                         progress=progress, message=message, timestamp=0.0, snapshot_id="s")


def open_stream(port: int, tracker: ProgressTracker, rcvbuf: int | None = None) -> socket.socket:
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    wait_until(lambda: tracker.subscriber_count == 1)
    return sock


def read_to_end(sock: socket.socket) -> bytes:
    sock.settimeout(30)
    data = b""
    while not data.endswith(b"0\r\n\r\n"):
        chunk = sock.recv(1 << 20)
        assert chunk, "the server closed the stream before its last chunk"
        data += chunk
    return data


def test_a_reading_client_gets_every_event_in_order_through_the_fast_path(
    server: tuple[int, ProgressTracker], writes: Writes
) -> None:
    port, tracker = server
    with open_stream(port, tracker) as sock:
        wait_until(lambda: tracker._subscribers and next(iter(tracker._subscribers)).sink)
        for i in range(1, 200):
            tracker.publish(event(i // 2))
            if i % 20 == 0:  # let the loop fan out between bursts
                wait_until(lambda: not tracker._outbox)
        tracker.publish(event(100, step=Step.COMPLETED))
        data = read_to_end(sock)
    ids = [int(i) for i in _ID.findall(data)]
    assert ids == list(range(1, 201))
    assert _STEP.findall(data)[-1] == b"completed"
    assert writes.done > 0, "no event took the fast path"


def test_a_client_that_stops_reading_falls_back_and_still_gets_order_and_the_end(
    server: tuple[int, ProgressTracker], writes: Writes
) -> None:
    port, tracker = server
    big = "x" * 16_000
    with open_stream(port, tracker, rcvbuf=4096) as sock:
        # Nobody reads: the kernel buffers fill, then uvicorn's write buffer, and
        # the fast path has to say no.
        for i in range(1, 2000):
            tracker.publish(event(i // 20, big))
            # one event per fan-out, so each is a write of its own
            wait_until(lambda: not tracker._outbox, interval=0.001)
            if writes.refused:
                break
        assert writes.refused > 0, "the fast path never said no to a client that stopped reading"
        tracker.publish(event(100, step=Step.COMPLETED))
        data = read_to_end(sock)
    ids = [int(i) for i in _ID.findall(data)]
    assert ids == sorted(set(ids)), "events out of order or twice"
    assert _STEP.findall(data)[-1] == b"completed"
    assert ids[-1] == tracker.last_id("p")


def test_each_stream_is_one_task_and_a_client_that_leaves_is_noticed(
    server: tuple[int, ProgressTracker]
) -> None:
    # With thousands of streams a second task per stream (waiting for
    # http.disconnect) was ~2 KiB each: the server says when the client leaves.
    port, tracker = server
    socks = []
    for _ in range(20):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        socks.append(sock)
    wait_until(lambda: tracker.subscriber_count == 20)

    async def tasks() -> int:
        return len(asyncio.all_tasks())

    assert Served.loop is not None
    running = asyncio.run_coroutine_threadsafe(tasks(), Served.loop).result(10)
    assert running <= 20 + 3, running  # the streams, uvicorn's main task, the lifespan
    for sock in socks:
        sock.close()
    wait_until(lambda: tracker.subscriber_count == 0)
    tracker.publish(event(1))  # nobody left to write to: no error, nothing queued
    wait_until(lambda: not tracker._outbox)
