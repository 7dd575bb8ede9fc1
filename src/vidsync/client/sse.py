"""Reading an SSE response with a liveness signal for the heartbeat watchdog.

httpx-sse parses the events but, as the SSE spec says, hides comments, and the
agent's heartbeat is a comment (``: ping``). So the response's byte stream is
wrapped: every chunk that arrives, event or ping, counts as a sign of life.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import httpx
from httpx_sse import EventSource, ServerSentEvent


class _ActivityStream(httpx.AsyncByteStream):
    def __init__(self, inner: httpx.AsyncByteStream, on_data: Callable[[], None]) -> None:
        self._inner = inner
        self._on_data = on_data

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._on_data()
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


def is_event_stream(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "").partition(";")[0].strip()
    return content_type == "text/event-stream"


def read_events(
    response: httpx.Response, on_data: Callable[[], None]
) -> AsyncIterator[ServerSentEvent]:
    """The events of ``response``; ``on_data()`` runs whenever bytes arrive."""
    stream = response.stream
    if not isinstance(stream, httpx.AsyncByteStream):
        raise TypeError("an SSE response of an AsyncClient was expected")
    response.stream = _ActivityStream(stream, on_data)
    return EventSource(response).aiter_sse()
