"""Reading SSE streams in tests, with deadlines."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_sse import EventSource


@dataclass
class StreamResult:
    status: int
    headers: httpx.Headers
    events: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    retry: int | None = None

    @property
    def ids(self) -> list[int]:
        return [i for i, _ in self.events]

    @property
    def steps(self) -> list[int]:
        return [e["stepNumber"] for _, e in self.events]


def read_stream(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    max_events: int | None = None,
    timeout: float = 30.0,
    opened: threading.Event | None = None,
    stop: Callable[[dict[str, Any]], bool] | None = None,
) -> StreamResult:
    """Read events until the server ends the stream or ``max_events`` arrived.

    ``opened`` is set once the response has started (the server has subscribed).
    After ``timeout`` seconds in all the stream is cut and what arrived is returned
    (heartbeats would otherwise keep a read timeout from ever firing).
    """
    with (
        httpx.Client(timeout=httpx.Timeout(timeout)) as client,
        client.stream("GET", url, headers=headers, params=params) as response,
    ):
        result = StreamResult(response.status_code, response.headers)
        if opened is not None:
            opened.set()
        if response.status_code != 200:
            response.read()
            return result
        watchdog = threading.Timer(timeout, response.close)
        watchdog.start()
        try:
            for sse in EventSource(response).iter_sse():
                if sse.retry is not None:
                    result.retry = sse.retry
                if not sse.data:
                    continue
                # Another agent's event has no id of this stream (0 here).
                data = json.loads(sse.data)
                result.events.append((int(sse.id) if sse.id else 0, data))
                if max_events is not None and len(result.events) >= max_events:
                    break
                if stop is not None and stop(data):
                    break
        except (httpx.StreamClosed, httpx.ReadError, httpx.RemoteProtocolError):
            if watchdog.is_alive():  # not our own cut: a real error
                raise
        finally:
            watchdog.cancel()
        return result
