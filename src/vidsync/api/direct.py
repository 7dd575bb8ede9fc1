"""The fan-out's fast path: an SSE frame written straight to the connection.

Through ASGI every frame is a ``send`` coroutine that passes each middleware on
its way out, and it first has to wake the stream's task. With a thousand
streams that was most of the cost of an event. The agent therefore runs its own
subclass of uvicorn's httptools protocol, which offers each request a
``BodyWriter`` in ``scope["extensions"]``: a synchronous write of one body chunk
that says no (returns False) whenever the ordinary path must take over, because
the client reads slowly, has left, or the response is not chunked. The tracker's
fan-out then writes events to idle streams directly, on the serving loop.

This leans on uvicorn's request cycle (its transport, flow control and chunked
flag), which is why uvicorn is pinned; the SSE tests against a real server
cover the path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

EXTENSION = "vidsync.body_writer"


class BodyWriter:
    """Writes body chunks of one response synchronously, when it safely can."""

    __slots__ = ("_cycle", "on_lost")

    def __init__(self, cycle: RequestResponseCycle) -> None:
        self._cycle = cycle
        # Called (on the loop) when the connection is lost: a stream that has this
        # needs no task of its own waiting for ``http.disconnect``.
        self.on_lost: Callable[[], None] | None = None

    def write(self, body: bytes) -> bool:
        """Write one chunk now; False (nothing written) if ``send`` must do it."""
        cycle = self._cycle
        if (
            cycle.disconnected
            or cycle.response_complete
            or not cycle.response_started
            or not cycle.chunked_encoding
            or cycle.flow.write_paused
        ):
            return False
        cycle.transport.write(b"%x\r\n%b\r\n" % (len(body), body))
        return True


class DirectWriteProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, plus a ``BodyWriter`` for each request."""

    _writer: BodyWriter | None = None  # the current request's

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle: Any = self.cycle
        if cycle is not None and cycle.scope is self.scope:
            writer = self._writer = BodyWriter(cycle)
            self.scope.setdefault("extensions", {})[EXTENSION] = writer

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        writer = self._writer
        if writer is not None and writer.on_lost is not None:
            writer.on_lost()
